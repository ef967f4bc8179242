//! `wirekit-bench chat --rate LINES` on Linux: the open-loop fan-out
//! measurement of [`super::chat_rate`], with every client read from one
//! thread through level-triggered epoll instead of a tokio task each.
//!
//! Per delivered line the task-per-client reader paid a task wake, a
//! `BufReader` fill and a shared atomic; here it is one `recv` and a scan
//! of the bytes. With thousands of clients the generator reads
//! 150,000 lines a second on the same two cores as the nodes it measures,
//! so what it saves goes to the nodes. The sequence is the same as the
//! task version's: connect (reading from the first connection on, so
//! early members are never dropped as slow during the join storm), repeat
//! `bench join` until every client has seen it, wait until the room is
//! quiet, say numbered lines at the rate, wait for the last deliveries.

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rustix::buffer::spare_capacity;
use rustix::event::{epoll, Timespec};
use rustix::fd::OwnedFd;

use super::chat_clients::{report_quiet, MAX_LINE, QUIET};
use super::load::cpu_ticks;
use super::stats::Stats;
use super::Common;

/// One client: its socket and the start of a line not yet complete.
struct Client {
    sock: TcpStream,
    partial: Vec<u8>,
    /// Inside a line longer than [`MAX_LINE`]: skipped up to its newline.
    overlong: bool,
    joined: bool,
    dead: bool,
}

/// The run's state, all on one thread.
struct Driver {
    ep: OwnedFd,
    clients: Vec<Client>,
    events: Vec<epoll::Event>,
    buf: Vec<u8>,
    joined: usize,
    last_read: Instant,
    /// Clients that have line n, and when the last one got it.
    got: Vec<usize>,
    done: Vec<Option<Instant>>,
}

/// Runs the measurement at `rate` lines a second for `c.secs`, saying
/// `lines` lines in all, with the clients spread over `addrs`.
pub(super) async fn run(
    addrs: &[SocketAddr],
    c: &Common,
    rate: f64,
    lines: usize,
) -> anyhow::Result<()> {
    let (nodes, c2) = (addrs.to_vec(), c.clone());
    let stats = tokio::task::spawn_blocking(move || -> anyhow::Result<(Stats, Duration)> {
        let mut d = Driver::new(lines)?;
        d.connect_all(&nodes, &c2)?;
        d.await_joined(&c2)?;
        d.await_quiet(c2.timeout);
        Ok(d.measure(rate, lines, c2.timeout))
    })
    .await
    .context("the chat driver thread failed")??;
    let what = format!("chat nodes={} conns={} rate={rate}", addrs.len(), c.conns);
    stats.0.report(&what, stats.1);
    Ok(())
}

impl Driver {
    fn new(lines: usize) -> anyhow::Result<Driver> {
        Ok(Driver {
            ep: epoll::create(epoll::CreateFlags::CLOEXEC).context("epoll_create")?,
            clients: Vec::new(),
            events: Vec::with_capacity(1024),
            buf: vec![0u8; 64 * 1024],
            joined: 0,
            last_read: Instant::now(),
            got: vec![0; lines],
            done: vec![None; lines],
        })
    }

    /// Connects `c.conns` clients over `addrs` in turn, reading what has
    /// arrived for those already connected after each connection.
    fn connect_all(&mut self, addrs: &[SocketAddr], c: &Common) -> anyhow::Result<()> {
        anyhow::ensure!(c.conns >= 1, "--conns must be at least 1");
        for i in 0..c.conns {
            let addr = addrs[i % addrs.len()];
            let sock = TcpStream::connect_timeout(&addr, c.timeout)
                .with_context(|| format!("connection {i} to {addr} failed"))?;
            let _ = sock.set_nodelay(true);
            sock.set_nonblocking(true)?;
            let data = epoll::EventData::new_u64(i as u64);
            epoll::add(&self.ep, &sock, data, epoll::EventFlags::IN).context("epoll_ctl")?;
            self.clients.push(Client {
                sock,
                partial: Vec::new(),
                overlong: false,
                joined: false,
                dead: false,
            });
            self.poll(Duration::ZERO);
        }
        Ok(())
    }

    /// Says `bench join` from the first client every 500 ms until every
    /// client has seen it (a server registers a client some time after
    /// accepting it), for at most 4 × `--timeout`.
    fn await_joined(&mut self, c: &Common) -> anyhow::Result<()> {
        let deadline = Instant::now() + c.timeout * 4;
        while self.joined < self.clients.len() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "only {} of {} clients joined in time",
                self.joined,
                self.clients.len()
            );
            self.say(b"bench join\n", deadline)?;
            let retry = Instant::now() + Duration::from_millis(500);
            while self.joined < self.clients.len() && Instant::now() < retry {
                self.poll(retry.saturating_duration_since(Instant::now()));
            }
        }
        Ok(())
    }

    /// Reads until nothing has arrived for [`QUIET`] (at most `limit`):
    /// joins published late by the nodes still bring notices to everyone,
    /// and lines said meanwhile would measure that storm.
    fn await_quiet(&mut self, limit: Duration) {
        let started = Instant::now();
        while self.last_read.elapsed() < QUIET && started.elapsed() < limit {
            self.poll(QUIET.saturating_sub(self.last_read.elapsed()));
        }
        report_quiet(started.elapsed(), limit);
    }

    /// Says `lines` numbered lines at `rate` (a late tick is made up at
    /// once, so the offered rate stays `rate`), then reads until every
    /// client has them all or `timeout` passed; one sample per line.
    fn measure(&mut self, rate: f64, lines: usize, timeout: Duration) -> (Stats, Duration) {
        let every = Duration::from_secs_f64(1.0 / rate);
        let cpu = cpu_ticks(std::process::id()).ok();
        let start = Instant::now();
        let mut sent = Vec::with_capacity(lines);
        for n in 0..lines {
            let tick = start + every * n as u32;
            while Instant::now() < tick {
                self.poll(tick - Instant::now());
            }
            sent.push(Instant::now());
            // A line that could not be said never completes: an error below.
            let _ = self.say(format!("bench {n}\n").as_bytes(), tick + timeout);
        }
        let elapsed = start.elapsed();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline && self.done.iter().any(Option::is_none) {
            self.poll(deadline - Instant::now());
        }
        let mut stats = Stats::default();
        let cpu_end = cpu_ticks(std::process::id()).ok();
        stats.client_cpu_ticks = cpu.zip(cpu_end).map(|(a, b)| b.since(a));
        for (sent, done) in sent.iter().zip(&self.done) {
            match done {
                Some(d) => stats.record(d.saturating_duration_since(*sent)),
                None => stats.errors += 1,
            }
        }
        (stats, elapsed)
    }

    /// Writes `line` from the first client, reading the others while its
    /// socket is full (which cannot block forever: the room drains it).
    fn say(&mut self, mut line: &[u8], deadline: Instant) -> anyhow::Result<()> {
        while !line.is_empty() {
            match self.clients[0].sock.write(line) {
                Ok(n) => line = &line[n..],
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    anyhow::ensure!(Instant::now() < deadline, "the sender's socket stayed full");
                    self.poll(Duration::from_millis(1));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e).context("the sender's socket failed"),
            }
        }
        Ok(())
    }

    /// Waits at most `wait` for readable clients and reads each once.
    fn poll(&mut self, wait: Duration) {
        let wait = Timespec {
            tv_sec: wait.as_secs() as _,
            tv_nsec: wait.subsec_nanos() as _,
        };
        self.events.clear();
        if epoll::wait(&self.ep, spare_capacity(&mut self.events), Some(&wait)).is_err() {
            return;
        }
        for k in 0..self.events.len() {
            let i = self.events[k].data.u64() as usize;
            self.read(i);
        }
    }

    /// Reads what client `i` has (one `recv`: level-triggered epoll
    /// reports it again if more is left) and handles its whole lines.
    fn read(&mut self, i: usize) {
        let Some(client) = self.clients.get_mut(i).filter(|c| !c.dead) else {
            return;
        };
        // Taken out while its lines are handled (which needs `self`).
        let mut buf = std::mem::take(&mut self.buf);
        match client.sock.read(&mut buf) {
            Ok(0) => self.kill(i),
            Ok(n) => {
                self.last_read = Instant::now();
                self.lines(i, &buf[..n]);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            Err(_) => self.kill(i),
        }
        self.buf = buf;
    }

    /// Handles the whole lines in `bytes` read from client `i` and keeps
    /// the start of an incomplete one.
    fn lines(&mut self, i: usize, mut bytes: &[u8]) {
        while let Some(end) = bytes.iter().position(|b| *b == b'\n') {
            let client = &mut self.clients[i];
            let said = if std::mem::replace(&mut client.overlong, false) {
                None
            } else if client.partial.is_empty() {
                said(&bytes[..end])
            } else {
                client.partial.extend_from_slice(&bytes[..end]);
                said(&client.partial)
            };
            client.partial.clear();
            bytes = &bytes[end + 1..];
            match said {
                Some(Said::Join) => self.joined_once(i),
                Some(Said::Line(n)) => self.line(n),
                None => {}
            }
        }
        let client = &mut self.clients[i];
        if client.partial.len() + bytes.len() > MAX_LINE {
            // A line longer than any chat server sends: skipped, not kept.
            client.partial.clear();
            client.overlong = true;
        } else if !client.overlong {
            client.partial.extend_from_slice(bytes);
        }
    }

    fn joined_once(&mut self, i: usize) {
        if !std::mem::replace(&mut self.clients[i].joined, true) {
            self.joined += 1;
        }
    }

    fn line(&mut self, n: usize) {
        if let Some(got) = self.got.get_mut(n) {
            *got += 1;
            if *got == self.clients.len() {
                self.done[n] = Some(Instant::now());
            }
        }
    }

    /// Stops reading a client that failed or was closed (its lines then
    /// never complete: they count as errors).
    fn kill(&mut self, i: usize) {
        let client = &mut self.clients[i];
        client.dead = true;
        let _ = epoll::delete(&self.ep, &client.sock);
    }
}

/// What a line from the room means to the generator.
enum Said {
    Join,
    Line(usize),
}

/// `bench join` or `bench N` (the body line of a frame); anything else
/// (headers, notices, other senders) means nothing here.
fn said(line: &[u8]) -> Option<Said> {
    let rest = line.strip_prefix(b"bench ")?.trim_ascii();
    if rest == b"join" {
        return Some(Said::Join);
    }
    std::str::from_utf8(rest).ok()?.parse().ok().map(Said::Line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bench_lines_and_nothing_else() {
        assert!(matches!(said(b"bench join"), Some(Said::Join)));
        assert!(matches!(said(b"bench 42\r"), Some(Said::Line(42))));
        assert!(said(b"bench").is_none());
        assert!(said(b"* bench 1 joined").is_none());
        assert!(said(b"bench -1").is_none());
        assert!(said(b"").is_none());
    }
}
