//! The server side of a native `put`. The upload is received async and
//! written to its partial in blocking steps, one step in flight while the
//! next megabyte arrives: a slow client holds no thread, a fast one is
//! not held up by the disk, and memory per upload stays at two staging
//! buffers whatever the file size.

use std::io;
use std::sync::Arc;

use anyhow::bail;
use md5::{Digest as _, Md5};
use tokio::task::JoinHandle;
use wirekit_core::service::file::native::{file_reply, ready_reply, Transfer, TransferEvent};
use wirekit_core::wire::Digest;

use super::async_conn::AsyncConn;
use super::serve_native::{refuse, send_frame};
use super::store::{write_sparse, PutSlot, Refusal};
use super::Files;

/// Bytes staged before they are handed to a blocking write.
const STAGE: usize = 1 << 20;

/// Serves one `put` request.
pub async fn serve_put(
    files: &Arc<Files>,
    conn: &mut AsyncConn,
    name: &str,
    size: u64,
    force: bool,
    resume: bool,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    if size > files.cfg.max_file_size {
        let msg = format!(
            "{name}: {size} bytes exceeds the limit of {} bytes",
            files.cfg.max_file_size
        );
        return refuse(conn, "put", &msg).await;
    }
    // Held until the upload is over, however it ends.
    let Some(_slot) = files.transfer_slot() else {
        let msg = "server busy: too many transfers, try again later";
        return refuse(conn, "put", msg).await;
    };
    let n = name.to_owned();
    let begun = files.blocking(move |f| f.store.begin_put(&n, force, resume, size));
    let slot = match begun.await? {
        Ok(s) => s,
        Err(r) => return refuse(conn, "put", &r.0).await,
    };
    let prefix = (slot.kept > 0).then(|| Digest(slot.prefix.clone().finalize().into()));
    send_frame(conn, &ready_reply(slot.kept, prefix), b"").await?;
    conn.grow();
    let mut up = Upload::new(slot);
    let Some((expected, w)) = receive(conn, &mut up, name, size).await? else {
        return Ok(());
    };
    let actual = Digest(w.md5.finalize().into());
    if let (Some(m), true) = (&conn.metrics, actual != expected) {
        m.md5_mismatch();
    }
    let n = name.to_owned();
    let slot = w.slot;
    let stored = files.blocking(move |f| {
        if actual != expected {
            slot.discard();
            let msg = format!("{n}: md5 mismatch: client says {expected}, received data is {actual}; upload discarded");
            return Err(Refusal(msg));
        }
        slot.commit_or_discard(size)?;
        // The next get of this file need not hash it again.
        if let Ok((_, info)) = f.store.open_read(&n) {
            if info.size == size {
                f.store.remember_md5(&n, &info, actual);
            }
        }
        Ok(())
    });
    if let Err(r) = stored.await? {
        return refuse(conn, "put", &r.0).await;
    }
    tracing::info!(name, size, "files: put done");
    conn.transfer_done("put", "ok", name, size, started.elapsed().as_secs_f64());
    send_frame(conn, &file_reply("put", size, actual, None), b"").await
}

/// The partial and the md5 of what it holds, moved to a blocking thread
/// for each write.
struct Writer {
    slot: PutSlot,
    md5: Md5,
}

type Job = JoinHandle<(Writer, Vec<u8>, io::Result<()>)>;

/// An upload being received: the writer (or the step that has it), the
/// bytes staged for the next step, and a spare buffer.
struct Upload {
    writer: Option<Writer>,
    pending: Option<Job>,
    staged: Vec<u8>,
    spare: Vec<u8>,
    /// Set once refused: the rest is read and dropped.
    failed: bool,
}

impl Upload {
    fn new(slot: PutSlot) -> Upload {
        let md5 = slot.prefix.clone();
        Upload {
            writer: Some(Writer { slot, md5 }),
            pending: None,
            staged: Vec::new(),
            spare: Vec::new(),
            failed: false,
        }
    }

    /// Waits for the step in flight; its write error, if any.
    async fn settle(&mut self) -> anyhow::Result<io::Result<()>> {
        let Some(job) = self.pending.take() else {
            return Ok(Ok(()));
        };
        let (w, mut buf, r) = job.await?;
        self.writer = Some(w);
        buf.clear();
        self.spare = buf;
        Ok(r)
    }

    /// Hands the staged bytes to a blocking write (after the previous).
    async fn flush(&mut self) -> anyhow::Result<io::Result<()>> {
        if let Err(e) = self.settle().await? {
            return Ok(Err(e));
        }
        let Some(mut w) = self.writer.take() else {
            return Ok(Ok(()));
        };
        let spare = std::mem::take(&mut self.spare);
        let buf = std::mem::replace(&mut self.staged, spare);
        self.pending = Some(tokio::task::spawn_blocking(move || {
            w.md5.update(&buf);
            let r = write_sparse(&mut w.slot.file, &buf);
            (w, buf, r)
        }));
        Ok(Ok(()))
    }

    /// Writes out everything received, for a later `--resume` (the
    /// client went away; a write error now changes nothing it is told).
    async fn keep(&mut self) {
        if !self.failed {
            let _ = self.flush().await;
            let _ = self.settle().await;
        }
    }

    /// Refuses the upload: removes its partial, tells the client.
    async fn fail(&mut self, conn: &mut AsyncConn, msg: &str) -> anyhow::Result<()> {
        // A step in flight still owns the writer; its own error no longer
        // matters.
        let _ = self.settle().await?;
        self.failed = true;
        self.staged = Vec::new();
        if let Some(w) = self.writer.take() {
            tokio::task::spawn_blocking(move || w.slot.discard()).await?;
        }
        refuse(conn, "put", msg).await
    }
}

/// What one decoded step of the data frame asks for.
enum Next {
    More,
    Header(u64, u64),
    Staged,
    End(Digest),
    Abandoned(String),
}

/// Receives the data frame of an accepted upload, returning the md5 the
/// client announced and the writer (whose md5 covers what arrived, the
/// kept prefix included). A client that goes away leaves the partial for
/// a later `--resume`; a refused upload (bad frame, a write error such as
/// a full disk) loses its partial and the client is told why at once.
/// After a write error the rest of the frame is read and dropped, so the
/// client, which reads no answer while it sends, gets the refusal rather
/// than a reset; then `None`, and the connection stays usable.
async fn receive(
    conn: &mut AsyncConn,
    up: &mut Upload,
    name: &str,
    size: u64,
) -> anyhow::Result<Option<(Digest, Writer)>> {
    let mut t = Transfer::new("data", size);
    loop {
        if !conn.fill_if_drained().await? {
            up.keep().await;
            bail!("client closed during the upload of {name}; partial kept for --resume");
        }
        let next = match t.decode(&conn.buf[conn.lo..conn.hi]) {
            Err(e) => {
                up.fail(conn, &format!("{name}: {e}; upload discarded"))
                    .await?;
                bail!("upload of {name}: {e}");
            }
            Ok((used, ev)) => {
                conn.lo += used;
                match ev {
                    None | Some(TransferEvent::BodyEnd) => Next::More,
                    Some(TransferEvent::Header(h)) => {
                        Next::Header(h.offset.unwrap_or(0), h.total_size)
                    }
                    Some(TransferEvent::Data(b)) => {
                        if !up.failed {
                            up.staged.extend_from_slice(b);
                        }
                        Next::Staged
                    }
                    Some(TransferEvent::End(d)) => Next::End(d),
                    Some(TransferEvent::Refused(m)) => Next::Abandoned(m.to_string()),
                }
            }
        };
        match next {
            Next::More => {}
            Next::Header(off, len) => header(conn, up, name, size, off, len).await?,
            Next::Staged if up.staged.len() < STAGE => {}
            Next::Staged => write_staged(conn, up, name).await?,
            Next::End(d) => {
                write_staged(conn, up, name).await?;
                if let Err(e) = up.settle().await? {
                    up.fail(conn, &Refusal::io(name, &e).0).await?;
                }
                return Ok(up.writer.take().map(|w| (d, w)));
            }
            Next::Abandoned(m) => {
                up.keep().await;
                bail!("client abandoned the upload of {name}: {m}");
            }
        }
    }
}

/// Checks the data frame's header against the offer.
async fn header(
    conn: &mut AsyncConn,
    up: &mut Upload,
    name: &str,
    size: u64,
    off: u64,
    len: u64,
) -> anyhow::Result<()> {
    let kept = up.writer.as_ref().map_or(0, |w| w.slot.kept);
    if (off != kept && off != 0) || len != size - off {
        let msg =
            format!("{name}: data frame does not match the offer (offset {off}); upload discarded");
        up.fail(conn, &msg).await?;
        bail!(msg);
    }
    // The client chose to start over rather than resume.
    if off == 0 && kept > 0 {
        if let Some(mut w) = up.writer.take() {
            let w = tokio::task::spawn_blocking(move || {
                w.md5 = Md5::new();
                w.slot.restart().map(|()| w)
            });
            up.writer = Some(w.await??);
        }
    }
    Ok(())
}

/// Writes what is staged, refusing the upload if the write fails.
async fn write_staged(conn: &mut AsyncConn, up: &mut Upload, name: &str) -> anyhow::Result<()> {
    if up.failed {
        return Ok(());
    }
    if let Err(e) = up.flush().await? {
        up.fail(conn, &Refusal::io(name, &e).0).await?;
    }
    Ok(())
}
