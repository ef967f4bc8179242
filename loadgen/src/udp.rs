//! `wirekit-bench udp` on Linux: request/response round trips on `--conns`
//! connected UDP sockets, driven from one thread with level-triggered
//! epoll. Each socket (a "flow") has exactly one request in flight; when
//! its reply arrives, the round trip is recorded and the next request goes
//! out at once.
//!
//! Compared with one tokio task per socket, a flow costs one `send` and one
//! `recv` per round trip (no `recv` that finds nothing and no per-request
//! timer), and one `epoll_wait` collects the replies of many flows.
//!
//! The loop sleeps in `epoll_wait` while no reply is there, as real
//! clients (the seeds' blocking `recvfrom`) do, so a server still pays
//! for waking its clients; a server that answers in batches pays once per
//! batch. (A busy-polling variant measured within the noise of this one.)

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rustix::buffer::spare_capacity;
use rustix::event::{epoll, Timespec};
use rustix::fd::OwnedFd;

use super::load::run_blocking;
use super::stats::Stats;
use super::Common;

/// How often lost requests are looked for, and so the longest one
/// `epoll_wait` sleeps.
const SCAN: Duration = Duration::from_millis(10);

/// One socket with its request in flight.
struct Flow {
    sock: UdpSocket,
    payload: Vec<u8>,
    sent: Instant,
}

/// UDP request/response on `c.conns` sockets.
pub async fn udp(addr: SocketAddr, c: &Common, payloads: Vec<Vec<u8>>) -> anyhow::Result<()> {
    let local: SocketAddr = if addr.is_ipv4() {
        "127.0.0.1:0".parse()?
    } else {
        "[::1]:0".parse()?
    };
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC).context("epoll_create")?;
    let mut flows = Vec::with_capacity(c.conns);
    for (i, payload) in payloads.into_iter().enumerate() {
        let sock = UdpSocket::bind(local)?;
        sock.connect(addr)?;
        sock.set_nonblocking(true)?;
        let data = epoll::EventData::new_u64(i as u64);
        epoll::add(&ep, &sock, data, epoll::EventFlags::IN).context("epoll_ctl")?;
        flows.push(Flow {
            sock,
            payload,
            sent: Instant::now(),
        });
    }
    let label = format!("udp conns={}", c.conns);
    run_blocking(c, &label, move |w, t| run(&ep, &mut flows, w, t)).await;
    Ok(())
}

/// The measurement loop, until the window's end.
fn run(
    ep: &OwnedFd,
    flows: &mut [Flow],
    (start, end): (Instant, Instant),
    timeout: Duration,
) -> Stats {
    let mut stats = Stats::default();
    let mut buf = vec![0u8; 65_536];
    let mut events = Vec::with_capacity(flows.len().max(1));
    let wait = Timespec {
        tv_sec: 0,
        tv_nsec: SCAN.as_nanos() as _,
    };
    for f in flows.iter_mut() {
        send(f, Instant::now());
    }
    let mut last_scan = Instant::now();
    loop {
        events.clear();
        if epoll::wait(ep, spare_capacity(&mut events), Some(&wait)).is_err() {
            stats.errors += 1;
        }
        let mut now = Instant::now();
        if now >= end {
            break;
        }
        for ev in &events {
            let Some(f) = flows.get_mut(ev.data.u64() as usize) else {
                continue;
            };
            match f.sock.recv(&mut buf) {
                Ok(_) => {
                    now = Instant::now();
                    if f.sent >= start {
                        stats.record(now - f.sent);
                    }
                    send(f, now);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                // Refused (the ICMP of an earlier request): count it, ask again.
                Err(_) => {
                    stats.errors += 1;
                    send(f, Instant::now());
                }
            }
        }
        if now - last_scan >= SCAN {
            last_scan = now;
            resend_lost(flows, timeout, now, &mut stats);
        }
    }
    stats
}

/// Sends the next request of a flow, noting when. A request that cannot
/// be sent is left to the timeout scan, which counts it lost.
fn send(f: &mut Flow, now: Instant) {
    f.sent = now;
    let _ = f.sock.send(&f.payload);
}

/// Counts requests without an answer after `timeout` as lost and sends
/// the next one, so a lost datagram does not stall its flow.
fn resend_lost(flows: &mut [Flow], timeout: Duration, now: Instant, s: &mut Stats) {
    for f in flows.iter_mut() {
        if now - f.sent >= timeout {
            s.errors += 1;
            send(f, now);
        }
    }
}
