//! Sending a files session's output while its next piece is produced:
//! one loop for both files drivers (the native dialect's and the seeds').
//!
//! Producing output is the only place a session reads files (through
//! [`HostStore`]), so it runs on a blocking thread, and the piece before
//! it is written to the socket meanwhile: a get costs about
//! max(disk + hash, network) instead of their sum, and a slow client
//! holds a buffer, never a thread while it does not read.

use anyhow::bail;
use wirekit_core::session::files;

use super::async_conn::AsyncConn;
use super::host_store::HostStore;

/// A session whose output the pipeline sends.
pub(super) trait Output: Send + 'static {
    /// Whether the session has output to give now.
    fn output_pending(&self) -> bool;
    /// The server is stopping: the session ends what it sends at its
    /// next clean point (a segmented get at a segment boundary).
    fn stop_soon(&mut self);
    /// Fills `buf` with the next output at `now` (ms since the
    /// connection's epoch); `Ok(0)` when there is none.
    fn produce(
        &mut self,
        now: u64,
        store: &mut HostStore,
        buf: &mut [u8],
    ) -> Result<usize, files::Error>;
}

/// The parts of a connection the pipeline lends to its blocking thread.
pub(super) struct Parts<'a, S> {
    /// The session (`None` only while lent out, or once lost).
    pub session: &'a mut Option<S>,
    /// Its store (likewise).
    pub store: &'a mut Option<HostStore>,
    /// Output buffer size for the current reply.
    pub out: usize,
    /// Set once the session has been told the server stops.
    pub stopping: &'a mut bool,
}

/// Writes the session's output until it has none for now, each next
/// piece produced on a blocking thread while the last one is sent;
/// `now` gives the time of each piece.
pub(super) async fn write_output<S: Output>(
    parts: Parts<'_, S>,
    conn: &mut AsyncConn,
    now: impl Fn() -> u64,
) -> anyhow::Result<()> {
    let Parts {
        session,
        store,
        out,
        stopping,
    } = parts;
    let mut ready: Option<Vec<u8>> = None;
    let mut spare: Vec<u8> = Vec::new();
    loop {
        let Some(s) = session.as_mut() else {
            bail!("files session lost")
        };
        if conn.shutdown.is_cancelled() && !*stopping {
            *stopping = true;
            s.stop_soon();
        }
        if ready.is_none() && !s.output_pending() {
            return Ok(());
        }
        let (Some(mut s), Some(mut st)) = (session.take(), store.take()) else {
            bail!("files store lost")
        };
        let mut buf = std::mem::take(&mut spare);
        buf.resize(out, 0);
        let at = now();
        let job = tokio::task::spawn_blocking(move || {
            let r = s.produce(at, &mut st, &mut buf);
            (s, st, buf, r)
        });
        if let Some(b) = ready.take() {
            conn.send(&b).await?;
            spare = b;
        }
        let (s, st, mut buf, r) = job.await?;
        *session = Some(s);
        *store = Some(st);
        let n = r.map_err(|e| anyhow::anyhow!("{e}"))?;
        if n == 0 {
            return Ok(());
        }
        buf.truncate(n);
        ready = Some(buf);
    }
}
