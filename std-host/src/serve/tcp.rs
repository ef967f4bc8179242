//! The TCP accept loop every TCP service uses: a process-wide connection
//! limit with a clean refusal, TCP_NODELAY, an idle timeout, open/close log
//! lines with the peer address, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tracing::{info, warn};

use super::accept::{AcceptGuard, BUSY};
use super::conn::{Activity, Conn, ConnCtx, Tracked};
use super::launch::Launch;

/// Backlog for listening sockets: large enough for bursts of new
/// connections (the kernel caps it at `net.core.somaxconn`).
const BACKLOG: u32 = 4096;

/// A TCP service handler: called once per accepted connection. Returning
/// closes the connection; an `Err` is logged with the close line.
pub trait TcpHandler: Send + Sync + 'static {
    /// The future serving one connection.
    type Fut: Future<Output = anyhow::Result<()>> + Send + 'static;
    /// Serves one connection.
    fn call(&self, conn: Conn, ctx: ConnCtx) -> Self::Fut;
}

impl<F, Fut> TcpHandler for F
where
    F: Fn(Conn, ConnCtx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    type Fut = Fut;
    fn call(&self, conn: Conn, ctx: ConnCtx) -> Fut {
        self(conn, ctx)
    }
}

impl Launch {
    /// Binds `addr` for `service` and announces it; most services call
    /// [`Launch::tcp`] instead.
    pub fn bind_tcp(&self, service: &'static str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
        let bind = || -> std::io::Result<TcpListener> {
            let sock = if addr.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            sock.set_reuseaddr(true)?;
            sock.bind(addr)?;
            sock.listen(BACKLOG)
        };
        let listener =
            bind().with_context(|| format!("cannot listen for {service} on tcp {addr}"))?;
        self.announce(service, "tcp", listener.local_addr()?);
        Ok(listener)
    }

    /// Binds `addr` and serves every connection with `handler` on the
    /// shared accept loop.
    pub fn tcp<H: TcpHandler>(
        &self,
        service: &'static str,
        addr: SocketAddr,
        handler: H,
    ) -> anyhow::Result<()> {
        let listener = self.bind_tcp(service, addr)?;
        self.serve_tcp(service, listener, handler);
        Ok(())
    }

    /// Runs the accept loop on an already bound listener.
    pub fn serve_tcp<H: TcpHandler>(
        &self,
        service: &'static str,
        listener: TcpListener,
        handler: H,
    ) {
        let launch = self.clone();
        let handler = Arc::new(handler);
        self.spawn(async move {
            let mut guard = AcceptGuard::new(service);
            loop {
                let accepted = tokio::select! {
                    _ = launch.shutdown.cancelled() => break,
                    r = listener.accept() => r,
                };
                match accepted {
                    Ok((stream, peer)) => {
                        guard.accepted();
                        launch.admit(service, stream, peer, &handler, &mut guard);
                    }
                    // EMFILE and friends: refuse the client cleanly if
                    // possible, else back off; the listener stays usable.
                    Err(e) => {
                        tokio::select! {
                            _ = launch.shutdown.cancelled() => break,
                            () = guard.failed(&listener, e) => {}
                        }
                    }
                }
            }
            info!(service, "stopped accepting");
        });
    }

    fn admit<H: TcpHandler>(
        &self,
        service: &'static str,
        stream: TcpStream,
        peer: SocketAddr,
        handler: &Arc<H>,
        guard: &mut AcceptGuard,
    ) {
        let Ok(permit) = self.conn_limit.clone().try_acquire_owned() else {
            // A fresh socket's send buffer is empty, so this never blocks;
            // if it fails the close alone tells the client.
            let _ = stream.try_write(BUSY);
            if let Some(n) = guard.full.note(Instant::now()) {
                warn!(
                    service,
                    %peer,
                    refused = n,
                    "refused: connection limit reached (summarised every 10 s)"
                );
            }
            return;
        };
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        let conn = Tracked::new(stream, activity.clone());
        let ctx = ConnCtx {
            service,
            peer,
            shutdown: self.shutdown.clone(),
        };
        let idle = self.idle_timeout();
        let fut = handler.call(conn, ctx);
        self.spawn(async move {
            info!(service, %peer, "open");
            let outcome = tokio::select! {
                r = fut => r,
                _ = idle_watch(&activity, idle) => Err(anyhow::anyhow!("idle timeout")),
            };
            match outcome {
                Ok(()) => info!(service, %peer, "close"),
                Err(e) => info!(service, %peer, reason = %format!("{e:#}"), "close"),
            }
            drop(permit);
        });
    }
}

/// Completes once `activity` has been quiet for `idle`; never if `None`.
async fn idle_watch(activity: &Activity, idle: Option<Duration>) {
    let Some(idle) = idle else {
        return std::future::pending().await;
    };
    loop {
        let quiet = activity.idle_for();
        if quiet >= idle {
            return;
        }
        tokio::time::sleep(idle - quiet).await;
    }
}
