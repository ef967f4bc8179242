//! `wirekit serve --metrics ADDR` (issue 18): real traffic on echo,
//! udp-echo, files, chat and exec, then a scrape over HTTP, parsed with a
//! Prometheus text parser (the `prometheus-parse` crate), and the counts
//! checked against what was sent.

wirekit_testkit::kit!();

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use kit::{run_with_timeout, temp_dir, wirekit, Server};
use prometheus_parse::{Scrape, Value};

const T: Duration = Duration::from_secs(30);

fn scrape(srv: &Server) -> (String, Scrape) {
    let addr = srv.addr("metrics", "http");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("openmetrics-text"),
        "{head}"
    );
    let lines = body.lines().map(|l| Ok(l.to_string()));
    (
        body.to_string(),
        Scrape::parse(lines).expect("parses as Prometheus text"),
    )
}

/// The value of `metric` whose labels include every `(name, value)`.
fn value(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let found = s
        .samples
        .iter()
        .find(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)));
    match found.map(|x| &x.value) {
        Some(Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v)) => *v,
        Some(Value::Histogram(h)) => h.last().map_or(0.0, |b| b.count),
        other => panic!("{metric} {labels:?}: {other:?}"),
    }
}

fn echo_round_trips(srv: &Server, n: usize) {
    for _ in 0..n {
        let mut s = TcpStream::connect(srv.addr("echo", "tcp")).unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        s.write_all(b"hello metrics\n").unwrap();
        let mut got = [0u8; 14];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"HELLO METRICS\n");
    }
}

fn chat_lines(srv: &Server, n: usize) {
    let mut s = TcpStream::connect(srv.addr("chat", "tcp")).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    for i in 0..n {
        writeln!(s, "line {i}").unwrap();
    }
    // Our own lines come back (the seed relays to the sender too).
    let mut seen = 0;
    let mut line = String::new();
    while seen < n {
        line.clear();
        assert!(r.read_line(&mut line).unwrap() > 0, "chat closed early");
        seen += usize::from(line.contains("line "));
    }
}

#[test]
fn a_scrape_after_real_traffic_counts_what_happened() {
    let (root, work) = (temp_dir("metrics-root"), temp_dir("metrics-work"));
    let r = root.to_str().unwrap();
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "echo=127.0.0.1:0",
            "--listen",
            "udp-echo=127.0.0.1:0",
            "--listen",
            "files=127.0.0.1:0",
            "--listen",
            "chat=127.0.0.1:0",
            "--listen",
            "exec=127.0.0.1:0",
            "--exec-insecure",
            "--root",
            r,
            "--metrics",
            "127.0.0.1:0",
        ],
        6,
    );
    echo_round_trips(&srv, 3);
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    u.set_read_timeout(Some(T)).unwrap();
    for _ in 0..5 {
        u.send_to(b"abc", srv.addr("udp-echo", "udp")).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(u.recv(&mut buf).unwrap(), 3);
    }
    let local = work.join("up.bin");
    std::fs::write(&local, vec![7u8; 100_000]).unwrap();
    let files = srv.addr("files", "tcp").to_string();
    let put = run_with_timeout(wirekit(&["put", &files, local.to_str().unwrap()]), b"", T);
    assert!(
        put.status.success(),
        "{}",
        String::from_utf8_lossy(&put.stderr)
    );
    let out = work.join("down.bin");
    let get = wirekit(&["get", &files, "up.bin", "-o", out.to_str().unwrap()]);
    assert!(run_with_timeout(get, b"", T).status.success());
    let missing = wirekit(&["get", &files, "nope.bin", "-o", out.to_str().unwrap()]);
    assert!(!run_with_timeout(missing, b"", T).status.success());
    chat_lines(&srv, 4);
    let exec = srv.addr("exec", "tcp").to_string();
    let ran = run_with_timeout(wirekit(&["exec", &exec, "--", "exit 3"]), b"", T);
    assert_eq!(ran.status.code(), Some(3));
    // A browser's request to the exec port: refused, counted by reason.
    let mut http = TcpStream::connect(srv.addr("exec", "tcp")).unwrap();
    http.set_read_timeout(Some(T)).unwrap();
    http.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let _ = http.read_to_end(&mut Vec::new());

    let (text, s) = scrape(&srv);
    let svc = |n| [("service", n)];
    assert_eq!(
        value(&s, "wirekit_connections_accepted_total", &svc("echo")),
        3.0,
        "{text}"
    );
    assert_eq!(
        value(&s, "wirekit_received_bytes_total", &svc("echo")),
        42.0
    );
    assert_eq!(value(&s, "wirekit_sent_bytes_total", &svc("echo")), 42.0);
    assert_eq!(
        value(&s, "wirekit_datagrams_received_total", &svc("udp-echo")),
        5.0
    );
    assert_eq!(
        value(&s, "wirekit_datagrams_sent_total", &svc("udp-echo")),
        5.0
    );
    let put_ok = [("op", "put"), ("outcome", "ok")];
    assert_eq!(value(&s, "wirekit_files_transfers_total", &put_ok), 1.0);
    let get_ok = [("op", "get"), ("outcome", "ok")];
    assert_eq!(value(&s, "wirekit_files_transfers_total", &get_ok), 1.0);
    let get_no = [("op", "get"), ("outcome", "refused")];
    assert_eq!(value(&s, "wirekit_files_transfers_total", &get_no), 1.0);
    assert_eq!(
        value(
            &s,
            "wirekit_files_transferred_bytes_total",
            &[("op", "get")]
        ),
        100_000.0
    );
    assert_eq!(value(&s, "wirekit_chat_messages_total", &[]), 4.0);
    assert_eq!(
        value(&s, "wirekit_exec_commands_total", &[("outcome", "exit")]),
        1.0
    );
    assert_eq!(value(&s, "wirekit_build_info", &[]), 1.0);
    let foreign = [("service", "exec"), ("reason", "foreign_protocol")];
    assert_eq!(
        value(&s, "wirekit_connections_refused_total", &foreign),
        1.0
    );
    assert!(
        !text.contains("127.0.0.1"),
        "a client address leaked into a label:\n{text}"
    );
}

/// The seed dialects' transfers are counted like native ones (README:
/// "every dialect"): a seed 004 get and a seed 000 get that succeed, and
/// a seed 004 get of a missing file, refused.
#[test]
fn seed_dialect_transfers_are_counted() {
    let (root, work) = (temp_dir("metrics-seed-root"), temp_dir("metrics-seed-work"));
    std::fs::write(root.join("f.bin"), vec![7u8; 5000]).unwrap();
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "files=127.0.0.1:0",
            "--listen",
            "files-ack=127.0.0.1:0",
            "--root",
            root.to_str().unwrap(),
            "--metrics",
            "127.0.0.1:0",
        ],
        3,
    );
    let ack = srv.addr("files-ack", "tcp").to_string();
    let native = srv.addr("files", "tcp").to_string();
    let out = work.join("f.bin");
    let o = out.to_str().unwrap();
    let get = |addr: &str, dialect: &str, name: &str| {
        let args = ["get", "--dialect", dialect, addr, name, "-o", o, "--force"];
        run_with_timeout(wirekit(&args), b"", T)
    };
    let r = get(&ack, "seed004", "f.bin");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let r = get(&native, "seed000", "f.bin");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(!get(&ack, "seed004", "missing.bin").status.success());
    let (text, s) = scrape(&srv);
    let get_ok = [("op", "get"), ("outcome", "ok")];
    assert_eq!(
        value(&s, "wirekit_files_transfers_total", &get_ok),
        2.0,
        "{text}"
    );
    let get_no = [("op", "get"), ("outcome", "refused")];
    assert_eq!(
        value(&s, "wirekit_files_transfers_total", &get_no),
        1.0,
        "{text}"
    );
}
