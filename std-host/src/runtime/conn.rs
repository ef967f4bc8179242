//! A TCP connection as a service handler sees it: the stream (plain or
//! TLS, see [`super::stream`]) wrapped so that every byte moved in either
//! direction counts as activity, which is what the accept loop's idle
//! timeout watches, and is added to the connection's and the service's
//! byte counters (metrics, the close log line). Handlers never have to
//! remember to "touch" or count anything.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf, WriteHalf};
use tokio_util::sync::CancellationToken;

use super::stream::Stream;

/// When bytes last moved on a connection and how many, shared between the
/// connection's streams, the idle watchdog and the close log line.
#[derive(Debug, Clone)]
pub struct Activity(Arc<Moves>);

#[derive(Debug, Default)]
struct Moves {
    last_ms: AtomicU64,
    rx: AtomicU64,
    tx: AtomicU64,
    /// How much of `rx`/`tx` the service counters already have.
    rx_told: AtomicU64,
    tx_told: AtomicU64,
    /// The service's counters (received, sent), when metrics are kept.
    service: Option<(Counter, Counter)>,
}

/// Bytes a connection moves before it adds them to its service's counter.
/// The service counter is one cache line shared by every connection on
/// every worker thread: adding to it per read and write made small-message
/// echo measurably slower; per 64 KiB (and at close) it costs nothing.
const TELL_EVERY: u64 = 64 * 1024;

/// Adds what `total` has beyond `told` to `counter` once that is at least
/// `min` bytes.
fn tell(total: u64, told: &AtomicU64, counter: &Counter, min: u64) {
    let done = told.load(Ordering::Relaxed);
    if total.saturating_sub(done) >= min.max(1) {
        let before = told.swap(total, Ordering::Relaxed);
        counter.inc_by(total.saturating_sub(before));
    }
}

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    u64::try_from(base().elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Activity {
    /// A clock that says "active now".
    pub fn new() -> Self {
        Self::counting(None)
    }

    /// Like [`Activity::new`], also adding to the service's byte counters.
    pub fn counting(service: Option<(Counter, Counter)>) -> Self {
        Activity(Arc::new(Moves {
            last_ms: AtomicU64::new(now_ms()),
            service,
            ..Moves::default()
        }))
    }

    /// Records activity now (the tracked streams call this themselves;
    /// services call it only for progress that moves no bytes).
    pub fn touch(&self) {
        self.0.last_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// `n` bytes arrived.
    pub fn received(&self, n: usize) {
        self.touch();
        let total = self.0.rx.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if let Some((rx, _)) = &self.0.service {
            tell(total, &self.0.rx_told, rx, TELL_EVERY);
        }
    }

    /// `n` bytes left.
    pub fn sent(&self, n: usize) {
        self.touch();
        let total = self.0.tx.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if let Some((_, tx)) = &self.0.service {
            tell(total, &self.0.tx_told, tx, TELL_EVERY);
        }
    }

    /// Adds every byte not yet counted to the service counters (at close).
    pub fn flush(&self) {
        if let Some((rx, tx)) = &self.0.service {
            let (r, t) = self.bytes();
            tell(r, &self.0.rx_told, rx, 1);
            tell(t, &self.0.tx_told, tx, 1);
        }
    }

    /// Bytes (received, sent) so far.
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.0.rx.load(Ordering::Relaxed),
            self.0.tx.load(Ordering::Relaxed),
        )
    }

    /// How long since the last activity.
    pub fn idle_for(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.0.last_ms.load(Ordering::Relaxed)))
    }
}

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

/// A stream (or stream half) that records [`Activity`] whenever a read or
/// write moves at least one byte.
#[derive(Debug)]
pub struct Tracked<S> {
    inner: S,
    activity: Activity,
}

/// The TCP connection handed to a service handler.
pub type Conn = Tracked<Stream>;

impl<S> Tracked<S> {
    /// Wraps `inner`, reporting to `activity`.
    pub fn new(inner: S, activity: Activity) -> Self {
        Tracked { inner, activity }
    }

    /// The wrapped stream (I/O on it directly is not tracked).
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The activity clock this stream reports to.
    pub fn activity(&self) -> &Activity {
        &self.activity
    }

    /// The stream and its activity clock, for handlers that move bytes
    /// themselves (e.g. on a blocking thread) and touch the clock.
    pub fn into_parts(self) -> (S, Activity) {
        (self.inner, self.activity)
    }
}

impl Tracked<Stream> {
    /// Owned split, for handlers that move the halves into separate tasks.
    pub fn into_split(self) -> (Tracked<ReadHalf<Stream>>, Tracked<WriteHalf<Stream>>) {
        let (r, w) = tokio::io::split(self.inner);
        (
            Tracked::new(r, self.activity.clone()),
            Tracked::new(w, self.activity),
        )
    }

    /// Reads whatever has already arrived, without waiting (`WouldBlock`
    /// when nothing has); counted like any read.
    pub fn try_read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let n = self.inner.try_read_buf(buf)?;
        if n > 0 {
            self.activity.received(n);
        }
        Ok(n)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.received(buf.filled().len() - before);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n @ 1..)) = r {
            self.activity.sent(n);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What a TCP handler knows besides its socket.
#[derive(Debug, Clone)]
pub struct ConnCtx {
    /// The service name from the registry, for logs.
    pub service: &'static str,
    /// The peer's address.
    pub peer: SocketAddr,
    /// Cancelled when the server starts shutting down: long-lived handlers
    /// should select on `shutdown.cancelled()`, tell their client if the
    /// protocol allows, and return within the shutdown grace period.
    pub shutdown: CancellationToken,
}

impl ConnCtx {
    /// True once the server is shutting down.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }
}
