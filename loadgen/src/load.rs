//! The load loops: echo round trips, UDP request/response, connection
//! churn, and idle connections. Each task measures its own latencies and
//! the results are merged at the end.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

use super::stats::Stats;
use super::tls::BenchTls;
use super::Common;

/// Unmeasured time at the start, so connection setup and slow start do not
/// count.
const WARMUP: Duration = Duration::from_secs(1);

/// Measurement window shared by all tasks of a run.
#[derive(Clone, Copy)]
pub(super) struct Window {
    pub(super) start: Instant,
    pub(super) end: Instant,
}

impl Window {
    pub(super) fn new(secs: Duration) -> Window {
        let start = Instant::now() + WARMUP;
        Window {
            start,
            end: start + secs,
        }
    }

    fn open(&self, t: Instant) -> bool {
        t >= self.start
    }
}

/// Waits for the tasks while sampling the server's CPU time at the start
/// and end of the measurement window.
pub(super) async fn collect(
    c: &Common,
    w: Window,
    tasks: Vec<tokio::task::JoinHandle<Stats>>,
) -> Stats {
    // The generator's own CPU time too, to see which side is saturated.
    let me = std::process::id();
    let cpu = async {
        tokio::time::sleep_until(w.start).await;
        let a = c.pid.and_then(|p| tree_ticks(p).ok());
        let a_me = cpu_ticks(me).ok();
        tokio::time::sleep_until(w.end).await;
        let b = c.pid.and_then(|p| tree_ticks(p).ok());
        let b_me = cpu_ticks(me).ok();
        let diff = |a: Option<CpuTicks>, b: Option<CpuTicks>| a.zip(b).map(|(a, b)| b.since(a));
        (diff(a, b), diff(a_me, b_me))
    };
    let ((server_ticks, client_ticks), mut total) = tokio::join!(cpu, join_all(tasks));
    total.server_cpu_ticks = server_ticks;
    total.client_cpu_ticks = client_ticks;
    total
}

/// Runs `body`, a loop that blocks its thread until the window's end
/// (given as std instants, with the per-operation timeout), on a blocking
/// thread; the runtime thread meanwhile only samples CPU times at the
/// window's edges. Reports the result as `label`.
#[cfg(target_os = "linux")]
pub(super) async fn run_blocking<F>(c: &Common, label: &str, body: F)
where
    F: FnOnce((std::time::Instant, std::time::Instant), Duration) -> Stats + Send + 'static,
{
    let w = Window::new(c.secs);
    let (std_w, t) = ((w.start.into_std(), w.end.into_std()), c.timeout);
    let task = tokio::task::spawn_blocking(move || body(std_w, t));
    collect(c, w, vec![task]).await.report(label, c.secs);
}

async fn join_all(tasks: Vec<tokio::task::JoinHandle<Stats>>) -> Stats {
    let mut total = Stats::default();
    for t in tasks {
        match t.await {
            Ok(s) => total.merge(s),
            Err(_) => total.errors += 1,
        }
    }
    total
}

/// Connects `c.conns` connections with TCP_NODELAY, all before any
/// measuring, so a server slow to accept does not eat into the window.
pub(super) async fn connect_all(addr: SocketAddr, c: &Common) -> anyhow::Result<Vec<TcpStream>> {
    let mut streams = Vec::with_capacity(c.conns);
    for i in 0..c.conns {
        let stream = timeout(c.timeout, TcpStream::connect(addr))
            .await
            .with_context(|| format!("connection {i} to {addr} timed out"))?
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        streams.push(stream);
    }
    Ok(streams)
}

/// The connected `streams` as the echo loop's non-blocking wires, each
/// after a TLS handshake when `tls` is given (all before any measuring).
#[cfg(target_os = "linux")]
pub(super) async fn wires(
    streams: Vec<TcpStream>,
    tls: Option<&BenchTls>,
) -> anyhow::Result<Vec<super::tls::Wire>> {
    use super::tls::Wire;
    let mut wires = Vec::with_capacity(streams.len());
    for (i, s) in streams.into_iter().enumerate() {
        // tokio hands the socket over still non-blocking.
        wires.push(match tls {
            None => Wire::Plain(s.into_std()?),
            Some(t) => t
                .wire(s)
                .await
                .with_context(|| format!("TLS handshake of connection {i}"))?,
        });
    }
    Ok(wires)
}

/// TCP echo round trips of `size` bytes on `streams`, a task each (the
/// portable loop; Linux uses [`super::tcp`]).
#[cfg(not(target_os = "linux"))]
pub async fn echo(
    streams: Vec<TcpStream>,
    c: &Common,
    size: usize,
    label: &str,
) -> anyhow::Result<()> {
    let w = Window::new(c.secs);
    let tasks = streams
        .into_iter()
        .map(|s| tokio::spawn(echo_conn(s, size, w, c.timeout)))
        .collect();
    let stats = collect(c, w, tasks).await;
    stats.report(label, c.secs);
    Ok(())
}

#[cfg(not(target_os = "linux"))]
async fn echo_conn(mut s: TcpStream, size: usize, w: Window, t: Duration) -> Stats {
    let mut stats = Stats::default();
    let out = vec![b'x'; size];
    let mut back = vec![0u8; size];
    loop {
        let begin = Instant::now();
        if begin >= w.end {
            break;
        }
        let (mut rd, mut wr) = s.split();
        // Write and read concurrently: a large message does not fit in the
        // socket buffers, so doing them in turn could deadlock.
        let rt = async { tokio::try_join!(wr.write_all(&out), rd.read_exact(&mut back)) };
        match timeout(t, rt).await {
            Ok(Ok(_)) if w.open(begin) => stats.record(begin.elapsed()),
            Ok(Ok(_)) => {}
            _ => {
                stats.errors += 1;
                break;
            }
        }
    }
    stats
}

/// UDP request/response on `c.conns` sockets (the portable loop; Linux
/// uses [`super::udp`]).
#[cfg(not(target_os = "linux"))]
pub async fn udp(addr: SocketAddr, c: &Common, payloads: Vec<Vec<u8>>) -> anyhow::Result<()> {
    let w = Window::new(c.secs);
    let local: SocketAddr = if addr.is_ipv4() {
        "127.0.0.1:0".parse()?
    } else {
        "[::1]:0".parse()?
    };
    let mut tasks = Vec::new();
    for p in payloads {
        let sock = tokio::net::UdpSocket::bind(local).await?;
        sock.connect(addr).await?;
        let t = c.timeout;
        tasks.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            let mut buf = vec![0u8; 65_536];
            loop {
                let begin = Instant::now();
                if begin >= w.end {
                    break;
                }
                let rt = async {
                    sock.send(&p).await?;
                    sock.recv(&mut buf).await
                };
                match timeout(t, rt).await {
                    Ok(Ok(_)) if w.open(begin) => stats.record(begin.elapsed()),
                    Ok(Ok(_)) => {}
                    // Lost or refused: count it and keep going.
                    _ => stats.errors += 1,
                }
            }
            stats
        }));
    }
    let stats = collect(c, w, tasks).await;
    stats.report(&format!("udp conns={}", c.conns), c.secs);
    Ok(())
}

/// New connections per second: connect, (TLS handshake,) 1-byte round
/// trip, close.
pub async fn connect(addr: SocketAddr, c: &Common, tls: Option<BenchTls>) -> anyhow::Result<()> {
    let w = Window::new(c.secs);
    let mut tasks = Vec::new();
    let label = format!(
        "connect conns={}{}",
        c.conns,
        if tls.is_some() { " tls" } else { "" }
    );
    for _ in 0..c.conns {
        let t = c.timeout;
        let tls = tls.clone();
        tasks.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            loop {
                let begin = Instant::now();
                if begin >= w.end {
                    break;
                }
                match timeout(t, one_connection(addr, tls.as_ref())).await {
                    Ok(Ok(())) if w.open(begin) => stats.record(begin.elapsed()),
                    Ok(Ok(())) => {}
                    _ => {
                        stats.errors += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            stats
        }));
    }
    let stats = collect(c, w, tasks).await;
    stats.report(&label, c.secs);
    Ok(())
}

async fn one_connection(addr: SocketAddr, tls: Option<&BenchTls>) -> std::io::Result<()> {
    let s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    // RST instead of FIN: thousands of closes per second would otherwise
    // exhaust the client's ephemeral ports with TIME_WAIT sockets.
    match tls {
        None => {
            let mut s = s;
            round_trip(&mut s).await?;
            s.set_zero_linger()
        }
        Some(t) => {
            let mut s = t.handshake(s).await?;
            round_trip(&mut s).await?;
            s.get_ref().0.set_zero_linger()
        }
    }
}

/// One byte there and back.
async fn round_trip<S>(s: &mut S) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    s.write_all(b"x").await?;
    s.flush().await?;
    let mut b = [0u8; 1];
    s.read_exact(&mut b).await?;
    Ok(())
}

/// Opens `c.conns` idle connections, holds them for `c.secs`, reports the
/// server's RSS, then checks every connection still answers.
pub async fn idle(addr: SocketAddr, c: &Common) -> anyhow::Result<()> {
    let pid = c.pid;
    let rss_before = pid.map(rss_kib).transpose()?;
    let mut conns = Vec::with_capacity(c.conns);
    let opened = Instant::now();
    for i in 0..c.conns {
        let s = timeout(c.timeout, TcpStream::connect(addr))
            .await
            .with_context(|| format!("connection {i} timed out"))?
            .with_context(|| format!("connection {i} to {addr} failed"))?;
        conns.push(s);
    }
    let open_secs = opened.elapsed().as_secs_f64();
    tokio::time::sleep(c.secs).await;
    let rss_idle = pid.map(rss_kib).transpose()?;
    let mut ok = 0usize;
    for s in &mut conns {
        let rt = async {
            s.write_all(b"i").await?;
            let mut b = [0u8; 1];
            s.read_exact(&mut b).await
        };
        if matches!(timeout(c.timeout, rt).await, Ok(Ok(_))) {
            ok += 1;
        }
    }
    let rss_after = pid.map(rss_kib).transpose()?;
    let kib = |v: Option<u64>| v.map_or("-".to_string(), |k| k.to_string());
    println!(
        "idle conns={} open_secs={open_secs:.2} held_secs={:.0} answered={ok} \
         server_rss_kib_before={} idle={} after_one_round_trip_each={}",
        c.conns,
        c.secs.as_secs_f64(),
        kib(rss_before),
        kib(rss_idle),
        kib(rss_after)
    );
    anyhow::ensure!(
        ok == c.conns,
        "only {ok} of {} connections answered",
        c.conns
    );
    Ok(())
}

/// VmRSS of a process in KiB.
pub(super) fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("no process {pid}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")
}

/// CPU time a process has used, in clock ticks (USER_HZ), split so a
/// report can show how much of a server's time the kernel took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTicks {
    /// Time in user space (utime).
    pub user: u64,
    /// Time in the kernel on the process's behalf (stime).
    pub sys: u64,
}

impl CpuTicks {
    /// User plus kernel time.
    pub fn total(self) -> u64 {
        self.user + self.sys
    }

    /// The time used between `earlier` and `self`.
    pub fn since(self, earlier: CpuTicks) -> CpuTicks {
        CpuTicks {
            user: self.user.saturating_sub(earlier.user),
            sys: self.sys.saturating_sub(earlier.sys),
        }
    }
}

/// utime and stime of a process (all threads).
pub(super) fn cpu_ticks(pid: u32) -> anyhow::Result<CpuTicks> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).context("odd stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> { Ok(f.get(i).context("short stat")?.parse()?) };
    Ok(CpuTicks {
        user: ticks(11)?,
        sys: ticks(12)?,
    })
}

/// CPU time of a process and all its descendants, live or reaped: a
/// server that forks per connection (socat) is measured whole, not only
/// its idle parent. Each process's own time plus that of the children it
/// has waited for counts every process once: a reaped one is in its
/// parent's cutime/cstime, a live one is found under /proc.
pub(super) fn tree_ticks(pid: u32) -> anyhow::Result<CpuTicks> {
    let mut parent_of = Vec::new();
    for e in std::fs::read_dir("/proc")?.flatten() {
        let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) {
            if let Some(pp) = stat_fields(&stat).and_then(|f| f.get(1)?.parse::<u32>().ok()) {
                parent_of.push((p, pp));
            }
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while let Some(&p) = tree.get(i) {
        tree.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    let mut total = with_children(pid)?;
    for &p in &tree[1..] {
        // A descendant may have exited since the listing: its time is
        // then its parent's (or is lost with an unreaped zombie's).
        if let Ok(t) = with_children(p) {
            total = CpuTicks {
                user: total.user + t.user,
                sys: total.sys + t.sys,
            };
        }
    }
    Ok(total)
}

/// The fields of a /proc/PID/stat line after the command name (state is
/// the first, ppid the second).
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let rest = stat.rsplit_once(')')?.1;
    Some(rest.split_whitespace().collect())
}

/// A process's own CPU time plus its waited-for children's.
fn with_children(pid: u32) -> anyhow::Result<CpuTicks> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let f = stat_fields(&stat).context("odd stat")?;
    let ticks = |i: usize| -> anyhow::Result<u64> { Ok(f.get(i).context("short stat")?.parse()?) };
    Ok(CpuTicks {
        user: ticks(11)? + ticks(13)?,
        sys: ticks(12)? + ticks(14)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_tree_counts_its_children() {
        let me = std::process::id();
        let before = tree_ticks(me).unwrap();
        // A child that burns CPU until the 10 ms tick moves (bounded: at
        // most 10 s of wall clock on a loaded machine).
        let status = std::process::Command::new("sh")
            .args([
                "-c",
                "end=$(($(date +%s) + 10)); t0=$(cut -d' ' -f14 /proc/$$/stat); \
                 while [ \"$(cut -d' ' -f14 /proc/$$/stat)\" = \"$t0\" ] && \
                 [ $(date +%s) -lt $end ]; do :; done",
            ])
            .status()
            .unwrap();
        assert!(status.success());
        let own = cpu_ticks(me).unwrap();
        let tree = tree_ticks(me).unwrap().since(before);
        assert!(tree.total() >= 1, "{tree:?}");
        assert!(tree_ticks(me).unwrap().total() > own.total());
        assert!(tree_ticks(u32::MAX).is_err());
    }

    #[test]
    fn own_cpu_time_is_read_and_split() {
        // Burn CPU until the 10 ms tick moves (bounded: a loaded machine may
        // give this thread little time, so wait up to 10 s of wall clock).
        let me = std::process::id();
        let before = cpu_ticks(me).unwrap();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        let mut used = CpuTicks::default();
        while used.total() == 0 && start.elapsed() < std::time::Duration::from_secs(10) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
            }
            used = cpu_ticks(me).unwrap().since(before);
        }
        assert!(used.total() >= 1, "{used:?}");
        assert_eq!(used.total(), used.user + used.sys);
    }

    #[test]
    fn since_never_goes_negative() {
        let a = CpuTicks { user: 5, sys: 9 };
        let b = CpuTicks { user: 7, sys: 3 };
        assert_eq!(b.since(a), CpuTicks { user: 2, sys: 0 });
        assert!(cpu_ticks(u32::MAX).is_err());
    }
}
