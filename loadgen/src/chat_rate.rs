//! `wirekit-bench chat --rate LINES`: open-loop fan-out latency. The
//! clients (spread over one or more nodes of a shared room) join, then the
//! first says numbered lines at a fixed rate whatever the latency; each
//! sample is the time from saying a line until the last client has read
//! it. A line some client never got within `--timeout` after the run
//! counts as an error.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::time::{Instant, MissedTickBehavior};

use super::chat_clients::{join_all, Joins, Tally};
use super::load::cpu_ticks;
use super::stats::Stats;
use super::Common;

/// Most lines one run may say (the tracking arrays are this long).
const MAX_LINES: usize = 10_000_000;

/// Per-line send and completion times, shared with the readers.
struct Track {
    joins: Joins,
    base: Instant,
    /// Nanoseconds since `base` (+1; 0 = not yet) when line n was said.
    sent: Vec<AtomicU64>,
    /// Readers that have line n.
    got: Vec<AtomicUsize>,
    /// Nanoseconds since `base` (+1; 0 = not yet) when the last reader
    /// got line n.
    done: Vec<AtomicU64>,
}

impl Track {
    fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64 + 1
    }
}

impl Tally for Track {
    fn joins(&self) -> &Joins {
        &self.joins
    }

    fn line(&self, n: u64) {
        let Some(n) = usize::try_from(n).ok().filter(|n| *n < self.got.len()) else {
            return;
        };
        if self.got[n].fetch_add(1, Ordering::AcqRel) + 1 == self.joins.conns {
            self.done[n].store(self.now(), Ordering::Release);
        }
    }
}

/// Runs the open-loop measurement at `rate` lines a second for `c.secs`,
/// the clients read by tokio tasks if `task_readers` (always where there
/// is no epoll), else from one epoll loop ([`super::chat_epoll`]).
pub async fn run(
    addrs: &[SocketAddr],
    c: &Common,
    rate: f64,
    task_readers: bool,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        rate.is_finite() && (0.1..=100_000.0).contains(&rate),
        "--rate must be 0.1 to 100000"
    );
    let lines = (rate * c.secs.as_secs_f64()).ceil() as usize;
    anyhow::ensure!(
        lines <= MAX_LINES,
        "--rate × --secs is over {MAX_LINES} lines"
    );
    #[cfg(target_os = "linux")]
    if !task_readers {
        return super::chat_epoll::run(addrs, c, rate, lines).await;
    }
    let _ = task_readers;
    tasks(addrs, c, rate, lines).await
}

/// The measurement with a tokio task reading each client.
async fn tasks(addrs: &[SocketAddr], c: &Common, rate: f64, lines: usize) -> anyhow::Result<()> {
    let track = Arc::new(Track {
        joins: Joins::new(c.conns),
        base: Instant::now(),
        sent: (0..lines).map(|_| AtomicU64::new(0)).collect(),
        got: (0..lines).map(|_| AtomicUsize::new(0)).collect(),
        done: (0..lines).map(|_| AtomicU64::new(0)).collect(),
    });
    let mut writers = join_all(addrs, c, &track).await?;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    // A late tick is made up at once: the offered rate stays `rate`.
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let cpu = cpu_ticks(std::process::id()).ok();
    let start = Instant::now();
    for n in 0..lines {
        tick.tick().await;
        track.sent[n].store(track.now(), Ordering::Release);
        writers[0]
            .write_all(format!("bench {n}\n").as_bytes())
            .await?;
    }
    let elapsed = start.elapsed();
    let deadline = Instant::now() + c.timeout;
    while Instant::now() < deadline && track.done.iter().any(|d| d.load(Ordering::Acquire) == 0) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut stats = Stats::default();
    let cpu_end = cpu_ticks(std::process::id()).ok();
    stats.client_cpu_ticks = cpu.zip(cpu_end).map(|(a, b)| b.since(a));
    for (sent, done) in track.sent.iter().zip(&track.done) {
        match done.load(Ordering::Acquire) {
            0 => stats.errors += 1,
            d => stats.record(Duration::from_nanos(
                d.saturating_sub(sent.load(Ordering::Acquire)),
            )),
        }
    }
    let what = format!("chat nodes={} conns={} rate={rate}", addrs.len(), c.conns);
    stats.report(&what, elapsed);
    Ok(())
}
