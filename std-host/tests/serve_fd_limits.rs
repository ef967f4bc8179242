//! File-descriptor exhaustion (issue 13 item 11): under a low open-file
//! limit the server lowers `--max-connections` to fit (with a notice), and
//! when it runs out of descriptors anyway, further clients still get the
//! one-line "server busy" refusal instead of hanging in the backlog, the
//! log says so a few times rather than 20 times a second, and service
//! resumes as soon as connections close.

wirekit_testkit::kit!();

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use kit::{wirekit_bin, Server};

const BUSY: &str = "error: server busy";

/// What a new client gets: the upper-cased echo (admitted), the busy line
/// (refused), or a timeout / connection error (the fault).
#[derive(Debug)]
enum Outcome {
    Echoed(TcpStream),
    Busy,
    Failed(String),
}

fn try_client(addr: SocketAddr) -> Outcome {
    let mut s = match TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(format!("connect: {e}")),
    };
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    // A refused client may be closed before this write lands; the busy
    // line is still readable then.
    let _ = s.write_all(b"ping");
    let mut got = Vec::new();
    let mut buf = [0u8; 128];
    while got.len() < 4 || (got.starts_with(b"error") && !got.ends_with(b"\n")) {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return Outcome::Failed(format!("read after {got:?}: {e}")),
        }
    }
    match &got[..] {
        b"PING" => Outcome::Echoed(s),
        g if String::from_utf8_lossy(g).starts_with(BUSY) => Outcome::Busy,
        g => Outcome::Failed(format!("unexpected {:?}", String::from_utf8_lossy(g))),
    }
}

/// Opens clients until one is refused (at most `max`), returning the
/// admitted ones; panics on a hang or error.
fn fill(addr: SocketAddr, max: usize) -> Vec<TcpStream> {
    let mut open = Vec::new();
    for _ in 0..max {
        match try_client(addr) {
            Outcome::Echoed(s) => open.push(s),
            Outcome::Busy => return open,
            Outcome::Failed(why) => panic!("client {} failed: {why}", open.len() + 1),
        }
    }
    panic!("{max} clients admitted; no refusal");
}

/// Checks that more clients are refused cleanly, that few WARN lines were
/// logged (counting `earlier` lines already taken from the server), and
/// that the server serves again once some connections close.
fn refuses_then_recovers(
    srv: &Server,
    addr: SocketAddr,
    mut open: Vec<TcpStream>,
    earlier: &[String],
) {
    let started = Instant::now();
    for i in 0..20 {
        match try_client(addr) {
            Outcome::Busy => {}
            other => panic!("extra client {i}: {other:?}"),
        }
    }
    // Some time under pressure, so a per-failure log would show.
    std::thread::sleep(Duration::from_millis(1500).saturating_sub(started.elapsed()));
    let lines = [earlier, &srv.stderr_lines()].concat();
    let warns = lines.iter().filter(|l| l.contains("WARN")).count();
    assert!(warns <= 6, "{warns} WARN lines");
    open.truncate(open.len() / 2);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match try_client(addr) {
            Outcome::Echoed(_) => break,
            Outcome::Busy if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100))
            }
            other => panic!("after closing half: {other:?}"),
        }
    }
}

#[test]
fn under_a_low_limit_max_connections_is_lowered_and_extra_clients_are_refused() {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" serve --listen echo=127.0.0.1:0")
        .arg(wirekit_bin());
    let srv = Server::spawn(cmd, 1);
    let addr = srv.addr("echo", "tcp");
    let open = fill(addr, 200);
    assert!(
        open.len() >= 8 && open.len() < 64,
        "{} admitted",
        open.len()
    );
    let lines = srv.stderr_lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("lowering --max-connections")),
        "{lines:?}"
    );
    refuses_then_recovers(&srv, addr, open, &lines);
}

#[test]
fn out_of_descriptors_after_start_still_refuses_with_the_busy_line() {
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "echo=127.0.0.1:0",
            "--max-connections",
            "1000",
        ],
        1,
    );
    let addr = srv.addr("echo", "tcp");
    // Lower the limit under the running server: --max-connections no longer
    // fits, so accept itself fails with EMFILE.
    let status = Command::new("prlimit")
        .args(["--nofile=48:48", "--pid", &srv.pid().to_string()])
        .status()
        .expect("run prlimit (util-linux)");
    assert!(status.success());
    let open = fill(addr, 200);
    assert!(open.len() < 48, "{} admitted", open.len());
    refuses_then_recovers(&srv, addr, open, &[]);
}

#[test]
fn a_low_soft_limit_is_raised_to_the_hard_one() {
    // Soft 64, hard as inherited: the server raises the soft limit at
    // start, so 100 clients fit without any notice.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -S -n 64 && exec \"$0\" serve --listen echo=127.0.0.1:0")
        .arg(wirekit_bin());
    let srv = Server::spawn(cmd, 1);
    let addr = srv.addr("echo", "tcp");
    let mut open = Vec::new();
    for i in 0..100 {
        match try_client(addr) {
            Outcome::Echoed(s) => open.push(s),
            other => panic!("client {i}: {other:?}"),
        }
    }
    let lines = srv.stderr_lines();
    assert!(!lines.iter().any(|l| l.contains("lowering")), "{lines:?}");
}
