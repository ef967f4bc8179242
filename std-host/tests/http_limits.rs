//! The `--metrics` and `--web` HTTP endpoints against idle and greedy
//! peers: a connection that sends no request is closed after the header
//! timeout, one source address cannot hold more than its share, and the
//! scraper from another address still gets in.

wirekit_testkit::kit!();

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use kit::{connect_from, Server};

/// The server's per-source limit (std-host/src/serve/http.rs).
const MAX_PER_SOURCE: usize = 16;
/// The server's header timeout, plus slack for a loaded machine.
const HEADER_TIMEOUT_BOUND: Duration = Duration::from_secs(20);

/// True when the server has closed `s` (EOF or reset) within `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

fn get(src: &str, to: SocketAddr, path: &str) -> String {
    let mut s = connect_from(src, to);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text
}

fn check_endpoint(addr: SocketAddr, path: &str) {
    // A greedy source: twice its share of idle connections.
    let mut idle: Vec<TcpStream> = (0..2 * MAX_PER_SOURCE)
        .map(|_| connect_from("127.0.0.1", addr))
        .collect();
    let shut_out = idle
        .iter_mut()
        .filter_map(|s| closed_within(s, Duration::from_millis(300)).then_some(()))
        .count();
    assert!(
        shut_out >= MAX_PER_SOURCE,
        "only {shut_out} of {} idle connections from one source were refused",
        2 * MAX_PER_SOURCE
    );
    // Another source is served at once.
    let answer = get("127.0.0.2", addr, path);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.200}");
    // The idle connections that were let in are closed by the header timeout.
    let start = Instant::now();
    for s in &mut idle {
        let left = HEADER_TIMEOUT_BOUND.saturating_sub(start.elapsed());
        assert!(
            closed_within(s, left.max(Duration::from_millis(1))),
            "an idle connection was still open after {:?}",
            start.elapsed()
        );
    }
    // And the greedy source may connect again once its slots are free.
    let again = get("127.0.0.1", addr, path);
    assert!(again.starts_with("HTTP/1.1 200"), "{again:.200}");
}

#[test]
fn metrics_endpoint_bounds_idle_and_greedy_peers() {
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "echo=127.0.0.1:0",
            "--metrics",
            "127.0.0.1:0",
        ],
        2,
    );
    check_endpoint(srv.addr("metrics", "http"), "/metrics");
}

#[test]
fn web_console_bounds_idle_and_greedy_peers() {
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "echo=127.0.0.1:0",
            "--web",
            "127.0.0.1:0",
        ],
        2,
    );
    check_endpoint(srv.addr("web", "http"), "/");
}
