//! `wirekit-bench echo` on Linux: TCP round trips of SIZE bytes on
//! `--conns` connections, driven from one thread with level-triggered
//! epoll, like [`super::udp`]. Each connection has exactly one message in
//! flight; when all of its echo is back, the round trip is recorded and
//! the next message goes out at once.
//!
//! Against one tokio task per connection this costs the generator less
//! per round trip (no `read` that finds nothing, no per-round-trip timer,
//! no task wakeups), so less of the two shared cores goes to measuring and
//! more to the server under test: the same for every server measured.
//! Over TLS (`--tls`) each flow's rustls connection is driven by hand in
//! the same loop ([`Wire`]).

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rustix::buffer::spare_capacity;
use rustix::event::{epoll, Timespec};
use rustix::fd::OwnedFd;

use super::load::run_blocking;
use super::stats::Stats;
use super::tls::Wire;
use super::Common;

/// How often stalled connections are looked for, and so the longest one
/// `epoll_wait` sleeps.
const SCAN: Duration = Duration::from_millis(10);

/// One connection with its message in flight.
struct Flow {
    wire: Wire,
    /// Bytes of the message written so far (the message is `size` bytes).
    written: usize,
    /// Bytes of its echo read so far.
    read: usize,
    sent: Instant,
    /// Whether the flow is registered for writability too.
    wants_out: bool,
    /// Stalled past the timeout or failed: no longer driven.
    dead: bool,
}

/// TCP echo round trips on already connected, non-blocking `wires`;
/// `label` names the run in the report.
pub async fn echo(wires: Vec<Wire>, c: &Common, size: usize, label: &str) -> anyhow::Result<()> {
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC).context("epoll_create")?;
    let mut flows = Vec::with_capacity(wires.len());
    for (i, wire) in wires.into_iter().enumerate() {
        let data = epoll::EventData::new_u64(i as u64);
        epoll::add(&ep, wire.sock(), data, epoll::EventFlags::IN).context("epoll_ctl")?;
        flows.push(Flow {
            wire,
            written: 0,
            read: 0,
            sent: Instant::now(),
            wants_out: false,
            dead: false,
        });
    }
    run_blocking(c, label, move |w, t| run(&ep, &mut flows, size, w, t)).await;
    Ok(())
}

/// The measurement loop, until the window's end.
fn run(
    ep: &OwnedFd,
    flows: &mut [Flow],
    size: usize,
    (start, end): (Instant, Instant),
    timeout: Duration,
) -> Stats {
    let mut d = Driver {
        ep,
        out: vec![b'x'; size],
        buf: vec![0u8; size.clamp(1, 1 << 20)],
        start,
        stats: Stats::default(),
    };
    let mut events = Vec::with_capacity(flows.len().max(1));
    let wait = Timespec {
        tv_sec: 0,
        tv_nsec: SCAN.as_nanos() as _,
    };
    for (i, f) in flows.iter_mut().enumerate() {
        f.sent = Instant::now();
        d.push(f, i);
    }
    let mut last_scan = Instant::now();
    loop {
        events.clear();
        if epoll::wait(ep, spare_capacity(&mut events), Some(&wait)).is_err() {
            d.stats.errors += 1;
        }
        let now = Instant::now();
        if now >= end {
            break;
        }
        for ev in &events {
            let i = ev.data.u64() as usize;
            if let Some(f) = flows.get_mut(i).filter(|f| !f.dead) {
                d.step(f, i, ev.flags);
            }
        }
        if now - last_scan >= SCAN {
            last_scan = now;
            for f in flows.iter_mut().filter(|f| !f.dead) {
                if now - f.sent >= timeout {
                    d.kill(f);
                }
            }
        }
    }
    d.stats
}

/// What every flow shares: the epoll set, the message, a read buffer and
/// the results.
struct Driver<'a> {
    ep: &'a OwnedFd,
    out: Vec<u8>,
    buf: Vec<u8>,
    start: Instant,
    stats: Stats,
}

impl Driver<'_> {
    /// Handles one readiness event of flow `i`: writes on, reads what came
    /// back, and when the echo is complete records it and sends the next.
    fn step(&mut self, f: &mut Flow, i: usize, flags: epoll::EventFlags) {
        if flags.contains(epoll::EventFlags::OUT) {
            self.push(f, i);
        }
        match self.pull(f) {
            Ok(true) => {
                let now = Instant::now();
                if f.sent >= self.start {
                    self.stats.record(now - f.sent);
                }
                (f.written, f.read, f.sent) = (0, 0, now);
                self.push(f, i);
            }
            Ok(false) => {}
            Err(()) => self.kill(f),
        }
    }

    /// Writes what the socket takes of the rest of the message (and of
    /// TLS records held back), and asks for writability only while some
    /// is left.
    fn push(&mut self, f: &mut Flow, i: usize) {
        while f.written < self.out.len() && !f.dead {
            match f.wire.send(&self.out[f.written..]) {
                Ok(n) => f.written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return self.kill(f),
            }
        }
        let Ok(held) = f.wire.pending() else {
            return self.kill(f);
        };
        let wants_out = f.written < self.out.len() || held;
        if wants_out != f.wants_out {
            let flags = match wants_out {
                true => epoll::EventFlags::IN | epoll::EventFlags::OUT,
                false => epoll::EventFlags::IN,
            };
            let data = epoll::EventData::new_u64(i as u64);
            if epoll::modify(self.ep, f.wire.sock(), data, flags).is_err() {
                return self.kill(f);
            }
            f.wants_out = wants_out;
        }
    }

    /// Reads what has arrived of the echo: `Ok(true)` once all of it is
    /// in, `Err` when the connection failed or the server closed it.
    fn pull(&mut self, f: &mut Flow) -> Result<bool, ()> {
        let size = self.out.len();
        while f.read < size {
            let want = (size - f.read).min(self.buf.len());
            match f.wire.recv(&mut self.buf[..want]) {
                Ok(0) => return Err(()),
                Ok(n) => f.read += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return Err(()),
            }
        }
        Ok(true)
    }

    /// Counts a failed or stalled connection once and stops driving it.
    fn kill(&mut self, f: &mut Flow) {
        self.stats.errors += 1;
        f.dead = true;
        let _ = epoll::delete(self.ep, f.wire.sock());
    }
}
