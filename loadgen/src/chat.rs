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

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{timeout, Instant};

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
}

/// What the readers share: the line being waited for and how many have
/// read it.
struct Round {
    seq: AtomicU64,
    got: AtomicUsize,
    joined: AtomicUsize,
    conns: usize,
    all: Notify,
}

impl Round {
    /// Counts a reader; wakes the sender when everyone is counted.
    fn count(&self, counter: &AtomicUsize) {
        if counter.fetch_add(1, Ordering::AcqRel) + 1 == self.conns {
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
        return super::chat_rate::run(&addrs, c, spread.rate).await;
    }
    let pid = c.pid;
    anyhow::ensure!(c.conns >= 1, "--conns must be at least 1");
    let round = Arc::new(Round {
        seq: AtomicU64::new(u64::MAX),
        got: AtomicUsize::new(0),
        joined: AtomicUsize::new(0),
        conns: c.conns,
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

/// Connects `c.conns` clients (spread over `addrs` in turn) with a reader
/// each and returns their write halves once every client has seen a first
/// line from client 0.
async fn join_all(
    addrs: &[SocketAddr],
    c: &Common,
    round: &Arc<Round>,
) -> anyhow::Result<Vec<OwnedWriteHalf>> {
    let streams = connect_spread(addrs, c).await?;
    let mut writers = Vec::with_capacity(c.conns);
    for (r, w) in streams {
        writers.push(w);
        tokio::spawn(reader(BufReader::new(r), round.clone()));
    }
    await_joined(
        &mut writers[0],
        c,
        || round.joined.load(Ordering::Acquire),
        &round.all,
    )
    .await?;
    Ok(writers)
}

/// Connects `c.conns` clients, spread over `addrs` in turn.
pub(super) async fn connect_spread(
    addrs: &[SocketAddr],
    c: &Common,
) -> anyhow::Result<Vec<(tokio::net::tcp::OwnedReadHalf, OwnedWriteHalf)>> {
    // Dropping a write half would half-close it, which a chat server takes
    // as leaving: every client keeps its own.
    let mut out = Vec::with_capacity(c.conns);
    for i in 0..c.conns {
        let addr = addrs[i % addrs.len()];
        let s = timeout(c.timeout, TcpStream::connect(addr))
            .await
            .with_context(|| format!("connection {i} timed out"))?
            .with_context(|| format!("connection {i} to {addr} failed"))?;
        let _ = s.set_nodelay(true);
        out.push(s.into_split());
    }
    Ok(out)
}

/// Says `bench join` from `sender` until `joined()` counts every client.
pub(super) async fn await_joined(
    sender: &mut OwnedWriteHalf,
    c: &Common,
    joined: impl Fn() -> usize,
    all: &Notify,
) -> anyhow::Result<()> {
    // A server registers a client some time after accepting it, so the
    // first line is repeated until every client has seen it (each reader
    // counts it once).
    let deadline = Instant::now() + c.timeout * 4;
    loop {
        let woken = all.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if joined() == c.conns {
            return Ok(());
        }
        sender.write_all(b"bench join\n").await?;
        let wait = std::time::Duration::from_millis(500);
        if timeout(wait, woken).await.is_ok() {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {} clients joined in time",
            joined(),
            c.conns
        );
    }
}

/// Reads one client's lines, counting the ones the sender waits for. The
/// body of a frame is its own line, so frames need no parsing here.
async fn reader(mut r: BufReader<tokio::net::tcp::OwnedReadHalf>, round: Arc<Round>) {
    let mut line = Vec::with_capacity(128);
    let mut joined = false;
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let Some(rest) = line.strip_prefix(b"bench ") else {
            continue;
        };
        let rest = rest.trim_ascii();
        if rest == b"join" {
            if !joined {
                joined = true;
                round.count(&round.joined);
            }
        } else if std::str::from_utf8(rest)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            == Some(round.seq.load(Ordering::Acquire))
        {
            round.count(&round.got);
        }
    }
}
