//! A command's output held for a seed-dialect reply, which must start with
//! the output's size (and, in the JSON dialect, its md5): the first
//! [`MEM_LIMIT`] bytes of each stream in memory, the rest in an unnamed
//! temporary file (deleted by the OS when closed), so a connection whose
//! client does not read holds kilobytes of RAM, not the whole output.
//! Before, every such connection held its output up to the 16 MiB cap,
//! twice over while the reply was assembled.
//!
//! Over all connections, a [`SpoolBudget`] bounds both: memory (beyond it,
//! output goes straight to the file) and disk (beyond it, the command is
//! stopped and its client gets a readable refusal).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use md5::{Digest as _, Md5};
use tokio::fs::File;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};
use wirekit_core::wire::Digest;

use crate::services::exec::run::{Sink, Stream};

/// Bytes of each stream (stdout, stderr) kept in memory per connection.
pub(super) const MEM_LIMIT: usize = 64 * 1024;

/// Chunk size when reading a spool file back.
const CHUNK: usize = 64 * 1024;

/// Default memory held by all spools of one service together.
pub const DEFAULT_MEM_TOTAL: u64 = 32 * 1024 * 1024;

/// The totals all spools of one exec service share.
#[derive(Debug)]
pub struct SpoolBudget {
    mem: AtomicU64,
    mem_limit: u64,
    disk: AtomicU64,
    disk_limit: u64,
}

impl SpoolBudget {
    /// At most `mem_limit` bytes in memory and `disk_limit` bytes in
    /// temporary files, over all connections.
    pub fn new(mem_limit: u64, disk_limit: u64) -> Self {
        SpoolBudget {
            mem: AtomicU64::new(0),
            mem_limit,
            disk: AtomicU64::new(0),
            disk_limit,
        }
    }

    /// Reserves up to `want` bytes of `used` under `limit`; returns how
    /// many were granted.
    fn take(used: &AtomicU64, limit: u64, want: u64) -> u64 {
        let mut granted = 0;
        let _ = used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
            granted = want.min(limit.saturating_sub(u));
            Some(u + granted)
        });
        granted
    }
}

/// One stream's bytes: memory first, then the file. What it holds is
/// counted in the shared budget until it is dropped.
#[derive(Default)]
struct Part {
    mem: Vec<u8>,
    file: Option<File>,
    len: u64,
    budget: Option<Arc<SpoolBudget>>,
    on_disk: u64,
}

impl Drop for Part {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            b.mem.fetch_sub(self.mem.len() as u64, Ordering::AcqRel);
            b.disk.fetch_sub(self.on_disk, Ordering::AcqRel);
        }
    }
}

impl Part {
    fn new(budget: &Arc<SpoolBudget>) -> Part {
        let mut p = Part::default();
        p.budget = Some(budget.clone());
        p
    }

    async fn push(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.len += data.len() as u64;
        let mut room = MEM_LIMIT.saturating_sub(self.mem.len()).min(data.len());
        if let Some(b) = &self.budget {
            // Fits in usize: at most `room`.
            room = SpoolBudget::take(&b.mem, b.mem_limit, room as u64) as usize;
        }
        self.mem.extend_from_slice(&data[..room]);
        let rest = &data[room..];
        if rest.is_empty() {
            return Ok(());
        }
        if let Some(b) = &self.budget {
            let want = rest.len() as u64;
            let got = SpoolBudget::take(&b.disk, b.disk_limit, want);
            if got < want {
                // All or nothing: a cut reply would be a wrong one.
                b.disk.fetch_sub(got, Ordering::AcqRel);
                return Err(std::io::Error::other(format!(
                    "the server holds too much unsent output (--exec-spool-max {} bytes); try again later",
                    b.disk_limit
                )));
            }
            self.on_disk += want;
        }
        if self.file.is_none() {
            let f = tokio::task::spawn_blocking(tempfile::tempfile)
                .await
                .map_err(std::io::Error::other)??;
            self.file = Some(File::from_std(f));
        }
        match &mut self.file {
            Some(f) => f.write_all(rest).await,
            None => Ok(()),
        }
    }

    /// Goes back to the start of the file, to read it with [`Part::read`].
    async fn rewind(&mut self) -> std::io::Result<()> {
        if let Some(f) = &mut self.file {
            f.flush().await?;
            f.rewind().await?;
        }
        Ok(())
    }

    /// The next bytes of the file part (after `mem`); 0 at its end.
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.file {
            Some(f) => f.read(buf).await,
            None => Ok(0),
        }
    }
}

/// Collects a command's output: stdout, then stderr, as the seeds send
/// them.
pub(super) struct Spool {
    out: Part,
    err: Part,
    /// Where [`Spool::read`] is: the part (0 stdout, 1 stderr) and the
    /// position in its memory.
    at: (usize, usize),
}

impl Sink for Spool {
    async fn chunk(&mut self, stream: Stream, data: &[u8]) -> std::io::Result<()> {
        match stream {
            Stream::Stdout => self.out.push(data).await,
            Stream::Stderr => self.err.push(data).await,
        }
    }
}

impl Spool {
    /// An empty spool counted in `budget`.
    pub(super) fn new(budget: &Arc<SpoolBudget>) -> Spool {
        Spool {
            out: Part::new(budget),
            err: Part::new(budget),
            at: (0, 0),
        }
    }

    /// Bytes in all.
    pub(super) fn len(&self) -> u64 {
        self.out.len + self.err.len
    }

    /// MD5 of stdout followed by stderr (reads the files once).
    pub(super) async fn md5(&mut self) -> std::io::Result<Digest> {
        let mut h = Md5::new();
        let mut buf = vec![0u8; CHUNK];
        for part in [&mut self.out, &mut self.err] {
            h.update(&part.mem);
            part.rewind().await?;
            loop {
                let n = part.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        }
        Ok(Digest(h.finalize().into()))
    }

    /// Goes back to the start, for [`Spool::read`].
    pub(super) async fn rewind(&mut self) -> std::io::Result<()> {
        self.out.rewind().await?;
        self.err.rewind().await?;
        self.at = (0, 0);
        Ok(())
    }

    /// The next bytes: stdout (memory, then file), then stderr; 0 at the
    /// end.
    pub(super) async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let (part, mem_at) = &mut self.at;
            let p = match part {
                0 => &mut self.out,
                1 => &mut self.err,
                _ => return Ok(0),
            };
            if *mem_at < p.mem.len() {
                let n = buf.len().min(p.mem.len() - *mem_at);
                buf[..n].copy_from_slice(&p.mem[*mem_at..*mem_at + n]);
                *mem_at += n;
                return Ok(n);
            }
            let n = p.read(buf).await?;
            if n > 0 {
                return Ok(n);
            }
            self.at = (*part + 1, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_order_and_spills_to_a_file() {
        let budget = Arc::new(SpoolBudget::new(1 << 30, 1 << 30));
        let mut s = Spool::new(&budget);
        let big: Vec<u8> = (0..3 * MEM_LIMIT).map(|i| (i % 251) as u8).collect();
        s.chunk(Stream::Stderr, b"err").await.unwrap();
        s.chunk(Stream::Stdout, &big[..10]).await.unwrap();
        s.chunk(Stream::Stdout, &big[10..]).await.unwrap();
        assert!(s.out.mem.len() == MEM_LIMIT && s.out.file.is_some());
        let mut want = big.clone();
        want.extend_from_slice(b"err");
        assert_eq!(s.len(), want.len() as u64);
        assert_eq!(s.md5().await.unwrap(), Digest::of(&want));
        s.rewind().await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1000];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, want, "read whole after the md5 pass");
        drop(s);
        assert_eq!(budget.mem.load(Ordering::Acquire), 0, "released");
        assert_eq!(budget.disk.load(Ordering::Acquire), 0, "released");
    }

    #[tokio::test]
    async fn totals_are_bounded() {
        let budget = Arc::new(SpoolBudget::new(MEM_LIMIT as u64 + 10, 1000));
        let mut a = Spool::new(&budget);
        let mut b = Spool::new(&budget);
        a.chunk(Stream::Stdout, &[1; MEM_LIMIT]).await.unwrap();
        // Memory is used up: b's output goes to its file.
        b.chunk(Stream::Stdout, &[2; 900]).await.unwrap();
        assert_eq!(b.out.mem.len(), 10);
        assert_eq!(budget.disk.load(Ordering::Acquire), 890);
        let e = b.chunk(Stream::Stdout, &[2; 200]).await.unwrap_err();
        assert!(e.to_string().contains("--exec-spool-max 1000"), "{e}");
        assert_eq!(budget.disk.load(Ordering::Acquire), 890, "no partial grant");
        drop((a, b));
        assert_eq!(budget.mem.load(Ordering::Acquire), 0);
    }
}
