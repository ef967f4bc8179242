//! Where a download goes: `.NAME.wirekit-part` beside the final name until
//! its md5 matched, or straight into stdout for `-o -` and into a device
//! or pipe named with `-o` (`-o /dev/null`): renaming a partial over one
//! would replace it with a regular file.
//!
//! The partial is created when the first byte arrives, not before: a
//! download that moved nothing (server down, file missing, refusal) leaves
//! nothing behind, and a partial on disk always holds data worth resuming.
//! A partial found at the start is resumed (native dialect) or, where it
//! cannot be, refused with a choice; it is never emptied silently.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use md5::{Digest as _, Md5};
use wirekit_core::service::file::name;
use wirekit_core::wire::Digest;

use wirekit_core::session::files::client::ClientError;

use super::download::Check;
use super::progress::Progress;
use super::sink::Sink;
use crate::services::files::store::hash_prefix;

/// Where a download is written until verified.
pub fn partial_path(local: &Path) -> PathBuf {
    let base = local
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_default();
    local.with_file_name(name::partial_name(&base).as_str())
}

/// Opens `local` for writing if it exists and is neither a regular file
/// nor a directory (a device such as `/dev/null`, a named pipe): the
/// download is then written into it directly.
fn open_special(local: &Path) -> anyhow::Result<Option<File>> {
    match std::fs::metadata(local) {
        Ok(m) if !m.is_file() && !m.is_dir() => OpenOptions::new()
            .write(true)
            .open(local)
            .map(Some)
            .with_context(|| format!("opening {}", local.display())),
        _ => Ok(None),
    }
}

/// What to do with a partial already on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Continue it (the native dialect; the md5 at the end checks it).
    Resume,
    /// Throw it away (`--restart`).
    Restart,
    /// Refuse to start (a seed dialect cannot resume).
    Refuse,
}

enum Dest {
    /// Not opened yet: nothing has arrived.
    Pending {
        prefix: Md5,
    },
    File {
        file: File,
        sink: Sink,
    },
    /// Written as it arrives, hashed on the way (stdout, a device, a
    /// pipe): nothing to rename.
    Stream {
        md5: Md5,
        out: Box<dyn Write>,
        /// What it is, for messages: `stdout` or the path.
        what: String,
    },
}

/// A download in progress on the local side.
pub struct LocalPartial {
    /// Final name (`-` for stdout).
    pub local: PathBuf,
    /// Partial file path.
    pub part: PathBuf,
    dest: Dest,
    /// Bytes already there (resumed).
    pub offset: u64,
    /// Bytes in the file so far (kept and received).
    len: u64,
    progress: Option<Progress>,
}

impl LocalPartial {
    /// Prepares the download of `local` (`-`: stdout), deciding about a
    /// partial left by an earlier run.
    pub fn open(local: PathBuf, existing: Existing) -> anyhow::Result<LocalPartial> {
        let part = partial_path(&local);
        let mut p = LocalPartial {
            dest: Dest::Pending { prefix: Md5::new() },
            local,
            part,
            offset: 0,
            len: 0,
            progress: None,
        };
        if p.local.as_os_str() == "-" {
            p.dest = Dest::Stream {
                md5: Md5::new(),
                out: Box::new(std::io::stdout()),
                what: "stdout".into(),
            };
            return Ok(p);
        }
        if let Some(out) = open_special(&p.local)? {
            let what = p.local.display().to_string();
            p.dest = Dest::Stream {
                md5: Md5::new(),
                out: Box::new(out),
                what,
            };
            return Ok(p);
        }
        let kept = std::fs::metadata(&p.part).map(|m| m.len()).ok();
        match (kept, existing) {
            (None, _) => {}
            (Some(0), _) | (Some(_), Existing::Restart) => {
                std::fs::remove_file(&p.part)
                    .with_context(|| format!("removing {}", p.part.display()))?;
            }
            (Some(n), Existing::Refuse) => bail!(
                "{} holds {n} bytes of an earlier download, and this dialect cannot resume: \
                 add --restart to discard them, or download with --dialect native to continue",
                p.part.display()
            ),
            (Some(n), Existing::Resume) => {
                let mut file =
                    File::open(&p.part).with_context(|| format!("opening {}", p.part.display()))?;
                let (prefix, got) = hash_prefix(&mut file, n)?;
                eprintln!(
                    "resuming: {got} bytes kept in {} (--restart to start over)",
                    p.part.display()
                );
                (p.offset, p.len, p.dest) = (got, got, Dest::Pending { prefix });
            }
        }
        Ok(p)
    }

    /// Shows progress for `total` bytes from now on.
    pub fn show_progress(&mut self, label: &str, total: u64) {
        self.progress = Some(Progress::new(label, total, self.offset));
    }

    /// Bytes on disk (or written) so far.
    pub fn kept(&self) -> u64 {
        self.len
    }

    fn open_file(&mut self) -> anyhow::Result<()> {
        if let Dest::Pending { prefix } = &self.dest {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(self.offset == 0)
                .open(&self.part)
                .with_context(|| format!("creating {}", self.part.display()))?;
            file.seek(SeekFrom::Start(self.offset))?;
            let sink = Sink::new(&self.part, &file, self.offset, prefix.clone())?;
            tracing::debug!(direct = sink.is_direct(), "writing {}", self.part.display());
            self.dest = Dest::File { file, sink };
        }
        Ok(())
    }

    /// Appends received bytes.
    pub fn write(&mut self, b: &[u8]) -> anyhow::Result<()> {
        if b.is_empty() {
            return Ok(());
        }
        self.open_file()?;
        self.len += b.len() as u64;
        match &mut self.dest {
            Dest::File { sink, .. } => sink
                .write(b)
                .with_context(|| format!("writing {}", self.part.display()))?,
            Dest::Stream { md5, out, what } => {
                md5.update(b);
                out.write_all(b)
                    .with_context(|| format!("writing to {what}"))?;
            }
            Dest::Pending { .. } => unreachable!("opened above"),
        }
        if let Some(p) = self.progress.as_mut() {
            p.inc(b.len() as u64);
        }
        Ok(())
    }

    /// Has the md5 of what was written checked against the server's (by
    /// the session's `check`, if the server sent one) and gives the file
    /// its final name; a mismatch deletes the partial. The progress
    /// summary is printed only once that succeeded.
    pub fn finish(mut self, check: Option<Check>) -> anyhow::Result<Digest> {
        self.open_file()?;
        let progress = self.progress.take();
        let dest = std::mem::replace(&mut self.dest, Dest::Pending { prefix: Md5::new() });
        let checked = check.is_some();
        let verdict = self.settle(dest, check);
        if let Some(p) = progress {
            match &verdict {
                Ok(_) if checked => p.finish("done, md5 verified"),
                Ok(_) => p.finish("done"),
                Err(_) => p.clear(),
            }
        }
        verdict
    }

    fn settle(&self, dest: Dest, check: Option<Check>) -> anyhow::Result<Digest> {
        let (actual, file) = match dest {
            Dest::File { file, sink } => (
                sink.finish()
                    .with_context(|| format!("writing {}", self.part.display()))?,
                Some(file),
            ),
            Dest::Stream { md5, mut out, what } => {
                out.flush().with_context(|| format!("writing to {what}"))?;
                (Digest(md5.finalize().into()), None)
            }
            Dest::Pending { .. } => unreachable!("opened by finish"),
        };
        if let Some(Err(e)) = check.map(|c| c(actual)) {
            let Some(ClientError::Md5Mismatch { expected: e, .. }) = e.downcast_ref() else {
                return Err(e);
            };
            if file.is_some() {
                let _ = std::fs::remove_file(&self.part);
                bail!(
                    "md5 mismatch: server says {e}, received data is {actual}; download discarded"
                );
            }
            let what = match self.local.as_os_str() == "-" {
                true => "stdout".to_string(),
                false => self.local.display().to_string(),
            };
            bail!("md5 mismatch: server says {e}, the data written to {what} is {actual}");
        }
        if let Some(file) = file {
            file.set_len(self.len)?;
            file.sync_all()?;
            std::fs::rename(&self.part, &self.local)
                .with_context(|| format!("renaming to {}", self.local.display()))?;
        }
        Ok(actual)
    }

    /// One line for a download that failed: what was kept, and `how` to
    /// continue it.
    pub fn kept_note(&self, how: &str) -> Option<String> {
        (matches!(self.dest, Dest::File { .. }) && self.len > 0)
            .then(|| format!("{} bytes kept in {}; {how}", self.len, self.part.display()))
    }
}
