//! Issue 13 item 1: another protocol's first message (an HTTP request a
//! browser could send, a TLS ClientHello, an SSH banner) reaching an exec
//! port must not run as a shell command. Real clients (curl, openssl,
//! ssh) against the real server; the seed clients keep working after.

wirekit_testkit::kit!();

use std::process::Command;
use std::time::{Duration, Instant};

use kit::{python, run_with_timeout, temp_dir, Server};

const T: Duration = Duration::from_secs(30);

fn serve() -> Server {
    Server::start(
        &[
            "-v",
            "serve",
            "--exec-insecure",
            "--listen",
            "exec=127.0.0.1:0",
            "--listen",
            "exec-len=127.0.0.1:0",
            "--listen",
            "exec-ack=127.0.0.1:0",
        ],
        3,
    )
}

/// Collects the server's log until `want` lines contain `needle` (or 10 s
/// pass), then a little longer so that extra lines would show up too.
fn log_until(s: &Server, needle: &str, want: usize, log: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while log.iter().filter(|l| l.contains(needle)).count() < want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        log.extend(s.stderr_lines());
    }
    std::thread::sleep(Duration::from_millis(300));
    log.extend(s.stderr_lines());
}

/// The seed clients of every dialect still get their answers.
fn assert_seed_clients_work(s: &Server) {
    for (client, service) in [
        ("seed001_exec_json_client.py", "exec"),
        ("seed001_exec_len_client.py", "exec-len"),
        ("seed004_exec_ack_client.py", "exec-ack"),
    ] {
        let port = s.addr(service, "tcp").port().to_string();
        let out = run_with_timeout(
            python(client, &["127.0.0.1", &port]),
            b"echo still-serving\n",
            T,
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("still-serving"), "{service}: {text}");
    }
}

#[test]
fn curl_request_runs_nothing() {
    let s = serve();
    let dir = temp_dir("exec-foreign-curl");
    let mut log = Vec::new();
    for service in ["exec-len", "exec-ack", "exec"] {
        let marker = dir.join(format!("pwned-{service}"));
        let port = s.addr(service, "tcp").port();
        // The issue's repro: the URL path is the command.
        let url = format!("http://127.0.0.1:{port}/;touch$IFS{};", marker.display());
        let mut curl = Command::new("curl");
        curl.args(["-sS", "--max-time", "5", "-X", "POST", "-H"])
            .arg("User-Agent: Mozilla/5.0 (X11)")
            .args(["--data", "x", &url]);
        let out = run_with_timeout(curl, b"", T);
        assert!(!out.status.success(), "curl got an answer from {service}");
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !marker.exists(),
            "{service}: the HTTP request ran as a command"
        );
    }
    log_until(&s, "refused an HTTP request", 3, &mut log);
    let refusals = log.iter().filter(|l| l.contains("refused an HTTP request"));
    assert_eq!(refusals.count(), 3, "one line per connection:\n{log:#?}");
    assert!(!log.iter().any(|l| l.contains("exec: running")), "{log:#?}");
    assert_seed_clients_work(&s);
}

#[test]
fn tls_and_ssh_clients_run_nothing() {
    let s = serve();
    let mut log = Vec::new();
    for service in ["exec-len", "exec-ack", "exec"] {
        let addr = s.addr(service, "tcp").to_string();
        let mut tls = Command::new("openssl");
        tls.args(["s_client", "-connect", &addr]);
        let out = run_with_timeout(tls, b"", T);
        assert!(!out.status.success(), "TLS handshake with {service}?");

        let port = s.addr(service, "tcp").port().to_string();
        let mut ssh = Command::new("ssh");
        ssh.args([
            "-p",
            &port,
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "127.0.0.1",
            "true",
        ]);
        let out = run_with_timeout(ssh, b"", T);
        assert!(!out.status.success(), "ssh session with {service}?");
    }
    log_until(&s, "exec: refused", 6, &mut log);
    let count = |needle: &str| log.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(count("refused a TLS handshake"), 3, "{log:#?}");
    assert_eq!(count("refused an SSH banner"), 3, "{log:#?}");
    assert_eq!(count("exec: running"), 0, "{log:#?}");
    assert_seed_clients_work(&s);
}

#[test]
fn misframed_native_frame_and_control_bytes_run_nothing() {
    use std::io::{Read, Write};
    let s = serve();
    let dir = temp_dir("exec-foreign-frame");
    let marker = dir.join("pwned");
    // A native hello whose length prefix is not a small number: without a
    // NUL in its first four bytes it would fall through to the seed
    // dialect and run as shell text.
    let header = format!(r#"{{"op":"exec","cmd":"x"}};touch {};"#, marker.display());
    let cases: [Vec<u8>; 2] = [
        [b"ABCD".as_slice(), header.as_bytes()].concat(),
        format!("touch {}\x1b[2J", marker.display()).into_bytes(),
    ];
    for msg in cases {
        let mut c = std::net::TcpStream::connect(s.addr("exec", "tcp")).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        c.write_all(&msg).unwrap();
        let mut buf = Vec::new();
        let _ = c.read_to_end(&mut buf);
        assert!(
            buf.is_empty(),
            "answered: {:?}",
            String::from_utf8_lossy(&buf)
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(!marker.exists(), "mis-framed input ran as a command");
    let mut log = Vec::new();
    log_until(&s, "exec: refused", 2, &mut log);
    assert_eq!(
        log.iter().filter(|l| l.contains("exec: refused")).count(),
        2,
        "{log:#?}"
    );
    assert_seed_clients_work(&s);
}
