//! The server side of a files connection: one bounded read buffer that
//! decoders borrow (`buf[lo..hi]`, reporting how many bytes they used),
//! so no byte is copied twice and memory stays fixed whatever the size.
//!
//! All waiting on the peer is async: an idle connection costs a small
//! task and no thread. The buffer is allocated only once bytes arrive,
//! small at first, and grows to [`BUF`] only for a transfer's data.

use std::io;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_util::sync::CancellationToken;

/// Read buffer size during a transfer: large enough to keep a loopback
/// transfer at memory speed.
pub const BUF: usize = 256 * 1024;
/// Read buffer size between transfers: requests are small, and thousands
/// of idle connections must not hold [`BUF`] each.
const SMALL: usize = 8 * 1024;

/// A socket and its read buffer.
pub struct AsyncConn {
    /// The socket; every byte moved counts as activity for the idle watch.
    pub stream: crate::runtime::Conn,
    /// The buffer; `buf[lo..hi]` is received but not yet consumed.
    pub buf: Vec<u8>,
    /// Start of the unconsumed bytes.
    pub lo: usize,
    /// End of the received bytes.
    pub hi: usize,
    /// Cancelled when the server starts shutting down.
    pub shutdown: CancellationToken,
    /// Where transfers are counted and shown.
    pub report: super::host_store::Report,
    /// The listener's address is a loopback one (the upload policy).
    pub loopback: bool,
}

impl AsyncConn {
    /// Wraps a connected socket.
    pub fn new(stream: crate::runtime::Conn, shutdown: CancellationToken) -> AsyncConn {
        AsyncConn {
            stream,
            buf: Vec::new(),
            lo: 0,
            hi: 0,
            shutdown,
            report: Default::default(),
            loopback: false,
        }
    }

    /// True if no received byte is waiting.
    pub fn is_drained(&self) -> bool {
        self.lo == self.hi
    }

    /// Makes the buffer [`BUF`] bytes long (before a transfer's data).
    pub fn grow(&mut self) {
        if self.buf.len() < BUF {
            self.buf.resize(BUF, 0);
        }
    }

    /// Gives back a transfer-sized buffer once it is drained.
    pub fn shrink(&mut self) {
        if self.is_drained() && self.buf.len() > SMALL {
            self.buf = Vec::new();
            (self.lo, self.hi) = (0, 0);
        }
    }

    /// Reads more bytes after the unconsumed ones; `Ok(0)` is end of stream.
    pub async fn fill(&mut self) -> io::Result<usize> {
        if self.lo == self.hi {
            self.lo = 0;
            self.hi = 0;
        } else if self.hi == self.buf.len() {
            self.buf.copy_within(self.lo..self.hi, 0);
            self.hi -= self.lo;
            self.lo = 0;
        }
        if self.buf.is_empty() {
            // Nothing is allocated until the peer has said something (a
            // readiness wait alone can wake spuriously).
            let mut first = [0u8; 128];
            let n = self.stream.read(&mut first).await?;
            if n > 0 {
                self.buf.resize(SMALL, 0);
                self.buf[..n].copy_from_slice(&first[..n]);
                self.hi = n;
            }
            return Ok(n);
        } else if self.hi == self.buf.len() {
            self.grow();
        }
        let n = self.stream.read(&mut self.buf[self.hi..]).await?;
        self.hi += n;
        Ok(n)
    }

    /// [`AsyncConn::fill`], unless the server starts shutting down first
    /// (`None`; not looked at once `stopping`, when the session already
    /// knows and only the client's bytes matter).
    pub async fn fill_unless_stopped(&mut self, stopping: bool) -> io::Result<Option<usize>> {
        if stopping {
            return self.fill().await.map(Some);
        }
        let stop = self.shutdown.clone();
        tokio::select! {
            biased;
            _ = stop.cancelled() => Ok(None),
            n = self.fill() => n.map(Some),
        }
    }

    /// Fills only if nothing is buffered; `Ok(false)` at end of stream.
    pub async fn fill_if_drained(&mut self) -> io::Result<bool> {
        Ok(!self.is_drained() || self.fill().await? > 0)
    }

    /// Like [`AsyncConn::fill_if_drained`] while waiting for the client's
    /// next request: `Ok(None)` once the server is shutting down (checked
    /// first, so no new request starts then).
    pub async fn next_request(&mut self) -> io::Result<Option<bool>> {
        if self.shutdown.is_cancelled() {
            return Ok(None);
        }
        let stop = self.shutdown.clone();
        tokio::select! {
            biased;
            _ = stop.cancelled() => Ok(None),
            more = self.fill_if_drained() => more.map(Some),
        }
    }

    /// Writes all of `bytes` to the socket.
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }
}
