//! The partial file of a native `put`, as the core session's upload
//! events ask for it (see `wirekit_core::session::files::upload`). Bytes
//! are written in blocking steps, one step in flight while the next
//! megabyte arrives: a slow client holds no thread, a fast one is not held
//! up by the disk, and memory per upload stays at two staging buffers
//! whatever the file size. The partial reaches its final name only by
//! [`PutSlot::commit`] (fsync, then an atomic rename or link), after the
//! session found the md5s equal: no file is ever half-visible.

use std::io;
use std::sync::Arc;

use md5::{Digest as _, Md5};
use tokio::task::JoinHandle;
use wirekit_core::wire::Digest;

use super::store::{write_sparse, PutSlot, Refusal};
use super::{Files, TransferSlot};

/// Bytes staged before they are handed to a blocking write.
pub const STAGE: usize = 1 << 20;

/// The partial and the md5 of what it holds, moved to a blocking thread
/// for each write.
struct Writer {
    slot: PutSlot,
    md5: Md5,
}

type Job = JoinHandle<(Writer, Vec<u8>, io::Result<()>)>;

/// An upload being received: the writer (or the step that has it), the
/// bytes staged for the next step, and a spare buffer.
pub struct Upload {
    /// The file's name, for messages.
    pub name: String,
    /// Its announced size.
    pub size: u64,
    writer: Option<Writer>,
    pending: Option<Job>,
    staged: Vec<u8>,
    spare: Vec<u8>,
    started: std::time::Instant,
    /// Counts the upload among the running transfers until it ends.
    slot: Option<TransferSlot>,
}

impl Upload {
    /// Opens the partial of `name` (see `Store::begin_put`): the upload
    /// and the kept prefix's length and md5, or the client's refusal.
    pub async fn begin(
        files: &Arc<Files>,
        name: &str,
        size: u64,
        force: bool,
        resume: bool,
    ) -> anyhow::Result<Result<(Upload, u64, Option<Digest>), String>> {
        let n = name.to_owned();
        let begun = files.blocking(move |f| f.store.begin_put(&n, force, resume, size));
        let slot = match begun.await? {
            Ok(s) => s,
            Err(r) => return Ok(Err(r.0)),
        };
        let kept = slot.kept;
        let prefix = (kept > 0).then(|| Digest(slot.prefix.clone().finalize().into()));
        let md5 = slot.prefix.clone();
        let up = Upload {
            name: name.to_owned(),
            size,
            writer: Some(Writer { slot, md5 }),
            pending: None,
            staged: Vec::new(),
            spare: Vec::new(),
            started: std::time::Instant::now(),
            slot: None,
        };
        Ok(Ok((up, kept, prefix)))
    }

    /// Holds `slot` (a running transfer) until the upload is over.
    pub fn with_slot(mut self, slot: TransferSlot) -> Upload {
        self.slot = Some(slot);
        self
    }

    /// Seconds since the upload began.
    pub fn secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Takes the next bytes; true when enough is staged for a write.
    pub fn stage(&mut self, b: &[u8]) -> bool {
        self.staged.extend_from_slice(b);
        self.staged.len() >= STAGE
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

    /// Hands the staged bytes to a blocking write (after the previous);
    /// the client's text if a write failed.
    pub async fn flush(&mut self) -> anyhow::Result<Result<(), String>> {
        if let Err(e) = self.settle().await? {
            return Ok(Err(Refusal::io(&self.name, &e).0));
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

    /// Writes out everything staged and waits: the md5 of the partial's
    /// whole content, or the client's text for a failed write.
    pub async fn finish(&mut self) -> anyhow::Result<Result<Digest, String>> {
        if let Err(m) = self.flush().await? {
            return Ok(Err(m));
        }
        if let Err(e) = self.settle().await? {
            return Ok(Err(Refusal::io(&self.name, &e).0));
        }
        let md5 = self.writer.as_ref().map(|w| w.md5.clone());
        Ok(Ok(Digest(md5.unwrap_or_default().finalize().into())))
    }

    /// The client starts over rather than resume: the partial is emptied.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        let _ = self.settle().await?;
        if let Some(mut w) = self.writer.take() {
            let w = tokio::task::spawn_blocking(move || {
                w.md5 = Md5::new();
                w.slot.restart().map(|()| w)
            });
            self.writer = Some(w.await??);
        }
        Ok(())
    }

    /// Commits the verified partial under its final name (and remembers
    /// its md5 for the next get), or the client's text for a failure.
    pub async fn commit(
        mut self,
        files: &Arc<Files>,
        md5: Digest,
    ) -> anyhow::Result<Result<(), String>> {
        let _ = self.settle().await?;
        let Some(w) = self.writer.take() else {
            return Ok(Err(format!("{}: upload lost", self.name)));
        };
        let (n, size) = (self.name.clone(), self.size);
        let stored = files.blocking(move |f| {
            w.slot.commit_or_discard(size)?;
            // The next get of this file need not hash it again.
            if let Ok((_, info)) = f.store.open_read(&n) {
                if info.size == size {
                    f.store.remember_md5(&n, &info, md5);
                }
            }
            Ok::<_, Refusal>(())
        });
        Ok(stored.await?.map_err(|r| r.0))
    }

    /// Removes the partial (its data is known to be wrong or refused).
    pub async fn discard(mut self) {
        // A step in flight still owns the writer; its error no longer
        // matters.
        let _ = self.settle().await;
        if let Some(w) = self.writer.take() {
            let _ = tokio::task::spawn_blocking(move || w.slot.discard()).await;
        }
    }

    /// Writes out everything received, for a later `--resume` (the
    /// client went away; a write error now changes nothing it is told).
    pub async fn keep(mut self) {
        let _ = self.flush().await;
        let _ = self.settle().await;
    }
}
