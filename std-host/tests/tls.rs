//! TLS listeners (issue 14) against real peers over loopback: OpenSSL's
//! `s_client`, `ncat --ssl`, socat's `OPENSSL:` address, Python's `ssl`
//! module wrapped around the seed 003 chat client unchanged, and
//! wirekit's own clients with a pin, a CA-less first use and a changed
//! certificate; garbage and silent peers; the exposure refusals.

wirekit_testkit::kit!();

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::proc::Proc;
use kit::{python, run_with_timeout, temp_dir, wirekit, Server};

const T: Duration = Duration::from_secs(30);

fn have(tool: &str) -> bool {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("!!! SKIPPED: {tool} not installed (scripts/install-deps installs it) !!!");
    }
    ok
}

/// A TLS server with a self-signed certificate in `state`.
fn tls_server(state: &Path, listens: &[&str], extra: &[&str]) -> Server {
    let mut args = vec![
        "serve",
        "--tls-self-signed",
        "--state-dir",
        state.to_str().unwrap(),
    ];
    for l in listens {
        args.extend(["--listen", l]);
    }
    args.extend_from_slice(extra);
    Server::start(&args, listens.len())
}

/// The fingerprint of the self-signed certificate, as openssl computes it
/// (an independent check of the one wirekit prints).
fn fingerprint(state: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(state.join("tls-self-signed-cert.pem"))
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text.trim().rsplit('=').next().unwrap().replace(':', "");
    format!("sha256:{}", hex.to_lowercase())
}

fn shell(cmd: &str, input: &[u8]) -> String {
    let mut c = Command::new("sh");
    c.args(["-c", cmd]);
    let out = run_with_timeout(c, input, T);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn openssl_ncat_socat_and_wirekit_speak_to_a_tls_echo() {
    if !have("openssl") {
        return;
    }
    let state = temp_dir("tls-peers");
    let srv = tls_server(&state, &["echo+tls=127.0.0.1:0"], &[]);
    let a = srv.addr("echo", "tls");
    let port = a.port();
    let s_client =
        format!("timeout 10 openssl s_client -quiet -connect 127.0.0.1:{port} 2>/dev/null");
    assert_eq!(shell(&s_client, b"from openssl\n"), "FROM OPENSSL\n");
    if have("ncat") {
        let ncat = format!("timeout 10 ncat --ssl 127.0.0.1 {port}");
        assert_eq!(shell(&ncat, b"from ncat\n"), "FROM NCAT\n");
    }
    if have("socat") {
        let socat = format!("timeout 10 socat - OPENSSL:127.0.0.1:{port},verify=0");
        assert_eq!(shell(&socat, b"from socat\n"), "FROM SOCAT\n");
    }
    let pin = fingerprint(&state);
    let ok = run_with_timeout(
        wirekit(&["echo", &a.to_string(), "--tls-pin", &pin, "pinned"]),
        b"",
        T,
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "PINNED\n");
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let bad = run_with_timeout(
        wirekit(&["echo", &a.to_string(), "--tls-pin", &wrong, "x"]),
        b"",
        T,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--tls-pin"));
}

#[test]
fn first_use_is_remembered_and_a_changed_certificate_refused() {
    let state = temp_dir("tls-tofu");
    let srv = tls_server(&state, &["echo+tls=127.0.0.1:0"], &[]);
    let a = srv.addr("echo", "tls").to_string();
    let kh_dir = temp_dir("tls-tofu-kh");
    let known = kh_dir.join("known_hosts");
    let k = known.to_str().unwrap();
    let first = run_with_timeout(
        wirekit(&["echo", &a, "--tls", "--known-hosts", k, "one"]),
        b"",
        T,
    );
    assert_eq!(String::from_utf8_lossy(&first.stdout), "ONE\n");
    assert!(String::from_utf8_lossy(&first.stderr).contains("trusting"));
    let line = std::fs::read_to_string(&known).unwrap();
    assert_eq!(line.trim(), format!("{a} {}", fingerprint(&state)));
    let again = run_with_timeout(
        wirekit(&["echo", &a, "--tls", "--known-hosts", k, "two"]),
        b"",
        T,
    );
    assert_eq!(String::from_utf8_lossy(&again.stdout), "TWO\n");
    assert!(
        again.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    // The remembered certificate is not the one the server has now.
    std::fs::write(&known, format!("{a} sha256:{}\n", "cd".repeat(32))).unwrap();
    let changed = run_with_timeout(
        wirekit(&["echo", &a, "--tls", "--known-hosts", k, "x"]),
        b"",
        T,
    );
    assert!(!changed.status.success());
    let err = String::from_utf8_lossy(&changed.stderr);
    assert!(err.contains("CHANGED") && err.contains("line 1"), "{err}");
    assert!(
        changed.stdout.is_empty(),
        "data was exchanged: {:?}",
        changed.stdout
    );
}

#[test]
fn the_seed_chat_client_through_python_ssl_meets_a_wirekit_tls_client() {
    let state = temp_dir("tls-chat");
    let srv = tls_server(&state, &["chat+tls=127.0.0.1:0"], &[]);
    let a = srv.addr("chat", "tls");
    let pin = fingerprint(&state);
    let port = a.port().to_string();
    let script = kit::workspace_root().join("tests/py/seed003_chat_client.py");
    let mut seed = python(
        "tls_wrap.py",
        &[script.to_str().unwrap(), "127.0.0.1", &port],
    );
    seed.env("WIREKIT_TLS_PIN", &pin[7..]);
    let mut seed = Proc::spawn("seed client over ssl", seed);
    seed.wait_err("I'm ready.");
    let mut me = wirekit(&["chat", &a.to_string(), "--tls-pin", &pin]);
    me.env("NO_COLOR", "1");
    let mut me = Proc::spawn("wirekit chat --tls", me);
    me.send("hello over tls\n");
    seed.wait_err("hello over tls");
    seed.send("and back\n");
    me.wait_out("and back");
}

#[test]
fn garbage_and_silent_peers_do_not_stop_a_tls_listener() {
    let state = temp_dir("tls-garbage");
    let srv = tls_server(
        &state,
        &["echo+tls=127.0.0.1:0"],
        &["--tls-handshake-timeout", "1"],
    );
    let a = srv.addr("echo", "tls");
    let _silent: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(a).unwrap()).collect();
    let mut plain = TcpStream::connect(a).unwrap();
    plain.set_read_timeout(Some(T)).unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut sink = Vec::new();
    let t0 = Instant::now();
    let _ = plain.read_to_end(&mut sink);
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "plain text held the connection"
    );
    assert!(
        !String::from_utf8_lossy(&sink).contains("GET"),
        "plain text was echoed"
    );
    // A real client is still served while the silent ones wait.
    let pin = fingerprint(&state);
    let ok = run_with_timeout(
        wirekit(&["echo", &a.to_string(), "--tls-pin", &pin, "still"]),
        b"",
        T,
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "STILL\n");
    // The silent ones are closed at the handshake timeout.
    let mut s = TcpStream::connect(a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t0 = Instant::now();
    let _ = s.read_to_end(&mut sink);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(8),
        "{took:?}"
    );
}

#[test]
fn exec_off_loopback_needs_tls_or_an_explicit_plaintext() {
    let dir = temp_dir("tls-exposure");
    let token = dir.join("token");
    std::fs::write(&token, "0123456789abcdef0123456789abcdef\n").unwrap();
    let t = token.to_str().unwrap();
    let refused = run_with_timeout(
        wirekit(&[
            "serve",
            "--exec-token-file",
            t,
            "--listen",
            "exec=0.0.0.0:0",
        ]),
        b"",
        T,
    );
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("exec+tls") && err.contains("--plaintext"),
        "{err}"
    );
    assert!(
        refused.stdout.is_empty(),
        "it listened: {:?}",
        refused.stdout
    );
    let srv = Server::start(
        &[
            "serve",
            "--exec-token-file",
            t,
            "--listen",
            "exec=0.0.0.0:0",
            "--listen",
            "echo=0.0.0.0:0",
            "--plaintext",
        ],
        2,
    );
    std::thread::sleep(Duration::from_millis(300));
    let log = srv.stderr_lines().join("\n");
    let warned = log
        .matches("reachable from other hosts and not encrypted")
        .count();
    assert_eq!(warned, 2, "{log}");
}
