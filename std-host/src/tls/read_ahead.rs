//! [`ReadAhead`]: the socket under a TLS session, read a whole record at a
//! time.
//!
//! rustls pulls ciphertext through `read_tls`, which asks its transport
//! for at most 4 KiB per call, so a full 16 KiB record costs five `recv`
//! system calls. Under rustls this wrapper asks the socket once for up to
//! [`CHUNK`] bytes (a full record and the next header) and hands them out
//! from memory. The TLS echo benchmark (docs/BENCHMARKS.md) measured the
//! saving.
//!
//! The buffer exists only while data flows: it is allocated on the first
//! read that needs it and freed whenever it is drained and the socket has
//! nothing more (a read returns `Pending`), so an idle connection holds no
//! read buffer here. It is allocated uninitialised and the socket reads
//! into its spare capacity: zeroing 16.5 KiB on every allocation was ~2 %
//! of the server's CPU in the 256 x 16 KiB TLS echo (perf).
//!
//! Reads that are already large (a caller's buffer of at least [`CHUNK`])
//! go straight to the socket. Writes pass through untouched.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::io::poll_read_buf;

/// Bytes asked for per `recv`: the largest TLS record (16 KiB of data,
/// with its header, padding and tag) and the header of the next one.
pub const CHUNK: usize = 16 * 1024 + 512;

/// A transport read ahead in [`CHUNK`]s (see the module docs).
#[derive(Debug)]
pub struct ReadAhead<S> {
    inner: S,
    /// Read from the socket but not yet handed out: `buf[at..]`.
    buf: Option<Vec<u8>>,
    at: usize,
}

impl<S> ReadAhead<S> {
    /// Wraps a transport.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            buf: None,
            at: 0,
        }
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Bytes read ahead and not handed out yet.
    pub fn buffered(&self) -> usize {
        self.buf.as_ref().map_or(0, |b| b.len() - self.at)
    }

    /// Copies what is buffered into `out`; frees the buffer once drained.
    fn hand_out(&mut self, out: &mut ReadBuf<'_>) {
        let Some(buf) = &mut self.buf else { return };
        let n = out.remaining().min(buf.len() - self.at);
        out.put_slice(&buf[self.at..self.at + n]);
        self.at += n;
        if self.at == buf.len() {
            self.at = 0;
            buf.clear();
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadAhead<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.buffered() > 0 {
            this.hand_out(out);
            return Poll::Ready(Ok(()));
        }
        if out.remaining() >= CHUNK {
            this.buf = None;
            return Pin::new(&mut this.inner).poll_read(cx, out);
        }
        let buf = this.buf.get_or_insert_with(|| Vec::with_capacity(CHUNK));
        match poll_read_buf(Pin::new(&mut this.inner), cx, buf) {
            Poll::Pending => {
                // Nothing to read now: an idle connection keeps no buffer.
                this.buf = None;
                Poll::Pending
            }
            Poll::Ready(r) => {
                r?;
                this.hand_out(out);
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadAhead<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// Writes `data` in `chunks`-sized pieces into a pipe, reads it back
    /// through a `ReadAhead` with reads of `reads` bytes.
    fn round_trip(data: &[u8], chunk: usize, read: usize) -> Vec<u8> {
        rt().block_on(async {
            let (a, mut b) = tokio::io::duplex(64 * 1024);
            let data = data.to_vec();
            let writer = tokio::spawn(async move {
                for c in data.chunks(chunk.max(1)) {
                    b.write_all(c).await.unwrap();
                }
            });
            let mut r = ReadAhead::new(a);
            let mut got = Vec::new();
            let mut piece = vec![0u8; read.max(1)];
            loop {
                let n = r.read(&mut piece).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&piece[..n]);
            }
            writer.await.unwrap();
            got
        })
    }

    #[test]
    fn an_idle_transport_leaves_no_buffer() {
        rt().block_on(async {
            let (a, mut b) = tokio::io::duplex(1024);
            let mut r = ReadAhead::new(a);
            b.write_all(b"hello").await.unwrap();
            let mut small = [0u8; 2];
            r.read_exact(&mut small).await.unwrap();
            assert!(r.buf.is_some() && r.buffered() == 3);
            let mut rest = [0u8; 3];
            r.read_exact(&mut rest).await.unwrap();
            assert_eq!(&rest, b"llo");
            // Nothing arrives: the read is pending and the buffer gone.
            let pending =
                tokio::time::timeout(std::time::Duration::from_millis(20), r.read(&mut small))
                    .await;
            assert!(pending.is_err());
            assert!(r.buf.is_none(), "an idle connection kept its buffer");
        });
    }

    proptest! {
        #[test]
        fn any_chunking_and_read_size_gives_the_same_bytes(
            data in proptest::collection::vec(any::<u8>(), 0..70_000),
            chunk in 1usize..40_000,
            read in prop_oneof![1usize..5000, Just(CHUNK), Just(CHUNK + 7)],
        ) {
            prop_assert_eq!(round_trip(&data, chunk, read), data);
        }
    }
}
