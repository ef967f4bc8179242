//! `wirekit-bench` works against the real services (short, small runs;
//! no speed is asserted here: numbers live in docs/BENCHMARKS.md), and
//! the product binary `wirekit` no longer carries it.
//!
//! Cargo gives these tests the path of this package's `wirekit-bench`
//! (`CARGO_BIN_EXE_wirekit-bench`), not of another package's `wirekit`.
//! So the servers are this very test binary re-executed as `wirekit`: its
//! `main` hands the arguments to `wirekit_host::program::main`, the same
//! function the `wirekit` binary's `main` calls. That needs a `main` of our
//! own, hence `harness = false` and libtest-mimic as the test runner.

use std::os::unix::process::CommandExt as _;
use std::process::{Command, ExitCode};
use std::time::Duration;

use libtest_mimic::{Arguments, Trial};
use wirekit_testkit::nats::{have_nats, three_nodes};
use wirekit_testkit::{run_with_timeout, stderr_text, temp_dir, Program};

/// Set in the environment of a re-executed test binary that must act as
/// `wirekit` (inherited by its own children: the exec service runs
/// `/proc/self/exe exec-supervise`).
const AS_WIREKIT: &str = "WIREKIT_TESTKIT_AS_WIREKIT";

/// `wirekit`, as this test binary re-executed (argv[0] `wirekit`, so the
/// help and error texts are the product's).
enum Wirekit {}

impl Program for Wirekit {
    fn command() -> Command {
        let exe = std::env::current_exe().expect("the test binary's own path");
        let mut cmd = Command::new(exe);
        cmd.arg0("wirekit").env(AS_WIREKIT, "1");
        cmd
    }
}

type Server = wirekit_testkit::Server<Wirekit>;

fn wirekit(args: &[&str]) -> Command {
    wirekit_testkit::wirekit::<Wirekit>(args)
}

/// A `wirekit-bench` command (not yet run): the binary cargo built for
/// these tests.
fn wirekit_bench(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wirekit-bench"));
    cmd.args(args);
    cmd
}

fn main() -> ExitCode {
    if std::env::var_os(AS_WIREKIT).is_some() {
        return wirekit_host::program::main(std::env::args_os().collect());
    }
    // A failed assertion panics, as under the built-in harness;
    // libtest-mimic reports a panicking test as failed.
    macro_rules! trials {
        ($($test:ident),* $(,)?) => {
            vec![$(Trial::test(stringify!($test), || {
                $test();
                Ok(())
            })),*]
        };
    }
    let trials = trials![
        the_load_generator_is_its_own_binary_not_a_wirekit_subcommand,
        bench_modes_run_against_wirekit,
        bench_echo_and_connect_over_tls,
        bench_udp_flows_with_distinct_requests_and_a_dead_server,
        bench_echo_counts_stalled_and_closed_connections_and_ends_on_time,
        bench_chat_holds_no_endless_line_from_a_hostile_server,
        bench_chat_at_a_rate_holds_no_endless_line_from_a_hostile_server,
        bench_chat_mode_runs,
        bench_chat_spreads_clients_over_nodes_at_a_rate,
    ];
    libtest_mimic::run(&Arguments::from_args(), trials).exit_code()
}

const T: Duration = Duration::from_secs(60);

fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

fn bench(args: &[&str]) -> String {
    let out = run_with_timeout(wirekit_bench(args), b"", T);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{args:?}: {out:?}");
    text
}

fn the_load_generator_is_its_own_binary_not_a_wirekit_subcommand() {
    // Whoever installs the daemon gets no load generator: `wirekit bench`
    // is an unknown subcommand (clap's usage error, exit code 2), even
    // when only its help is asked for.
    for args in [
        vec!["bench", "--help"],
        vec!["bench", "echo", "127.0.0.1:9", "--secs", "0.1"],
    ] {
        let out = run_with_timeout(wirekit(&args), b"", T);
        let err = stderr_text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(err.contains("unrecognized subcommand 'bench'"), "{err}");
    }
    let out = run_with_timeout(wirekit(&["--help"]), b"", T);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(!help.to_ascii_lowercase().contains("bench"), "{help}");

    let out = run_with_timeout(wirekit_bench(&["--help"]), b"", T);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(help.contains("EXAMPLES:"), "{help}");
    for mode in ["echo", "udp", "connect", "idle", "chat"] {
        assert!(
            help.contains(&format!("\n  {mode} ")),
            "no {mode} in:\n{help}"
        );
    }
}

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
        vec!["echo", &echo, "-c", "4", "-s", "64", "--secs", "0.3"],
        vec!["echo", &echo, "-c", "2", "-s", "300000", "--secs", "0.3"],
        vec!["udp", &time, "-c", "2", "--secs", "0.3"],
        vec!["connect", &echo, "-c", "2", "--secs", "0.3"],
    ] {
        let line = bench(&args);
        assert!(field(&line, "ops") > 0, "{line}");
        assert_eq!(field(&line, "errors"), 0, "{line}");
    }
    let pid = srv.pid().to_string();
    let line = bench(&["idle", &echo, "-c", "200", "--secs", "0.2", "--pid", &pid]);
    assert_eq!(field(&line, "answered"), 200, "{line}");
    assert!(field(&line, "idle") > 0, "{line}");
}

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
            "echo", &echo, "--tls", "-c", "4", "-s", "64", "--secs", "0.3",
        ],
        vec![
            "echo", &echo, "--tls", "-c", "2", "-s", "300000", "--secs", "0.3",
        ],
        vec!["connect", &echo, "--tls", "-c", "2", "--secs", "0.3"],
    ] {
        let line = bench(&args);
        assert!(line.contains(" tls "), "{line}");
        assert!(field(&line, "ops") > 0, "{line}");
        assert_eq!(field(&line, "errors"), 0, "{line}");
    }
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let out = run_with_timeout(
        wirekit_bench(&[
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

fn bench_udp_flows_with_distinct_requests_and_a_dead_server() {
    let srv = Server::start(&["serve", "--listen", "time=127.0.0.1:0"], 1);
    let time = srv.addr("time", "udp").to_string();
    let line = bench(&["udp", &time, "-c", "8", "--distinct", "--secs", "0.3"]);
    assert!(field(&line, "ops") > 0, "{line}");
    assert_eq!(field(&line, "errors"), 0, "{line}");

    // Nothing listens on a port that was just freed: every request is
    // refused, counted as an error, and the run still ends on time.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .unwrap()
        .to_string();
    let line = bench(&["udp", &port, "-c", "2", "--secs", "0.3"]);
    assert_eq!(field(&line, "ops"), 0, "{line}");
    assert!(field(&line, "errors") > 0, "{line}");
}

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

/// The highest resident memory of process `pid` so far, in KiB (None once
/// it has exited).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn bench_chat_holds_no_endless_line_from_a_hostile_server() {
    hostile_long_line(&[]);
}

fn bench_chat_at_a_rate_holds_no_endless_line_from_a_hostile_server() {
    // The open-loop mode reads its clients from an epoll loop on Linux.
    hostile_long_line(&["--rate", "20"]);
}

fn hostile_long_line(extra: &[&str]) {
    // A one-client "chat room" that first sends a 256 MiB line and then
    // relays every line it gets back: the generator must skip the long
    // line without keeping it, then measure as usual.
    use std::io::{BufRead as _, Write as _};
    use std::process::Stdio;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..256 {
            s.write_all(&chunk).unwrap();
        }
        s.write_all(b"\n").unwrap();
        let mut lines = std::io::BufReader::new(s.try_clone().unwrap());
        let mut line = Vec::new();
        while lines.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            if s.write_all(&line).is_err() {
                break;
            }
            line.clear();
        }
    });
    let mut args = vec!["chat", &addr, "-c", "1", "--secs", "0.3"];
    args.extend_from_slice(extra);
    let mut child = wirekit_bench(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + T;
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("wirekit-bench chat did not end");
        }
        peak = peak.max(peak_rss_kib(child.id()).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr_text(&out));
    assert!(field(&line, "ops") > 0, "{line}");
    assert_eq!(field(&line, "errors"), 0, "{line}");
    assert!(peak > 0 && peak < 64 * 1024, "peak RSS {peak} KiB");
    server.join().unwrap();
}

fn bench_chat_mode_runs() {
    let srv = Server::start(&["serve", "--listen", "chat=127.0.0.1:0"], 1);
    let addr = srv.addr("chat", "tcp");
    let pid = srv.pid().to_string();
    let a = addr.to_string();
    let args = ["chat", &a, "-c", "20", "--secs", "0.3", "--pid", &pid];
    let out = run_with_timeout(wirekit_bench(&args), b"", Duration::from_secs(60));
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| -> u64 {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {text}"))
    };
    assert!(field("ops") > 0, "{text}");
    assert_eq!(field("errors"), 0, "{text}");
    assert!(field("joined") > 0, "{text}");
}

fn bench_chat_spreads_clients_over_nodes_at_a_rate() {
    if !have_nats() {
        return;
    }
    let (_nats, nodes) = three_nodes::<Wirekit>(&[]);
    let a: Vec<String> = nodes.iter().map(|n| n.1.to_string()).collect();
    // Both readers: one epoll loop (Linux's default) and a task each.
    for readers in [None, Some("--task-readers")] {
        let mut args = vec![
            "chat", &a[0], "--also", &a[1], "--also", &a[2], "-c", "30", "--rate", "20", "--secs",
            "1",
        ];
        args.extend(readers);
        let out = run_with_timeout(wirekit_bench(&args), b"", Duration::from_secs(60));
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("chat nodes=3 conns=30 rate=20"), "{text}");
        assert!(text.contains(" ops=20 "), "{text}");
        assert!(text.contains(" errors=0"), "{text}");
    }
}
