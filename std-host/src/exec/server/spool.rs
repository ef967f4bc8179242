//! A command's output held for a seed-dialect reply, which must start with
//! the output's size (and, in the JSON dialect, its md5): the first
//! [`MEM_LIMIT`] bytes of each stream in memory, the rest in an unnamed
//! temporary file (deleted by the OS when closed), so a connection whose
//! client does not read holds kilobytes of RAM, not the whole output.
//! Before, every such connection held its output up to the 16 MiB cap,
//! twice over while the reply was assembled.

use tokio::fs::File;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWrite, AsyncWriteExt as _};
use wirekit_core::md5::Md5;
use wirekit_core::wire::Digest;

use crate::exec::run::{Sink, Stream};

/// Bytes of each stream (stdout, stderr) kept in memory per connection.
pub(super) const MEM_LIMIT: usize = 64 * 1024;

/// Chunk size when reading a spool file back.
const CHUNK: usize = 64 * 1024;

/// One stream's bytes: memory first, then the file.
#[derive(Default)]
struct Part {
    mem: Vec<u8>,
    file: Option<File>,
    len: u64,
}

impl Part {
    async fn push(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.len += data.len() as u64;
        let room = MEM_LIMIT.saturating_sub(self.mem.len()).min(data.len());
        self.mem.extend_from_slice(&data[..room]);
        let rest = &data[room..];
        if rest.is_empty() {
            return Ok(());
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
#[derive(Default)]
pub(super) struct Spool {
    out: Part,
    err: Part,
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
    /// A reply body given whole (a refusal text).
    pub(super) fn of(text: &[u8]) -> Spool {
        Spool {
            out: Part {
                mem: text.to_vec(),
                file: None,
                len: text.len() as u64,
            },
            err: Part::default(),
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
        Ok(Digest(h.finalize()))
    }

    /// Writes stdout, then stderr, to `to`.
    pub(super) async fn send(&mut self, to: &mut (impl AsyncWrite + Unpin)) -> std::io::Result<()> {
        let mut buf = vec![0u8; CHUNK];
        for part in [&mut self.out, &mut self.err] {
            to.write_all(&part.mem).await?;
            part.rewind().await?;
            loop {
                let n = part.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                to.write_all(&buf[..n]).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_order_and_spills_to_a_file() {
        let mut s = Spool::default();
        let big: Vec<u8> = (0..3 * MEM_LIMIT).map(|i| (i % 251) as u8).collect();
        s.chunk(Stream::Stderr, b"err").await.unwrap();
        s.chunk(Stream::Stdout, &big[..10]).await.unwrap();
        s.chunk(Stream::Stdout, &big[10..]).await.unwrap();
        assert!(s.out.mem.len() == MEM_LIMIT && s.out.file.is_some());
        let mut want = big.clone();
        want.extend_from_slice(b"err");
        assert_eq!(s.len(), want.len() as u64);
        assert_eq!(s.md5().await.unwrap(), Digest::of(&want));
        let mut got = Vec::new();
        s.send(&mut got).await.unwrap();
        assert_eq!(got, want, "sent whole, and again after the md5 pass");
        assert_eq!(Spool::of(b"x").len(), 1);
    }
}
