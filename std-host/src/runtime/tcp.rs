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
use super::stream::Stream;
use crate::tls::read_ahead::ReadAhead;
use crate::tls::server::ServerTls;

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
        let passed = self.take_passed_tcp(service, addr);
        let bind = || -> std::io::Result<TcpListener> {
            if let Some(l) = passed {
                l.set_nonblocking(true)?;
                return TcpListener::from_std(l);
            }
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

    /// The listener systemd passed for this service and address, if any.
    fn take_passed_tcp(&self, service: &str, addr: SocketAddr) -> Option<std::net::TcpListener> {
        self.activation.lock().ok()?.take_tcp(service, addr)
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
            self.metrics.refused(service, "busy");
            self.events.publish("refused", service, peer, "busy".into());
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
        let ctx = ConnCtx {
            service,
            peer,
            shutdown: self.shutdown.clone(),
        };
        let tls = self.tls.clone().filter(|_| self.tls_here);
        let handler = Arc::clone(handler);
        let launch = self.clone();
        self.spawn(async move {
            let _permit = permit;
            launch.run_conn(stream, tls, handler, ctx).await;
        });
    }

    /// One connection from accept to close: the TLS handshake if the
    /// listener has one, the handler raced against the idle timeout, the
    /// counters, and one close line with bytes and duration.
    async fn run_conn<H: TcpHandler>(
        &self,
        tcp: TcpStream,
        tls: Option<ServerTls>,
        handler: Arc<H>,
        ctx: ConnCtx,
    ) {
        let (service, peer) = (ctx.service, ctx.peer);
        let start = Instant::now();
        self.metrics.accepted(service);
        let stream = match tls {
            None => Stream::Plain(tcp),
            Some(tls) => match tls.accept(ReadAhead::new(tcp)).await {
                Ok(s) => Stream::Tls(Box::new(s)),
                Err(e) => {
                    self.metrics.error(service, "tls_handshake");
                    self.metrics.closed(service);
                    info!(service, %peer, reason = %format!("{e:#}"), "close");
                    return;
                }
            },
        };
        let counters = self.metrics_on.then(|| self.metrics.byte_counters(service));
        let activity = Activity::counting(counters);
        let conn = Tracked::new(stream, activity.clone());
        let idle = self.idle_timeout();
        info!(service, %peer, "open");
        self.events.publish("open", service, peer, String::new());
        let outcome = tokio::select! {
            r = handler.call(conn, ctx) => r,
            _ = idle_watch(&activity, idle) => {
                self.metrics.idle_timeout(service);
                Err(anyhow::anyhow!("idle timeout"))
            }
        };
        self.metrics.closed(service);
        activity.flush();
        let (rx, tx) = activity.bytes();
        let secs = start.elapsed().as_secs_f64();
        let detail = format!("rx {rx} B, tx {tx} B, {secs:.1} s");
        self.events.publish("close", service, peer, detail);
        match outcome {
            Ok(()) => info!(service, %peer, rx, tx, secs, "close"),
            Err(e) => info!(service, %peer, rx, tx, secs, reason = %format!("{e:#}"), "close"),
        }
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
