//! `wirekit serve` echo, udp-echo and time, driven by the wirekit clients
//! and by the seeds' Python clients, plus the command line contract
//! (help texts, exit codes, one-line errors).

wirekit_testkit::kit!();

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::time::Duration;

use kit::{python, run_with_timeout, wirekit, Server};

const T: Duration = Duration::from_secs(30);

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn serve(specs: &[&str]) -> Server {
    let mut args = vec!["-v", "serve"];
    for s in specs {
        args.extend(["--listen", s]);
    }
    let lines = specs.len();
    Server::start(&args, lines)
}

#[test]
fn help_explains_options_and_defaults() {
    let out = run_with_timeout(wirekit(&["--help"]), b"", T);
    assert!(out.status.success());
    let text = stdout(&out);
    for word in ["serve", "echo", "time"] {
        assert!(text.contains(word), "--help lacks {word}: {text}");
    }
    let out = run_with_timeout(wirekit(&["serve", "--help"]), b"", T);
    let text = stdout(&out);
    assert!(out.status.success());
    for word in [
        "--listen",
        "--max-connections",
        "[default: 10000]",
        "--idle-timeout",
        "[default: 300]",
        "--shutdown-grace",
        "127.0.0.1:8080",
        "127.0.0.1:8181",
        "127.0.0.1:9000",
        "rfc868",
        "chargen",
    ] {
        assert!(text.contains(word), "serve --help lacks {word}: {text}");
    }
    for sub in ["echo", "time"] {
        let out = run_with_timeout(wirekit(&[sub, "--help"]), b"", T);
        assert!(out.status.success());
        assert!(stdout(&out).contains("--timeout"), "{sub} --help");
    }
}

#[test]
fn echo_tcp_with_wirekit_client() {
    let srv = serve(&["echo=127.0.0.1:0"]);
    let addr = srv.addr("echo", "tcp").to_string();
    let out = run_with_timeout(wirekit(&["echo", &addr, "hello", "你好", "world"]), b"", T);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "HELLO 你好 WORLD\n");
    // Interactive mode with piped stdin: blank lines skipped, words trimmed.
    let out = run_with_timeout(wirekit(&["echo", &addr]), b"abc\n\n  mixed Case 1\nlast", T);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "ABC\nMIXED CASE 1\nLAST\n");
}

#[test]
fn echo_tcp_with_seed_python_client_over_ipv4_and_ipv6() {
    for bind in ["127.0.0.1:0", "[::1]:0"] {
        let srv = serve(&[&format!("echo={bind}")]);
        let a = srv.addr("echo", "tcp");
        let out = run_with_timeout(
            python(
                "echo_client_tcp.py",
                &[&a.ip().to_string(), &a.port().to_string()],
            ),
            "hello\n\nsocket 编程 ok\n".as_bytes(),
            T,
        );
        assert!(out.status.success(), "{out:?}");
        assert_eq!(stdout(&out), "HELLO\nSOCKET 编程 OK\n");
    }
}

#[test]
fn echo_tcp_long_stream_full_duplex() {
    let srv = serve(&["echo=127.0.0.1:0"]);
    let mut s = TcpStream::connect(srv.addr("echo", "tcp")).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    // 8 MiB: far more than socket buffers, so the server must read and
    // write concurrently with the client.
    let data: Vec<u8> = (0..8 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut w = s.try_clone().unwrap();
    let sent = data.clone();
    let writer = std::thread::spawn(move || {
        w.write_all(&sent).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    writer.join().unwrap();
    let mut want = data;
    want.make_ascii_uppercase();
    assert_eq!(back.len(), want.len());
    assert!(back == want, "echoed stream differs");
}

#[test]
fn udp_echo_with_wirekit_and_seed_clients_and_size_limits() {
    let srv = serve(&["udp-echo=127.0.0.1:0"]);
    let a = srv.addr("udp-echo", "udp");
    let out = run_with_timeout(
        wirekit(&["echo", "--udp", &a.to_string(), "hi", "udp"]),
        b"",
        T,
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "HI UDP\n");
    let out = run_with_timeout(
        python(
            "echo_client_udp.py",
            &[&a.ip().to_string(), &a.port().to_string()],
        ),
        "one\n\n二 two\n".as_bytes(),
        T,
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "ONE\n二 TWO\n");

    // The largest IPv4 datagram comes back whole.
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let big: Vec<u8> = (0..65_507u32).map(|i| b'a' + (i % 26) as u8).collect();
    c.send_to(&big, a).unwrap();
    let mut buf = vec![0u8; 70_000];
    let (n, _) = c.recv_from(&mut buf).unwrap();
    assert_eq!(n, big.len());
    assert!(buf[..n]
        .iter()
        .zip(&big)
        .all(|(x, y)| *x == y.to_ascii_uppercase()));

    // Over IPv6 a datagram can exceed 65,507 bytes: refused with a message.
    let srv6 = serve(&["udp-echo=[::1]:0"]);
    let a6 = srv6.addr("udp-echo", "udp");
    let c6 = UdpSocket::bind("[::1]:0").unwrap();
    c6.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c6.send_to(&vec![b'x'; 65_527], a6).unwrap();
    let (n, _) = c6.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"error: datagram larger than 65507 bytes");
    // An empty datagram gets an empty answer and the server lives on.
    c6.send_to(b"", a6).unwrap();
    assert_eq!(c6.recv_from(&mut buf).unwrap().0, 0);
    c6.send_to(b"still here", a6).unwrap();
    let (n, _) = c6.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"STILL HERE");
}

fn is_default_time(s: &str) -> bool {
    // %Y-%m-%d %X, e.g. 2026-11-22 08:57:37
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

#[test]
fn time_with_wirekit_and_seed_clients() {
    let srv = serve(&["time=127.0.0.1:0"]);
    let a = srv.addr("time", "udp");
    let out = run_with_timeout(wirekit(&["time", &a.to_string()]), b"", T);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(is_default_time(text.trim_end()), "{text:?}");
    let out = run_with_timeout(wirekit(&["time", &a.to_string(), "%Y|%%|%j"]), b"", T);
    let text = stdout(&out);
    let parts: Vec<&str> = text.trim_end().split('|').collect();
    assert_eq!(parts.len(), 3, "{text:?}");
    assert_eq!(parts[0].len(), 4);
    assert_eq!(parts[1], "%");
    assert_eq!(parts[2].len(), 3);

    // The seed client: an empty line means the default format.
    let out = run_with_timeout(
        python(
            "time_client.py",
            &[&a.ip().to_string(), &a.port().to_string()],
        ),
        b"\n%Y\n",
        T,
    );
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text:?}");
    assert!(is_default_time(lines[0]), "{text:?}");
    assert!(lines[1].len() == 4 && lines[1].bytes().all(|c| c.is_ascii_digit()));
}

#[test]
fn time_bad_formats_get_error_replies() {
    let srv = serve(&["time=127.0.0.1:0"]);
    let a = srv.addr("time", "udp");
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; 70_000];
    let mut ask = |req: &[u8]| {
        c.send_to(req, a).unwrap();
        let (n, _) = c.recv_from(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    };
    assert_eq!(ask(b"%Y\xff"), "error: format is not valid UTF-8");
    assert_eq!(ask(b"%Y\0x"), "error: format contains a NUL byte");
    assert!(ask(&[b'%'; 4000]).starts_with("error: format longer than"));
    assert!(ask(&vec![b'y'; 60_000]).starts_with("error: "));
    assert!(is_default_time(&ask(b"")));

    // The client reports a server error as a one-line failure.
    use std::os::unix::ffi::OsStrExt;
    let mut cmd = wirekit(&["time", &a.to_string()]);
    cmd.arg(std::ffi::OsStr::from_bytes(b"%Y\xfe"));
    let out = run_with_timeout(cmd, b"", T);
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not valid UTF-8"), "{err}");
}

#[test]
fn clients_fail_with_one_line_errors() {
    // A port nobody listens on: refused quickly.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["echo".into(), format!("127.0.0.1:{port}"), "x".into()],
            "cannot connect",
        ),
        (
            vec!["echo".into(), "not-an-address".into(), "x".into()],
            "bad address",
        ),
        (vec!["time".into(), "127.0.0.1:99999".into()], "bad address"),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_with_timeout(wirekit(&args), b"", T);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(255), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // A UDP port that never answers: a timeout, not a hang.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    for args in [
        vec!["time", &addr, "--timeout", "0.5"],
        vec!["echo", "--udp", &addr, "x", "--timeout", "0.5"],
    ] {
        let out = run_with_timeout(wirekit(&args), b"", T);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(255), "{args:?}: {err}");
        assert!(err.contains("timed out"), "{args:?}: {err}");
    }
}

#[test]
fn serve_rejects_bad_listen_specs_and_busy_ports() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = format!("echo={}", taken.local_addr().unwrap());
    for (spec, want) in [
        ("nosuch=127.0.0.1:0", "unknown service"),
        ("echo=localhost", "not IP:PORT"),
        ("discard", "no default address"),
        (busy.as_str(), "cannot listen for echo"),
    ] {
        let out = run_with_timeout(wirekit(&["serve", "--listen", spec]), b"", T);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{spec}: {err}");
        assert!(err.contains(want), "{spec}: {err}");
    }
}

#[test]
fn default_set_binds_the_seed_ports_on_loopback() {
    // The seeds' fixed ports may be taken by another program on a shared
    // machine; then the contract is a clean one-line bind error.
    let mut cmd = wirekit(&["serve"]);
    // The default set includes `files`, which creates ./wirekit-files.
    let dir = kit::temp_dir("default-set");
    cmd.current_dir(&dir);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..3 {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut out, &mut line).unwrap() == 0 {
            break;
        }
        lines.push(line.trim_end().to_string());
    }
    let _ = child.kill();
    let status = child.wait().unwrap();
    if lines.len() < 3 {
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(err.contains("cannot "), "{status:?} {lines:?} {err}");
        eprintln!("default ports busy on this machine: {err}");
        return;
    }
    assert_eq!(
        lines,
        [
            "listening echo tcp 127.0.0.1:8080",
            "listening udp-echo udp 127.0.0.1:8181",
            "listening time udp 127.0.0.1:9000",
        ]
    );
}

#[test]
fn echo_round_trips_across_buffer_boundaries() {
    // Sizes around the server's inline (1 KiB) and heap (16 KiB) buffers,
    // one request/answer at a time on one connection, as the seeds do.
    let srv = serve(&["echo=127.0.0.1:0"]);
    let mut s = TcpStream::connect(srv.addr("echo", "tcp")).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    for (i, size) in [
        1, 1023, 1024, 1025, 2048, 16_383, 16_384, 16_385, 17_408, 100_000, 5,
    ]
    .into_iter()
    .enumerate()
    {
        let msg: Vec<u8> = (0..size).map(|j| b"aZ9\xe4"[(i + j) % 4]).collect();
        let mut w = s.try_clone().unwrap();
        let sent = msg.clone();
        let writer = std::thread::spawn(move || w.write_all(&sent).unwrap());
        let mut back = vec![0u8; size];
        s.read_exact(&mut back).unwrap();
        writer.join().unwrap();
        assert!(back == msg.to_ascii_uppercase(), "size {size}");
    }
}

/// The other direction: the wirekit clients against the seeds' own
/// servers (seed 002's time server and UDP upper-echo as written, seed
/// 001's ThreadingTCPServer upper-echo).
#[test]
fn wirekit_clients_against_the_seed_servers() {
    let time = Server::spawn(python("seed002_time_server.py", &["127.0.0.1", "0"]), 1);
    let a = time.addr("time", "udp").to_string();
    let out = run_with_timeout(wirekit(&["time", &a]), b"", T);
    assert!(out.status.success(), "{out:?}");
    assert!(is_default_time(stdout(&out).trim_end()), "{out:?}");
    let out = run_with_timeout(wirekit(&["time", &a, "%Y|%%|%j"]), b"", T);
    let text = stdout(&out);
    let parts: Vec<&str> = text.trim_end().split('|').collect();
    assert_eq!(parts.len(), 3, "{text:?}");
    assert!(parts[0].len() == 4 && parts[1] == "%" && parts[2].len() == 3);

    let udp = Server::spawn(python("seed002_udp_echo_server.py", &["127.0.0.1", "0"]), 1);
    let a = udp.addr("udp-echo", "udp").to_string();
    let out = run_with_timeout(wirekit(&["echo", "--udp", &a, "abc", "dé"]), b"", T);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "ABC Dé\n");

    let echo = Server::spawn(python("echo_server_tcp.py", &["127.0.0.1", "0"]), 1);
    let a = echo.addr("echo", "tcp").to_string();
    let out = run_with_timeout(wirekit(&["echo", &a, "hello", "中文 ok"]), b"", T);
    assert!(out.status.success(), "{out:?}");
    // The words are one message, as the seeds' clients send a line.
    assert_eq!(stdout(&out), "HELLO 中文 OK\n");
}
