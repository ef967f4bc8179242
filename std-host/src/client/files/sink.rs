//! Where a download's bytes go: a three-stage pipeline, so a get costs
//! about as long as hashing alone (the bound the files benchmark sets).
//!
//! The receiving thread copies each chunk into a staging buffer; full
//! buffers go to a hashing thread, then to a writing thread, then back to
//! a fixed pool ([`POOL`] × [`BUF`] bytes, whatever the file size).
//!
//! On Linux the partial is written with `O_DIRECT` when its filesystem
//! allows it: on the benchmark machine buffered writes of a new file cost
//! 1.2–2 s of kernel time per GiB (page-cache allocation and writeback,
//! which also made the fsync before the rename wait), direct writes of
//! the same bytes 0.4–0.6 s of mostly idle waiting. Staging buffers are
//! 4 KiB-aligned for that; the last partial block, and any download that
//! resumes at an unaligned offset, go through an ordinary handle. In
//! buffered mode the writer flushes every [`FLUSH_EVERY`] bytes so the final
//! fsync finds little left to do. All-zero buffers are skipped, leaving
//! holes, as sparse files deserve.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use md5::{Digest as _, Md5};
use wirekit_core::wire::Digest;

/// Bytes per staging buffer.
pub const BUF: usize = 1 << 20;
/// Staging buffers in the pool.
pub const POOL: usize = 8;
/// Buffered mode: bytes written between two background `fdatasync`s.
pub const FLUSH_EVERY: u64 = 32 << 20;
/// Alignment `O_DIRECT` needs for addresses, lengths and offsets.
const ALIGN: usize = 4096;

/// A staging buffer whose usable part starts on an [`ALIGN`] boundary.
struct Staged {
    raw: Vec<u8>,
    start: usize,
    len: usize,
}

impl Staged {
    fn new() -> Option<Staged> {
        let raw = vec![0u8; BUF + ALIGN];
        // The Vec never grows, so its heap block (and alignment) stays put.
        let start = raw.as_ptr().align_offset(ALIGN);
        (start < ALIGN).then_some(Staged { raw, start, len: 0 })
    }

    fn data(&self) -> &[u8] {
        &self.raw[self.start..self.start + self.len]
    }

    /// Appends what fits of `b`; returns how much was taken.
    fn fill(&mut self, b: &[u8]) -> usize {
        let take = (BUF - self.len).min(b.len());
        let at = self.start + self.len;
        self.raw[at..at + take].copy_from_slice(&b[..take]);
        self.len += take;
        take
    }
}

/// The receiving side of the pipeline.
pub struct Sink {
    current: Option<Staged>,
    free: Vec<Staged>,
    to_hash: Option<SyncSender<Staged>>,
    returned: Receiver<Staged>,
    hasher: Option<JoinHandle<Md5>>,
    writer: Option<JoinHandle<io::Result<()>>>,
    direct: bool,
}

impl Sink {
    /// Starts writing `path` (already open as `file`) at `offset`, with
    /// the hash continuing from `prefix` (the bytes already there).
    pub fn new(path: &Path, file: &File, offset: u64, prefix: Md5) -> io::Result<Sink> {
        let free: Vec<Staged> = (0..POOL).map_while(|_| Staged::new()).collect();
        let out = Output::open(path, file, offset, free.len() == POOL)?;
        let direct = out.direct.is_some();
        let (to_hash, hash_rx) = mpsc::sync_channel::<Staged>(POOL);
        let (to_write, write_rx) = mpsc::sync_channel::<Staged>(POOL);
        let (back, returned) = mpsc::sync_channel::<Staged>(POOL);
        let hasher = spawn("md5", move || {
            let mut md5 = prefix;
            for buf in hash_rx {
                md5.update(buf.data());
                // The writer may have failed; finish() reports that.
                let _ = to_write.send(buf);
            }
            md5
        })?;
        let writer = spawn("write", move || out.run(write_rx, back))?;
        Ok(Sink {
            current: None,
            free,
            to_hash: Some(to_hash),
            returned,
            hasher: Some(hasher),
            writer: Some(writer),
            direct,
        })
    }

    /// True when the partial is written with `O_DIRECT`.
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// Queues `b` (copied; waits only when every buffer is in flight).
    pub fn write(&mut self, mut b: &[u8]) -> io::Result<()> {
        while !b.is_empty() {
            let mut buf = match self.current.take() {
                Some(buf) => buf,
                None => self.take_free()?,
            };
            b = &b[buf.fill(b)..];
            if buf.len == BUF {
                self.send(buf)?;
            } else {
                self.current = Some(buf);
            }
        }
        Ok(())
    }

    fn take_free(&mut self) -> io::Result<Staged> {
        if let Some(mut buf) = self.free.pop() {
            buf.len = 0;
            return Ok(buf);
        }
        let mut buf = self.returned.recv().map_err(|_| stopped())?;
        buf.len = 0;
        Ok(buf)
    }

    fn send(&mut self, buf: Staged) -> io::Result<()> {
        let tx = self.to_hash.as_ref().ok_or_else(stopped)?;
        tx.send(buf).map_err(|_| stopped())
    }

    /// Writes out what is staged, stops the threads and returns the md5
    /// of the whole file. Write errors surface here.
    pub fn finish(mut self) -> io::Result<Digest> {
        let (md5, written) = self.stop();
        written?;
        md5.map(|m| Digest(m.finalize().into()))
    }

    fn stop(&mut self) -> (io::Result<Md5>, io::Result<()>) {
        let staged = match self.current.take() {
            Some(buf) if buf.len > 0 => self.send(buf),
            _ => Ok(()),
        };
        self.to_hash = None;
        let md5 = match self.hasher.take().map(JoinHandle::join) {
            Some(Ok(m)) => Ok(m),
            _ => Err(stopped()),
        };
        let written = match self.writer.take().map(JoinHandle::join) {
            Some(Ok(r)) => r.and(staged),
            _ => Err(stopped()),
        };
        (md5, written)
    }
}

impl Drop for Sink {
    /// An abandoned download still gets every received byte on disk, so
    /// `--resume` continues from all of it.
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = self.stop();
        }
    }
}

fn stopped() -> io::Error {
    io::Error::other("the download's hashing or writing thread stopped")
}

fn spawn<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> io::Result<JoinHandle<T>> {
    std::thread::Builder::new()
        .name(format!("get-{what}"))
        .spawn(f)
}

/// The writing end: a direct handle when possible, a buffered one always.
struct Output {
    direct: Option<File>,
    buffered: File,
    pos: u64,
    since_flush: u64,
}

impl Output {
    fn open(path: &Path, file: &File, offset: u64, aligned: bool) -> io::Result<Output> {
        let direct = (aligned && offset % ALIGN as u64 == 0)
            .then(|| open_direct(path))
            .flatten();
        Ok(Output {
            direct,
            buffered: file.try_clone()?,
            pos: offset,
            since_flush: 0,
        })
    }

    fn run(mut self, rx: Receiver<Staged>, back: SyncSender<Staged>) -> io::Result<()> {
        for buf in rx {
            self.put(buf.data())?;
            // The receiving side may be gone (an abandoned download).
            let _ = back.send(buf);
        }
        Ok(())
    }

    fn put(&mut self, data: &[u8]) -> io::Result<()> {
        static ZEROS: [u8; ALIGN] = [0; ALIGN];
        if data.chunks(ALIGN).all(|c| c == &ZEROS[..c.len()]) {
            self.pos += data.len() as u64;
            return Ok(());
        }
        let whole = match &self.direct {
            Some(direct) => {
                let whole = data.len() - data.len() % ALIGN;
                match direct.write_all_at(&data[..whole], self.pos) {
                    Ok(()) => whole,
                    // Some filesystems open with O_DIRECT but refuse the
                    // writes; carry on buffered.
                    Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                        self.direct = None;
                        0
                    }
                    Err(e) => return Err(e),
                }
            }
            None => 0,
        };
        self.buffered
            .write_all_at(&data[whole..], self.pos + whole as u64)?;
        self.pos += data.len() as u64;
        self.since_flush += (data.len() - whole) as u64;
        if self.since_flush >= FLUSH_EVERY {
            self.since_flush = 0;
            self.buffered.sync_data()?;
        }
        Ok(())
    }
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> Option<File> {
    use std::fs::OpenOptions;
    use std::os::unix::fs::OpenOptionsExt as _;
    // Filesystems without O_DIRECT (tmpfs, some FUSE) refuse the open.
    OpenOptions::new()
        .write(true)
        .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
        .open(path)
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> Option<File> {
    None
}

#[cfg(test)]
mod tests;
