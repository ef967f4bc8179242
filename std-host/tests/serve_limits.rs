//! The shared TCP machinery under stress and abuse: half-open connections,
//! a client that never reads (memory must stay bounded), the connection
//! limit, the idle timeout, per-connection logs, and graceful shutdown.

wirekit_testkit::kit!();

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use kit::{run_with_timeout, wirekit, Server};

const T: Duration = Duration::from_secs(30);

fn connect(srv: &Server, service: &str) -> TcpStream {
    let s = TcpStream::connect(srv.addr(service, "tcp")).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s.set_write_timeout(Some(T)).unwrap();
    s
}

fn round_trip(s: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    s.write_all(msg).unwrap();
    let mut back = vec![0u8; msg.len()];
    s.read_exact(&mut back).unwrap();
    back
}

/// Reads until EOF (or error), returning what arrived.
fn read_all(s: &mut TcpStream) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = s.read_to_end(&mut v);
    v
}

#[test]
fn half_closed_client_gets_its_answer_then_eof() {
    let srv = Server::start(&["serve", "--listen", "echo=127.0.0.1:0"], 1);
    let mut s = connect(&srv, "echo");
    s.write_all(b"abc then eof").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut s), b"ABC THEN EOF");
    // And a client that connects and half-closes at once.
    let mut s = connect(&srv, "echo");
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut s), b"");
}

#[test]
fn client_that_never_reads_does_not_grow_server_memory() {
    let srv = Server::start(&["serve", "--listen", "echo=127.0.0.1:0"], 1);
    // Warm up so the runtime's buffers exist before the baseline.
    let mut warm = connect(&srv, "echo");
    assert_eq!(round_trip(&mut warm, b"warm"), b"WARM");
    let before = srv.rss_kib();

    let mut s = connect(&srv, "echo");
    s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let chunk = vec![b'q'; 1 << 20];
    let mut pushed = 0usize;
    // Up to 64 MiB; the writes stall (time out) once the server stops
    // reading because its answers are not being read.
    while pushed < 64 << 20 {
        match s.write(&chunk) {
            Ok(n) => pushed += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("write failed: {e}"),
        }
    }
    let after = srv.rss_kib();
    eprintln!("pushed {pushed} bytes; server RSS {before} KiB -> {after} KiB");
    assert!(
        pushed < 64 << 20,
        "server kept reading 64 MiB nobody read back"
    );
    // Kernel socket buffers are not in RSS; the server holds one 16 KiB
    // buffer. Allow generous slack for allocator noise.
    assert!(
        after < before + 8 * 1024,
        "RSS grew {before} -> {after} KiB"
    );
    // The server still serves others.
    assert_eq!(round_trip(&mut warm, b"alive"), b"ALIVE");
}

#[test]
fn connection_limit_refuses_cleanly_and_recovers() {
    let srv = Server::start(
        &[
            "-v",
            "serve",
            "--listen",
            "echo=127.0.0.1:0",
            "--max-connections",
            "2",
        ],
        1,
    );
    let mut a = connect(&srv, "echo");
    let mut b = connect(&srv, "echo");
    assert_eq!(round_trip(&mut a, b"a"), b"A");
    assert_eq!(round_trip(&mut b, b"b"), b"B");
    let mut c = connect(&srv, "echo");
    let refusal = read_all(&mut c);
    assert_eq!(refusal, b"error: server busy, too many connections\r\n");
    // The wirekit client reports it as a one-line error.
    let addr = srv.addr("echo", "tcp").to_string();
    let out = run_with_timeout(wirekit(&["echo", &addr, "this is long enough"]), b"", T);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(err.contains("server") && err.lines().count() == 1, "{err}");
    // Closing one frees a slot.
    drop(a);
    let deadline = Instant::now() + T;
    loop {
        let mut d = connect(&srv, "echo");
        d.write_all(b"d").unwrap();
        let mut one = [0u8; 1];
        if d.read_exact(&mut one).is_ok() && &one == b"D" {
            break;
        }
        assert!(Instant::now() < deadline, "slot never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(round_trip(&mut b, b"still"), b"STILL");
    let logs = srv.stderr_lines().join("\n");
    assert!(logs.contains("refused"), "{logs}");
}

#[test]
fn idle_connections_are_closed_and_logged() {
    let srv = Server::start(
        &[
            "-v",
            "serve",
            "--listen",
            "echo=127.0.0.1:0",
            "--idle-timeout",
            "0.5",
        ],
        1,
    );
    let mut idle = connect(&srv, "echo");
    let local = idle.local_addr().unwrap();
    assert_eq!(round_trip(&mut idle, b"x"), b"X");
    // The server closes it: we see EOF, not our 30 s read timeout.
    let start = Instant::now();
    assert_eq!(read_all(&mut idle), b"");
    assert!(start.elapsed() < T);
    let deadline = Instant::now() + T;
    let mut logs = String::new();
    while !logs.contains("idle timeout") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        logs.push_str(&srv.stderr_lines().join("\n"));
    }
    // Open and close lines name the peer.
    let peer = local.to_string();
    assert!(
        logs.lines()
            .any(|l| l.contains("open") && l.contains(&peer)),
        "{logs}"
    );
    assert!(
        logs.lines()
            .any(|l| l.contains("close") && l.contains(&peer) && l.contains("idle timeout")),
        "{logs}"
    );
}

#[test]
fn sigterm_and_sigint_exit_zero_with_connections_open() {
    for sig in ["TERM", "INT"] {
        let mut srv = Server::start(
            &[
                "serve",
                "--listen",
                "echo=127.0.0.1:0",
                "--listen",
                "time=127.0.0.1:0",
                "--shutdown-grace",
                "1",
            ],
            2,
        );
        let mut open = connect(&srv, "echo");
        assert_eq!(round_trip(&mut open, b"busy"), b"BUSY");
        srv.signal(sig);
        let status = srv.wait_timeout(T).expect("server did not exit");
        assert_eq!(status.code(), Some(0), "SIG{sig}");
        // The echo handler closed the connection on its way out.
        assert_eq!(read_all(&mut open), b"");
    }
}

#[test]
fn shutdown_stops_accepting_new_connections() {
    let mut srv = Server::start(&["serve", "--listen", "echo=127.0.0.1:0"], 1);
    let mut s = connect(&srv, "echo");
    assert_eq!(round_trip(&mut s, b"x"), b"X");
    srv.signal("TERM");
    assert_eq!(srv.wait_timeout(T).and_then(|s| s.code()), Some(0));
    assert!(TcpStream::connect(srv.addr("echo", "tcp")).is_err());
}
