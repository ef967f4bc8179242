//! The UDP loop the datagram services use: one thread per socket receives
//! datagrams, asks the service for an answer to each, and sends them back.
//! On Linux it moves a batch of datagrams per system call
//! ([`super::udp_batch`]); elsewhere (or with `--udp-plain-loop`) one at a
//! time. Buffers are allocated once per socket, so memory does not depend
//! on traffic. Both loops send a reply only when the source's budget
//! ([`super::udp_budget`]) covers it.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::net::UdpSocket;
use tracing::debug;

use super::launch::Launch;
use super::udp_budget::Budget;
use prometheus_client::metrics::counter::Counter;

/// Receive buffer: one more than the largest IPv6 payload on loopback, so
/// an oversized datagram is seen as such rather than silently cut.
pub(super) const RECV_BUF: usize = 65_536;

/// How often a UDP service thread looks at the shutdown signal when idle.
const SHUTDOWN_POLL: Duration = Duration::from_millis(100);

/// A datagram service: given a request and its sender, writes the answer
/// into the buffer and returns its length, or `None` to stay silent.
pub trait UdpHandler: Send + 'static {
    /// Answers one datagram.
    fn answer(&mut self, request: &[u8], peer: SocketAddr, out: &mut [u8]) -> Option<usize>;
}

impl<F> UdpHandler for F
where
    F: FnMut(&[u8], SocketAddr, &mut [u8]) -> Option<usize> + Send + 'static,
{
    fn answer(&mut self, request: &[u8], peer: SocketAddr, out: &mut [u8]) -> Option<usize> {
        self(request, peer, out)
    }
}

impl Launch {
    /// Binds a UDP socket for `service` and announces it.
    pub fn bind_udp(&self, service: &'static str, addr: SocketAddr) -> anyhow::Result<UdpSocket> {
        let bind = || -> std::io::Result<UdpSocket> {
            let sock = std::net::UdpSocket::bind(addr)?;
            sock.set_nonblocking(true)?;
            UdpSocket::from_std(sock)
        };
        let sock = bind().with_context(|| format!("cannot bind {service} to udp {addr}"))?;
        self.announce(service, "udp", sock.local_addr()?);
        Ok(sock)
    }

    /// Binds `addr` and answers every datagram with `handler`.
    ///
    /// The loop runs on a blocking thread with a plain socket: a
    /// request/response datagram service gains nothing from the async
    /// reactor, and measured on loopback, the reactor's park/wake cycle per
    /// datagram cost more than the work (`docs/BENCHMARKS.md`). The read
    /// timeout bounds how long shutdown waits for the thread.
    pub fn udp<H: UdpHandler>(
        &self,
        service: &'static str,
        addr: SocketAddr,
        mut handler: H,
    ) -> anyhow::Result<()> {
        if self.tls_here {
            // `SERVICE+tls` of a TCP-and-UDP service: TLS is TCP's alone.
            tracing::info!(service, %addr, "+tls listener: the UDP half is not started");
            return Ok(());
        }
        let passed = self
            .activation
            .lock()
            .ok()
            .and_then(|mut a| a.take_udp(service, addr));
        let sock = match passed {
            Some(s) => Ok(s),
            None => std::net::UdpSocket::bind(addr),
        }
        .and_then(|s| s.set_nonblocking(false).map(|()| s))
        .and_then(|s| s.set_read_timeout(Some(SHUTDOWN_POLL)).map(|()| s))
        .with_context(|| format!("cannot bind {service} to udp {addr}"))?;
        self.announce(service, "udp", sock.local_addr()?);
        let shutdown = self.shutdown();
        let opts = &self.opts.udp;
        let counters = self.metrics_on.then(|| {
            let (rx, tx) = self.metrics.datagram_counters(service);
            let (rx_bytes, tx_bytes) = self.metrics.byte_counters(service);
            DatagramCounters {
                rx,
                tx,
                rx_bytes,
                tx_bytes,
            }
        });
        let mut gate = Gate {
            budget: Budget::new(opts),
            counters,
        };
        let plain = opts.udp_plain_loop || cfg!(not(target_os = "linux"));
        self.tracker.spawn_blocking(move || {
            if plain {
                serve_one_by_one(service, &sock, &mut handler, &mut gate, &shutdown);
            } else {
                #[cfg(target_os = "linux")]
                super::udp_batch::serve(service, &sock, &mut handler, &mut gate, &shutdown);
            }
        });
        Ok(())
    }
}

/// What stands between an answer and the wire: the per-source budget (if
/// any) and the datagram counters (if metrics are kept).
pub(super) struct Gate {
    budget: Option<Budget>,
    counters: Option<DatagramCounters>,
}

/// Received and sent datagrams and bytes of one UDP service.
pub(super) struct DatagramCounters {
    rx: Counter,
    tx: Counter,
    rx_bytes: Counter,
    tx_bytes: Counter,
}

impl Gate {
    /// Logs the budget's refusals (at most once per interval).
    pub(super) fn report(&mut self, service: &'static str, now: Instant) {
        if let Some(b) = &mut self.budget {
            b.report(service, now);
        }
    }

    /// A datagram of `len` bytes arrived.
    pub(super) fn arrived(&self, len: usize) {
        if let Some(c) = &self.counters {
            c.rx.inc();
            c.rx_bytes.inc_by(len as u64);
        }
    }

    /// Whether a reply of `len` bytes may go to `peer` now; counts it if so.
    pub(super) fn allow(&mut self, peer: SocketAddr, len: usize, now: Instant) -> bool {
        let ok = self
            .budget
            .as_mut()
            .is_none_or(|b| b.allow(peer.ip(), len, now));
        if let (true, Some(c)) = (ok, &self.counters) {
            c.tx.inc();
            c.tx_bytes.inc_by(len as u64);
        }
        ok
    }
}

/// The portable loop: one `recv_from` and one `send_to` per datagram.
fn serve_one_by_one<H: UdpHandler>(
    service: &'static str,
    sock: &std::net::UdpSocket,
    handler: &mut H,
    gate: &mut Gate,
    shutdown: &tokio_util::sync::CancellationToken,
) {
    let mut inbuf = vec![0u8; RECV_BUF];
    let mut outbuf = vec![0u8; RECV_BUF];
    while !shutdown.is_cancelled() {
        let (n, peer) = match sock.recv_from(&mut inbuf) {
            Ok(x) => x,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) => {
                // ICMP errors from earlier sends surface here; they concern
                // one peer, not the socket.
                debug!(service, error = %e, "recv failed");
                continue;
            }
        };
        debug!(service, %peer, len = n, "datagram");
        gate.arrived(n);
        let now = Instant::now();
        gate.report(service, now);
        let Some(m) = handler.answer(&inbuf[..n], peer, &mut outbuf) else {
            continue;
        };
        if gate.allow(peer, m, now) {
            if let Err(e) = sock.send_to(&outbuf[..m], peer) {
                debug!(service, %peer, error = %e, "send failed");
            }
        }
    }
}
