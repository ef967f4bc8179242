//! The clients of `wirekit-bench chat`, shared by the closed-loop
//! measurement ([`super::chat`]) and the open-loop one
//! ([`super::chat_rate`]): connecting them (spread over the nodes of a
//! shared room), one reader task per client, and the join handshake. The
//! two measurements differ only in what they do with a numbered line, the
//! [`Tally`] their readers report to.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{timeout, Instant};

use super::Common;

/// Longest line a reader holds. The generator's own lines are a dozen
/// bytes and a chat server's are bounded by its line limit (wirekit's
/// `--chat-max-line`, at most 1 KiB); a longer one, from a broken or
/// hostile server, is skipped piecewise instead of kept.
pub(super) const MAX_LINE: usize = 64 * 1024;

/// What the readers of one run report to.
pub(super) trait Tally: Send + Sync + 'static {
    /// The run's join counter.
    fn joins(&self) -> &Joins;
    /// A client has read the line `bench N`.
    fn line(&self, n: u64);
}

/// How many clients have seen `bench join` (each counts once), and,
/// until the measurement starts, when any client last read anything.
pub(super) struct Joins {
    /// Clients in the run.
    pub(super) conns: usize,
    joined: AtomicUsize,
    all: Notify,
    /// Readers note their reads while this is set (not during the
    /// measurement: one shared atomic per line read would cost the
    /// generator more than the clock it measures with).
    settling: AtomicBool,
    /// Nanoseconds after `base` of the last read noted.
    last_read: AtomicU64,
    base: Instant,
}

impl Joins {
    /// A counter for `conns` clients, none joined yet.
    pub(super) fn new(conns: usize) -> Joins {
        Joins {
            conns,
            joined: AtomicUsize::new(0),
            all: Notify::new(),
            settling: AtomicBool::new(true),
            last_read: AtomicU64::new(0),
            base: Instant::now(),
        }
    }

    /// Counts one client; wakes [`await_joined`] when all are counted.
    fn count(&self) {
        if self.joined.fetch_add(1, Ordering::AcqRel) + 1 == self.conns {
            // Only a registered waiter is woken: no permit is left behind.
            self.all.notify_waiters();
        }
    }

    fn joined(&self) -> usize {
        self.joined.load(Ordering::Acquire)
    }

    /// A reader read a line (noted only while settling).
    fn read_one(&self) {
        if self.settling.load(Ordering::Relaxed) {
            let at = self.base.elapsed().as_nanos();
            self.last_read
                .store(u64::try_from(at).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
    }

    /// Time since the last read noted.
    fn quiet_for(&self) -> Duration {
        let last = Duration::from_nanos(self.last_read.load(Ordering::Relaxed));
        self.base.elapsed().saturating_sub(last)
    }
}

/// How long no client may read anything before the measurement starts.
pub(super) const QUIET: Duration = Duration::from_millis(300);

/// Waits until no client has read anything for [`QUIET`] (at most
/// `limit`), then stops the readers noting their reads. Every client
/// having seen `bench join` does not mean the room is quiet: on several
/// nodes, joins published after it (a node's bus publisher still behind
/// the connection storm) still bring notices to every member, and lines
/// sent meanwhile would measure that storm, not the room's steady state.
/// Prints how long it took, so the storm stays visible.
async fn await_quiet(joins: &Joins, limit: Duration) {
    let started = Instant::now();
    while joins.quiet_for() < QUIET && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    joins.settling.store(false, Ordering::Relaxed);
    report_quiet(started.elapsed(), limit);
}

/// Prints how long the wait for a quiet room took (`waited`, of at most
/// `limit`), so the join storm stays visible in every run.
pub(super) fn report_quiet(waited: Duration, limit: Duration) {
    let gave_up = if waited >= limit {
        "; gave up waiting"
    } else {
        ""
    };
    eprintln!(
        "# room quiet {} ms after every client saw `bench join` (no read for {} ms{gave_up})",
        waited.as_millis(),
        QUIET.as_millis(),
    );
}

/// Connects `c.conns` clients (spread over `addrs` in turn) with a reader
/// each reporting to `tally`, and returns their write halves (the sender
/// is the first, on `addrs[0]`) once every client has seen `bench join`
/// and the room is quiet ([`await_quiet`]).
pub(super) async fn join_all<T: Tally>(
    addrs: &[SocketAddr],
    c: &Common,
    tally: &Arc<T>,
) -> anyhow::Result<Vec<OwnedWriteHalf>> {
    anyhow::ensure!(c.conns >= 1, "--conns must be at least 1");
    // Dropping a write half would half-close it, which a chat server takes
    // as leaving: every client keeps its own.
    let mut writers = connect_spread(addrs, c, |r| {
        tokio::spawn(reader(BufReader::new(r), tally.clone()));
    })
    .await?;
    await_joined(&mut writers[0], c, tally.joins()).await?;
    await_quiet(tally.joins(), c.timeout).await;
    Ok(writers)
}

/// Connects `c.conns` clients, spread over `addrs` in turn, handing each
/// read half to `read` at once and returning the write halves.
///
/// Reading starts as each client connects, not after all have: every
/// join is announced to everyone already in the room, so with thousands
/// of clients the first ones get thousands of notices while the rest
/// connect, and a client that did not read them would be dropped by the
/// server as too slow (the bench then failed with "Broken pipe").
async fn connect_spread(
    addrs: &[SocketAddr],
    c: &Common,
    mut read: impl FnMut(OwnedReadHalf),
) -> anyhow::Result<Vec<OwnedWriteHalf>> {
    let mut out = Vec::with_capacity(c.conns);
    for i in 0..c.conns {
        let addr = addrs[i % addrs.len()];
        let s = timeout(c.timeout, TcpStream::connect(addr))
            .await
            .with_context(|| format!("connection {i} timed out"))?
            .with_context(|| format!("connection {i} to {addr} failed"))?;
        let _ = s.set_nodelay(true);
        let (r, w) = s.into_split();
        read(r);
        out.push(w);
    }
    Ok(out)
}

/// Says `bench join` from `sender` until `joins` counts every client.
async fn await_joined(
    sender: &mut OwnedWriteHalf,
    c: &Common,
    joins: &Joins,
) -> anyhow::Result<()> {
    // A server registers a client some time after accepting it, so the
    // first line is repeated until every client has seen it (each reader
    // counts it once).
    let deadline = Instant::now() + c.timeout * 4;
    loop {
        let woken = joins.all.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if joins.joined() == joins.conns {
            return Ok(());
        }
        sender.write_all(b"bench join\n").await?;
        if timeout(Duration::from_millis(500), woken).await.is_ok() {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {} clients joined in time",
            joins.joined(),
            joins.conns
        );
    }
}

/// Reads one client's lines: counts its first `bench join` and reports
/// every `bench N`. The body of a frame is its own line, so frames need no
/// parsing here; other lines (notices, other senders, overlong lines) are
/// skipped.
async fn reader<T: Tally>(mut r: BufReader<OwnedReadHalf>, tally: Arc<T>) {
    let mut line = Vec::with_capacity(128);
    let mut joined = false;
    // Inside a line longer than MAX_LINE: its pieces up to the newline are
    // all skipped.
    let mut overlong = false;
    loop {
        line.clear();
        match (&mut r)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        tally.joins().read_one();
        let whole = line.last() == Some(&b'\n');
        if std::mem::replace(&mut overlong, !whole) || !whole {
            continue;
        }
        let Some(rest) = line.strip_prefix(b"bench ") else {
            continue;
        };
        let rest = rest.trim_ascii();
        if rest == b"join" {
            if !joined {
                joined = true;
                tally.joins().count();
            }
        } else if let Some(n) = std::str::from_utf8(rest)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
        {
            tally.line(n);
        }
    }
}
