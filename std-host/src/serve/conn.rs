//! A TCP connection as a service handler sees it: the socket wrapped so
//! that every byte moved in either direction counts as activity, which is
//! what the accept loop's idle timeout watches. Handlers never have to
//! remember to "touch" anything.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// When bytes last moved on a connection, shared between the connection's
/// streams and the idle watchdog.
#[derive(Debug, Clone)]
pub struct Activity(Arc<AtomicU64>);

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
        Activity(Arc::new(AtomicU64::new(now_ms())))
    }

    /// Records activity now (the tracked streams call this themselves;
    /// services call it only for progress that moves no bytes).
    pub fn touch(&self) {
        self.0.store(now_ms(), Ordering::Relaxed);
    }

    /// How long since the last activity.
    pub fn idle_for(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.0.load(Ordering::Relaxed)))
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
pub type Conn = Tracked<TcpStream>;

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

impl Tracked<TcpStream> {
    /// Borrowing split into tracked read and write halves (no locking).
    pub fn split(
        &mut self,
    ) -> (
        Tracked<tokio::net::tcp::ReadHalf<'_>>,
        Tracked<tokio::net::tcp::WriteHalf<'_>>,
    ) {
        let (r, w) = self.inner.split();
        (
            Tracked::new(r, self.activity.clone()),
            Tracked::new(w, self.activity.clone()),
        )
    }

    /// Owned split, for handlers that move the halves into separate tasks.
    pub fn into_split(
        self,
    ) -> (
        Tracked<tokio::net::tcp::OwnedReadHalf>,
        Tracked<tokio::net::tcp::OwnedWriteHalf>,
    ) {
        let (r, w) = self.inner.into_split();
        (
            Tracked::new(r, self.activity.clone()),
            Tracked::new(w, self.activity),
        )
    }

    /// Waits until the socket may be readable, without reading. It can
    /// complete spuriously (even on a connection where nothing arrived), so
    /// do not allocate on it: read into a small buffer first instead.
    pub async fn readable(&self) -> io::Result<()> {
        self.inner.readable().await
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
            self.activity.touch();
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
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
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
