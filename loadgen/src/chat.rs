//! `wirekit-bench chat`: fan-out latency of a chat server. `--conns`
//! clients join; one of them says numbered lines, one at a time; each
//! sample is the time from sending a line until the last client has read
//! it. Works with any server speaking the seed 003 line format (wirekit's
//! `chat`, the seed's Python `ChatServer`). With `--also ADDR` the clients
//! are spread over several nodes of one shared room, and with `--rate` the
//! lines are said at a fixed rate ([`super::chat_rate`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;
use tokio::time::{timeout, Instant};

use super::chat_clients::{join_all, Joins, Tally};
use super::load::{cpu_ticks, rss_kib};
use super::stats::Stats;
use super::Common;

/// `wirekit-bench chat` options beyond the common ones.
#[derive(Debug, Clone, clap::Args)]
pub struct Spread {
    /// Another node of the same (shared) room: clients are spread over
    /// ADDR and these in turn; the sender is on the first. Repeatable.
    #[arg(long, value_name = "ADDR")]
    pub also: Vec<String>,
    /// Say this many lines a second, whatever the latency (open loop),
    /// instead of one line at a time.
    #[arg(long, value_name = "LINES", default_value_t = 0.0)]
    pub rate: f64,
    /// With --rate: read each client from a tokio task of its own (the
    /// portable reader) instead of all from one epoll loop (Linux's
    /// default, lighter on the shared cores).
    #[arg(long)]
    pub task_readers: bool,
}

/// The line the sender waits for, and how many clients have read it.
struct Round {
    joins: Joins,
    seq: AtomicU64,
    got: AtomicUsize,
    all: Notify,
}

impl Tally for Round {
    fn joins(&self) -> &Joins {
        &self.joins
    }

    fn line(&self, n: u64) {
        if n == self.seq.load(Ordering::Acquire)
            && self.got.fetch_add(1, Ordering::AcqRel) + 1 == self.joins.conns
        {
            // Only a registered waiter is woken: a late count after a
            // timed-out round must not leave a permit for the next round.
            self.all.notify_waiters();
        }
    }
}

/// Runs the fan-out measurement for `c.secs` (after the clients joined).
pub async fn chat(addr: SocketAddr, c: &Common, spread: &Spread) -> anyhow::Result<()> {
    let mut addrs = vec![addr];
    for a in &spread.also {
        addrs.push(wirekit_host::client::resolve(a)?);
    }
    if spread.rate > 0.0 {
        return super::chat_rate::run(&addrs, c, spread.rate, spread.task_readers).await;
    }
    let pid = c.pid;
    let round = Arc::new(Round {
        joins: Joins::new(c.conns),
        seq: AtomicU64::new(u64::MAX),
        got: AtomicUsize::new(0),
        all: Notify::new(),
    });
    let rss_before = pid.map(rss_kib).transpose()?;
    let mut writers = join_all(&addrs, c, &round).await?;
    let sender = &mut writers[0];
    let rss_joined = pid.map(rss_kib).transpose()?;
    let mut stats = Stats::default();
    let cpu_start = pid.and_then(|p| cpu_ticks(p).ok());
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < c.secs {
        round.got.store(0, Ordering::Release);
        round.seq.store(n, Ordering::Release);
        let all = round.all.notified();
        tokio::pin!(all);
        all.as_mut().enable();
        let t0 = Instant::now();
        sender.write_all(format!("bench {n}\n").as_bytes()).await?;
        match timeout(c.timeout, all).await {
            Ok(()) => stats.record(t0.elapsed()),
            Err(_) => stats.errors += 1,
        }
        n += 1;
    }
    let elapsed = start.elapsed();
    let cpu_end = pid.and_then(|p| cpu_ticks(p).ok());
    stats.server_cpu_ticks = cpu_start.zip(cpu_end).map(|(a, b)| b.since(a));
    let rss_after = pid.map(rss_kib).transpose()?;
    stats.report(&format!("chat conns={}", c.conns), elapsed);
    let kib = |v: Option<u64>| v.map_or("-".to_string(), |k| k.to_string());
    println!(
        "chat server_rss_kib_before={} joined={} after={}",
        kib(rss_before),
        kib(rss_joined),
        kib(rss_after)
    );
    Ok(())
}
