//! The native files server: a tokio driver of the core's session
//! (`wirekit_core::session::files`, the same code the board runs). The
//! session decides every byte on the wire; this driver moves them, and
//! does what the session asks through its events: nonces and the
//! per-address throttle of the token exchange, the partial file of an
//! upload (`serve_put`).
//!
//! Waiting on the client is async. The session's output, the only place
//! it reads files ([`HostStore`]), runs on a blocking thread while the
//! previous output is being written to the socket, so a get costs about
//! max(disk + hash, network) and a slow client holds no thread.

use std::sync::Arc;
use std::time::Instant;

use anyhow::bail;
use wirekit_core::service::auth::NONCE_LEN;
use wirekit_core::service::file::native::{Request, HEADER_CAP};
use wirekit_core::session::files::{self, Event, FilesServer, Full, Uploads, MIN_OUTPUT};

use super::async_conn::AsyncConn;
use super::host_store::{HostStore, Report};
use super::pipeline::{self, Output, Parts};
use super::serve_put::Upload;
use super::Files;
use crate::runtime::throttle::Verdict;

/// The session of one native connection.
type Session = FilesServer<u32, HEADER_CAP, Full>;

/// Output buffer during a get: a segment and its header per blocking step.
const GET_OUT: usize = (1 << 20) + MIN_OUTPUT;
/// Output buffer for other replies (listings stream through it).
const SMALL_OUT: usize = 64 * 1024;

/// What the session asked for, copied out of it (an event borrows it).
enum Todo {
    Nothing,
    Challenge,
    Auth,
    Put,
    Restart,
    Flush,
    End,
    Failed,
    Abandoned,
}

/// One connection: the session, its store, and the upload under way.
struct Driver {
    files: Arc<Files>,
    uploads: Uploads,
    /// `None` while the client idles between requests (see `rest`).
    session: Option<Box<Session>>,
    store: Option<HostStore>,
    up: Option<Upload>,
    report: Report,
    /// Output buffer size for the current reply.
    out: usize,
    stopping: bool,
}

/// A session for a listener with `uploads`.
fn new_session(uploads: Uploads) -> Session {
    // The runtime's idle watch ends silent connections, not the session.
    Session::with_extension(0, u64::MAX, Full::new(uploads))
}

/// Serves requests until the client closes the connection.
pub async fn serve(files: &Arc<Files>, conn: &mut AsyncConn) -> anyhow::Result<()> {
    let uploads = Uploads {
        policy: files.policy(conn.loopback),
        max_size: files.cfg.max_file_size,
    };
    let report = conn.report.clone();
    let mut d = Driver {
        files: Arc::clone(files),
        uploads,
        session: None,
        store: Some(HostStore::new(Arc::clone(files), report.clone())),
        up: None,
        report,
        out: SMALL_OUT,
        stopping: false,
    };
    let r = d.run(conn).await;
    if let Some(up) = d.up.take() {
        // The client went away or broke off: its partial stays for
        // --resume.
        let name = up.name.clone();
        up.keep().await;
        if r.is_err() {
            bail!("client closed during the upload of {name}; partial kept for --resume");
        }
    }
    r
}

impl Driver {
    fn session(&mut self) -> anyhow::Result<&mut Session> {
        self.session
            .as_deref_mut()
            .ok_or_else(|| anyhow::anyhow!("files session lost"))
    }

    /// The session, made afresh if it was let go while the client idled.
    fn wake(&mut self) -> &mut Session {
        let uploads = self.uploads;
        self.session
            .get_or_insert_with(|| Box::new(new_session(uploads)))
    }

    /// Between requests, a session that holds nothing of the client's is
    /// dropped with the store's open file: an idle connection then holds
    /// neither its ~7.5 KiB nor a descriptor.
    fn rest(&mut self) {
        if self.session.as_deref().is_some_and(|s| s.is_resting()) && self.up.is_none() {
            self.session = None;
            if let Some(st) = &mut self.store {
                st.rest();
            }
        }
    }

    async fn run(&mut self, conn: &mut AsyncConn) -> anyhow::Result<()> {
        loop {
            self.wake();
            self.write_output(conn).await?;
            if self.session()?.wants_close() {
                return Ok(());
            }
            if conn.is_drained() && !self.fill(conn).await? {
                return Ok(());
            }
            let todo = self.input(conn)?;
            self.act(conn, todo).await?;
        }
    }

    /// Waits for bytes (or the server's shutdown); false once the session
    /// is over at the client's end of stream.
    async fn fill(&mut self, conn: &mut AsyncConn) -> anyhow::Result<bool> {
        if !self.session()?.is_replying() && self.up.is_none() {
            // Between requests: no transfer-sized buffer is kept.
            conn.shrink();
            self.out = SMALL_OUT;
        }
        if conn.is_drained() {
            self.rest();
        }
        match conn.fill_unless_stopped(self.stopping).await? {
            Some(0) => {}
            Some(_) => return Ok(true),
            None => {
                self.wake();
                return Ok(true);
            }
        }
        match self.wake().handle_eof() {
            Ok(()) => {
                self.write_output(conn).await?;
                Ok(false)
            }
            Err(e) => bail!("{e}"),
        }
    }

    /// Hands the buffered bytes to the session.
    fn input(&mut self, conn: &mut AsyncConn) -> anyhow::Result<Todo> {
        let s = self.wake();
        let (used, ev) = s.handle_input(0, &conn.buf[conn.lo..conn.hi]);
        conn.lo += used;
        let todo = match ev {
            None if used == 0 && !conn.is_drained() && !s.is_replying() && !s.wants_close() => {
                bail!("files session made no progress")
            }
            None => Todo::Nothing,
            Some(Event::Get) => {
                self.out = GET_OUT;
                Todo::Nothing
            }
            Some(Event::Stat | Event::List | Event::Refused) => Todo::Nothing,
            Some(Event::BadRequest(e)) => {
                tracing::info!("files: bad request: {e}");
                Todo::Nothing
            }
            Some(Event::Challenge) => Todo::Challenge,
            Some(Event::Auth) => Todo::Auth,
            Some(Event::Put) => Todo::Put,
            Some(Event::PutRestart) => Todo::Restart,
            Some(Event::Data(b)) => match self.up.as_mut().map(|up| up.stage(b)) {
                Some(true) => Todo::Flush,
                _ => Todo::Nothing,
            },
            Some(Event::PutEnd) => Todo::End,
            Some(Event::PutFailed) => Todo::Failed,
            Some(Event::PutAbandoned) => Todo::Abandoned,
        };
        Ok(todo)
    }

    /// Does what the session asked for.
    async fn act(&mut self, conn: &mut AsyncConn, todo: Todo) -> anyhow::Result<()> {
        match todo {
            Todo::Nothing => {}
            Todo::Challenge => self.challenge(conn)?,
            Todo::Auth => self.prove(conn)?,
            Todo::Put => self.begin_put(conn).await?,
            Todo::Restart => {
                if let Some(up) = &mut self.up {
                    up.restart().await?;
                }
            }
            Todo::Flush => {
                if let Some(Err(text)) = self.flush().await? {
                    self.refuse_put(&text).await?;
                }
            }
            Todo::End => self.end_put(conn).await?,
            Todo::Failed => {
                if let Some(up) = self.up.take() {
                    up.discard().await;
                }
            }
            Todo::Abandoned => {
                let name = self.up.as_ref().map(|u| u.name.clone()).unwrap_or_default();
                bail!("client abandoned the upload of {name}");
            }
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<Option<Result<(), String>>> {
        Ok(match &mut self.up {
            Some(up) => Some(up.flush().await?),
            None => None,
        })
    }

    /// Refuses the upload under way with `text`; its partial goes.
    async fn refuse_put(&mut self, text: &str) -> anyhow::Result<()> {
        self.session()?.put_refused(text);
        if let Some(up) = self.up.take() {
            up.discard().await;
        }
        Ok(())
    }

    /// Opens the partial of an accepted `put`.
    async fn begin_put(&mut self, conn: &mut AsyncConn) -> anyhow::Result<()> {
        let Some(Request::Put {
            name,
            size,
            force,
            resume,
        }) = self.session()?.request()
        else {
            bail!("put event without a put request");
        };
        let name = name.to_owned();
        // Held until the upload is over, however it ends.
        let Some(slot) = self.files.transfer_slot() else {
            let msg = "server busy: too many transfers, try again later";
            self.session()?.put_refused(msg);
            return Ok(());
        };
        match Upload::begin(&self.files, &name, size, force, resume).await? {
            Err(text) => self.session()?.put_refused(&text),
            Ok((up, kept, prefix)) => {
                self.up = Some(up.with_slot(slot));
                self.session()?.put_ready(kept, prefix);
                conn.grow();
            }
        }
        Ok(())
    }

    /// All bytes are in: the md5 check, then the commit.
    async fn end_put(&mut self, conn: &mut AsyncConn) -> anyhow::Result<()> {
        let Some(mut up) = self.up.take() else {
            return Ok(());
        };
        let actual = match up.finish().await? {
            Ok(d) => d,
            Err(text) => {
                self.session()?.put_refused(&text);
                up.discard().await;
                return Ok(());
            }
        };
        if !self.session()?.put_check(actual) {
            if let Some(m) = &conn.report.metrics {
                m.md5_mismatch();
            }
            up.discard().await;
            return Ok(());
        }
        let (name, size, secs) = (up.name.clone(), up.size, up.secs());
        match up.commit(&self.files, actual).await? {
            Err(text) => self.session()?.put_refused(&text),
            Ok(()) => {
                tracing::info!(name, size, "files: put done");
                self.report.transfer_done("put", "ok", &name, size, secs);
                self.session()?.put_stored();
            }
        }
        Ok(())
    }

    /// Answers a `challenge`: a nonce, unless the address failed too often.
    fn challenge(&mut self, conn: &AsyncConn) -> anyhow::Result<()> {
        if let Some(ip) = super::auth::peer(conn).map(|p| p.ip()) {
            let log = &mut |l: String| tracing::warn!("files: {l}");
            let verdict = self.files.throttle.check(ip, Instant::now(), log);
            if let Verdict::Refuse { retry_after } = verdict {
                if let Some(m) = &self.files.metrics {
                    m.refused("files", "rate_limited");
                }
                self.session()?.refuse_throttled(retry_after.as_secs() + 1);
                return Ok(());
            }
        }
        let mut random = [0u8; NONCE_LEN];
        getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("{e}"))?;
        self.session()?.send_challenge(&random);
        Ok(())
    }

    /// Answers an `auth`: the session checks the proof, the throttle
    /// counts a failure.
    fn prove(&mut self, conn: &AsyncConn) -> anyhow::Result<()> {
        let binding = super::auth::binding(conn);
        let files = Arc::clone(&self.files);
        let ok = self.session()?.verify(files.token.as_deref(), &binding);
        let ip = super::auth::peer(conn).map(|p| p.ip());
        if ok {
            if let Some(ip) = ip {
                files.throttle.succeeded(ip);
            }
            return Ok(());
        }
        let log = &mut |l: String| tracing::warn!("files: {l}");
        if let Some(ip) = ip {
            files.throttle.failed(ip, Instant::now(), log);
        }
        if let Some(m) = &files.metrics {
            m.auth_failure("files");
        }
        Ok(())
    }

    /// Writes the session's output until it has none (the shared
    /// pipeline: the next piece is read while the last one is sent).
    async fn write_output(&mut self, conn: &mut AsyncConn) -> anyhow::Result<()> {
        let parts = Parts {
            session: &mut self.session,
            store: &mut self.store,
            out: self.out,
            stopping: &mut self.stopping,
        };
        pipeline::write_output(parts, conn, || 0).await
    }
}

impl Output for Box<Session> {
    fn output_pending(&self) -> bool {
        Session::has_output(self)
    }

    fn stop_soon(&mut self) {
        Session::handle_shutdown(self);
    }

    /// Fills `buf` with as much output as the session has for it (the
    /// native dialect keeps no time).
    fn produce(
        &mut self,
        _now: u64,
        store: &mut HostStore,
        buf: &mut [u8],
    ) -> Result<usize, files::Error> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.poll_output(0, store, &mut buf[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        Ok(filled)
    }
}
