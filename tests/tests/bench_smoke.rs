//! `wirekit bench` works against the real services (short, small runs;
//! no speed is asserted here: numbers live in docs/BENCHMARKS.md).

use std::time::Duration;

use wirekit_tests::{run_with_timeout, stderr_text, temp_dir, wirekit, Server};

const T: Duration = Duration::from_secs(60);

fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

fn bench(args: &[&str]) -> String {
    let out = run_with_timeout(wirekit(args), b"", T);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{args:?}: {out:?}");
    text
}

#[test]
fn bench_modes_run_against_wirekit() {
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "echo=127.0.0.1:0",
            "--listen",
            "time=127.0.0.1:0",
        ],
        2,
    );
    let echo = srv.addr("echo", "tcp").to_string();
    let time = srv.addr("time", "udp").to_string();
    for args in [
        vec![
            "bench", "echo", &echo, "-c", "4", "-s", "64", "--secs", "0.3",
        ],
        vec![
            "bench", "echo", &echo, "-c", "2", "-s", "300000", "--secs", "0.3",
        ],
        vec!["bench", "udp", &time, "-c", "2", "--secs", "0.3"],
        vec!["bench", "connect", &echo, "-c", "2", "--secs", "0.3"],
    ] {
        let line = bench(&args);
        assert!(field(&line, "ops") > 0, "{line}");
        assert_eq!(field(&line, "errors"), 0, "{line}");
    }
    let pid = srv.pid().to_string();
    let line = bench(&[
        "bench", "idle", &echo, "-c", "200", "--secs", "0.2", "--pid", &pid,
    ]);
    assert_eq!(field(&line, "answered"), 200, "{line}");
    assert!(field(&line, "idle") > 0, "{line}");
}

#[test]
fn bench_echo_and_connect_over_tls() {
    let state = temp_dir("bench-tls");
    let srv = Server::start(
        &[
            "serve",
            "--tls-self-signed",
            "--state-dir",
            state.to_str().unwrap(),
            "--listen",
            "echo+tls=127.0.0.1:0",
        ],
        1,
    );
    let echo = srv.addr("echo", "tls").to_string();
    for args in [
        // Messages larger than rustls's 64 KiB send buffer, too.
        vec![
            "bench", "echo", &echo, "--tls", "-c", "4", "-s", "64", "--secs", "0.3",
        ],
        vec![
            "bench", "echo", &echo, "--tls", "-c", "2", "-s", "300000", "--secs", "0.3",
        ],
        vec![
            "bench", "connect", &echo, "--tls", "-c", "2", "--secs", "0.3",
        ],
    ] {
        let line = bench(&args);
        assert!(line.contains(" tls "), "{line}");
        assert!(field(&line, "ops") > 0, "{line}");
        assert_eq!(field(&line, "errors"), 0, "{line}");
    }
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let out = run_with_timeout(
        wirekit(&[
            "bench",
            "echo",
            &echo,
            "--tls-pin",
            &wrong,
            "-c",
            "1",
            "--secs",
            "0.3",
        ]),
        b"",
        T,
    );
    assert!(!out.status.success());
    assert!(
        stderr_text(&out).contains("--tls-pin"),
        "{}",
        stderr_text(&out)
    );
}

#[test]
fn bench_udp_flows_with_distinct_requests_and_a_dead_server() {
    let srv = Server::start(&["serve", "--listen", "time=127.0.0.1:0"], 1);
    let time = srv.addr("time", "udp").to_string();
    let line = bench(&[
        "bench",
        "udp",
        &time,
        "-c",
        "8",
        "--distinct",
        "--secs",
        "0.3",
    ]);
    assert!(field(&line, "ops") > 0, "{line}");
    assert_eq!(field(&line, "errors"), 0, "{line}");

    // Nothing listens on a port that was just freed: every request is
    // refused, counted as an error, and the run still ends on time.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .unwrap()
        .to_string();
    let line = bench(&["bench", "udp", &port, "-c", "2", "--secs", "0.3"]);
    assert_eq!(field(&line, "ops"), 0, "{line}");
    assert!(field(&line, "errors") > 0, "{line}");
}

#[test]
fn bench_echo_counts_stalled_and_closed_connections_and_ends_on_time() {
    // One server accepts and never answers; the other closes each
    // connection after its first read. Either way every connection is an
    // error, no round trip is counted, and the run still ends.
    for close in [false, true] {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let mut held = Vec::new();
            for s in l.incoming().take(3) {
                let mut s = s.unwrap();
                if close {
                    let _ = std::io::Read::read(&mut s, &mut [0u8; 64]);
                } else {
                    held.push(s);
                }
            }
            std::thread::sleep(std::time::Duration::from_secs(3));
        });
        let line = bench(&[
            "bench",
            "echo",
            &addr,
            "-c",
            "3",
            "-s",
            "64",
            "--secs",
            "1",
            "--timeout",
            "0.5",
        ]);
        assert_eq!(field(&line, "ops"), 0, "{line}");
        assert_eq!(field(&line, "errors"), 3, "close={close}: {line}");
        server.join().unwrap();
    }
}
