//! Writes a download's pages back to disk while it is still arriving, so
//! the fsync before the final rename has only the tail left to wait for
//! (for a 1 GiB get that fsync alone took 0.3–0.5 s).
//!
//! A second thread calls `fdatasync` on a clone of the file handle each
//! time [`EVERY`] more bytes were written; the writer never waits for it.
//! There is no safe `sync_file_range` in the crates std-host uses, and a
//! periodic `fdatasync` gives the same overlap. Its error, if any, is kept
//! and returned by [`Writeback::finish`]: the handles share one open file
//! description, so the final fsync could no longer see it.

use std::fs::File;
use std::io;
use std::sync::mpsc::{self, SyncSender};
use std::thread::JoinHandle;

/// Bytes written between two background flushes.
pub const EVERY: u64 = 32 << 20;

/// A background flusher for one file.
pub struct Writeback {
    kick: Option<SyncSender<()>>,
    worker: Option<JoinHandle<io::Result<()>>>,
    since: u64,
}

impl Writeback {
    /// Starts the flusher thread for `file`.
    pub fn new(file: &File) -> io::Result<Writeback> {
        let file = file.try_clone()?;
        // One pending request is enough: a flush covers everything
        // written before it started.
        let (kick, requests) = mpsc::sync_channel::<()>(1);
        let worker = std::thread::Builder::new()
            .name("writeback".into())
            .spawn(move || {
                for () in requests {
                    file.sync_data()?;
                }
                Ok(())
            })?;
        Ok(Writeback {
            kick: Some(kick),
            worker: Some(worker),
            since: 0,
        })
    }

    /// Notes `n` more bytes written; asks for a flush every [`EVERY`].
    pub fn wrote(&mut self, n: usize) {
        self.since += n as u64;
        if self.since >= EVERY {
            self.since = 0;
            if let Some(kick) = &self.kick {
                // Full means a flush is already queued: nothing to add.
                let _ = kick.try_send(());
            }
        }
    }

    /// Stops the thread after its last flush and returns its first error.
    pub fn finish(mut self) -> io::Result<()> {
        self.kick = None;
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("writeback thread panicked")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Seek as _, Write as _};

    #[test]
    fn flushes_in_the_background_and_keeps_the_data() {
        let path = std::env::temp_dir().join(format!("wirekit-writeback-{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let mut wb = Writeback::new(&file).unwrap();
        let block = vec![0x5au8; 1 << 20];
        for _ in 0..((3 * EVERY) >> 20) + 1 {
            file.write_all(&block).unwrap();
            wb.wrote(block.len());
        }
        wb.finish().unwrap();
        file.seek(io::SeekFrom::Start(0)).unwrap();
        let mut back = Vec::new();
        file.read_to_end(&mut back).unwrap();
        assert_eq!(back.len() as u64, 3 * EVERY + (1 << 20));
        assert!(back.iter().all(|b| *b == 0x5a));
        std::fs::remove_file(&path).unwrap();
    }
}
