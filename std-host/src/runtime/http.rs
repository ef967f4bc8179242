//! The HTTP driver of `--metrics` and `--web`: an axum [`Router`] served
//! with limits a hostile peer cannot outwait.
//!
//! `axum::serve` accepts without bound and sets no timer, so a peer that
//! opens connections and never sends a request held a socket and a task
//! each, forever, in the same process (and file-descriptor budget) as every
//! other service. Here:
//! - a request head must arrive within [`HEADER_TIMEOUT`] (also between
//!   requests on a keep-alive connection: hyper restarts the timer whenever
//!   it waits for a head), else the connection is closed;
//! - at most [`MAX_CONNS`] connections are open, and at most
//!   [`MAX_PER_SOURCE`] from one address, so one source cannot shut out the
//!   Prometheus scraper or the operator's browser; connections over either
//!   limit are closed at once (rather than left in the kernel backlog, where
//!   they would queue ahead of legitimate ones);
//! - the limits also count upgraded WebSocket connections: the permit lives
//!   in the connection's I/O object, which the upgrade takes over.
//!
//! The runtime knows no service: callers hand in a finished router.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

/// Time a client has to send a complete request head.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections per endpoint, WebSockets included.
pub const MAX_CONNS: usize = 256;
/// Open connections per endpoint from one source address.
pub const MAX_PER_SOURCE: usize = 16;
/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Serves `router` on `listener` until `shutdown`, with the limits above.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let limits = Limits::new();
    let tasks = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                // EMFILE and friends: back off briefly instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = limits.admit(peer.ip()) else {
            drop(stream); // over a limit: closed at once
            continue;
        };
        let io = Held {
            stream,
            _slot: slot,
        };
        tasks.spawn(serve_conn(io, peer, router.clone(), shutdown.clone()));
    }
    tasks.close();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait()).await;
    Ok(())
}

async fn serve_conn(io: Held, peer: SocketAddr, router: Router, shutdown: CancellationToken) {
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        async move {
            let resp = router.oneshot(req.map(Body::new)).await;
            Ok::<_, Infallible>(resp.unwrap_or_else(|e| match e {}))
        }
    });
    // HTTP/1 only (all axum is built with here). hyper-util's version-
    // sniffing `auto` builder would wait for the first bytes without any
    // timer, which is exactly the idle peer this module is about.
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
        }
    }
}

/// Connection counting: a total semaphore and a per-address count.
#[derive(Clone)]
struct Limits {
    total: Arc<Semaphore>,
    per_source: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Limits {
    fn new() -> Self {
        Limits {
            total: Arc::new(Semaphore::new(MAX_CONNS)),
            per_source: Arc::default(),
        }
    }

    /// A slot for a connection from `ip`, or `None` over a limit.
    fn admit(&self, ip: IpAddr) -> Option<Slot> {
        let permit = self.total.clone().try_acquire_owned().ok()?;
        let mut map = self.per_source.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= MAX_PER_SOURCE {
            return None;
        }
        *n += 1;
        Some(Slot {
            _permit: permit,
            ip,
            per_source: self.per_source.clone(),
        })
    }
}

/// One admitted connection; gives its place back on drop.
struct Slot {
    _permit: OwnedSemaphorePermit,
    ip: IpAddr,
    per_source: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.per_source.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// A TCP stream that holds its [`Slot`] for as long as it lives, also after
/// a WebSocket upgrade has taken it over from hyper.
struct Held {
    stream: TcpStream,
    _slot: Slot,
}

impl AsyncRead for Held {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Held {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_source_cannot_take_every_slot() {
        let limits = Limits::new();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let held: Vec<_> = (0..MAX_PER_SOURCE)
            .map(|_| limits.admit(a).expect("under the limit"))
            .collect();
        assert!(limits.admit(a).is_none(), "over the per-source limit");
        assert!(limits.admit(b).is_some(), "another source still gets in");
        drop(held);
        assert!(limits.admit(a).is_some(), "slots come back on drop");
        assert!(limits.per_source.lock().unwrap().len() <= 1);
    }
}
