//! The web console (`wirekit serve --web ADDR`, issue 18): in a real
//! headless browser (Debian's chromium driven by Playwright,
//! tests/py/web_console.py) the page goes live, counts move after echo
//! traffic, a browser user and a TCP client chat both ways with /nick and
//! /who, and hostile text shows as text; over plain HTTP, the token and the
//! connection limit are enforced and a non-loopback console without a token
//! refuses to start.

wirekit_testkit::kit!();

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use kit::{connect_from, run_with_timeout, temp_dir, wirekit, workspace_root, Server};

/// The Python with Playwright: `$WIREKIT_PLAYWRIGHT_PYTHON`, else the venv
/// scripts/install-deps creates.
fn playwright_python() -> PathBuf {
    std::env::var_os("WIREKIT_PLAYWRIGHT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/pyvenv/bin/python"))
}

/// Why the browser test cannot run here, if it cannot.
fn browser_missing(python: &PathBuf) -> Option<String> {
    if !std::path::Path::new("/usr/bin/chromium").exists() {
        return Some("/usr/bin/chromium not installed (Debian package chromium)".into());
    }
    let ok = Command::new(python)
        .args(["-c", "import playwright.sync_api"])
        .status()
        .is_ok_and(|s| s.success());
    (!ok).then(|| format!("{} cannot import playwright", python.display()))
}

#[test]
fn console_in_chromium_shows_counts_and_bridges_chat() {
    let python = playwright_python();
    if let Some(why) = browser_missing(&python) {
        println!("!!! SKIPPED: web console browser test: {why}; run scripts/install-deps !!!");
        return;
    }
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "chat=127.0.0.1:0",
            "--listen",
            "echo=127.0.0.1:0",
            "--web",
            "127.0.0.1:0",
        ],
        3,
    );
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-console");
    let _ = std::fs::remove_file(out.join("console.png"));
    let mut cmd = Command::new(&python);
    cmd.arg(workspace_root().join("tests/py/web_console.py"))
        .arg(srv.addr("web", "http").to_string())
        .arg(srv.addr("chat", "tcp").to_string())
        .arg(srv.addr("echo", "tcp").to_string())
        .arg(&out)
        .env("PYTHONUNBUFFERED", "1");
    let res = run_with_timeout(cmd, b"", Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(
        res.status.success() && stdout.contains("OK"),
        "web_console.py failed: {stdout}\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let shot = out.join("console.png");
    assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000));
    println!("screenshot: {}", shot.display());
}

#[test]
fn the_page_takes_its_token_from_the_address_fragment() {
    let python = playwright_python();
    if let Some(why) = browser_missing(&python) {
        println!(
            "!!! SKIPPED: web console token browser test: {why}; run scripts/install-deps !!!"
        );
        return;
    }
    let (_srv, web, _dir) = token_server(&["--web", "127.0.0.1:0"]);
    let mut cmd = Command::new(&python);
    cmd.arg(workspace_root().join("tests/py/web_console.py"))
        .args(["--token", &web.to_string(), "correct-horse-battery-staple"]);
    let res = run_with_timeout(cmd, b"", Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(
        res.status.success() && stdout.contains("OK"),
        "web_console.py --token failed: {stdout}\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
}

/// The status line of a WebSocket upgrade request to `path`.
fn upgrade(addr: SocketAddr, path: &str) -> (String, TcpStream) {
    upgrade_from("127.0.0.1", addr, path)
}

/// [`upgrade`] from the loopback source address `src`.
fn upgrade_from(src: &str, addr: SocketAddr, path: &str) -> (String, TcpStream) {
    let mut s = connect_from(src, addr);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    s.write_all(req.as_bytes()).expect("send request");
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n") && s.read(&mut b).expect("read status") == 1 {
        head.push(b[0]);
    }
    (String::from_utf8_lossy(&head).trim().to_string(), s)
}

fn token_server(extra: &[&str]) -> (Server, SocketAddr, kit::Scratch) {
    let dir = temp_dir("web-token");
    let file = dir.join("token");
    std::fs::write(&file, "correct-horse-battery-staple\n").unwrap();
    let mut args = vec!["serve", "--listen", "echo=127.0.0.1:0"];
    args.extend(extra);
    args.extend(["--web-token-file", file.to_str().unwrap()]);
    let srv = Server::start(&args, 2);
    let web = srv.addr("web", "http");
    (srv, web, dir)
}

#[test]
fn websockets_need_the_token_when_one_is_set() {
    let (_srv, web, _dir) = token_server(&["--web", "127.0.0.1:0"]);
    for path in [
        "/ws/status",
        "/ws/status?token=",
        "/ws/status?token=wrong-horse-battery-staple",
    ] {
        let (status, _) = upgrade(web, path);
        assert!(status.contains(" 401 "), "{path}: {status}");
    }
    let (status, _) = upgrade(web, "/ws/chat?token=nope");
    assert!(status.contains(" 401 "), "chat: {status}");
    let (status, _) = upgrade(web, "/ws/status?token=correct-horse-battery-staple");
    assert!(status.contains(" 101 "), "right token: {status}");
}

#[test]
fn off_loopback_the_console_needs_a_token_file() {
    let res = run_with_timeout(
        wirekit(&[
            "serve",
            "--listen",
            "echo=127.0.0.1:0",
            "--web",
            "0.0.0.0:0",
        ]),
        b"",
        Duration::from_secs(10),
    );
    let (out, err) = (
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr),
    );
    assert!(!res.status.success());
    assert!(
        err.contains("not a loopback address") && err.contains("--web-token-file"),
        "{err}"
    );
    assert!(!out.contains("listening"), "started before refusing: {out}");
}

#[test]
fn the_exec_token_guards_a_console_off_loopback() {
    let dir = temp_dir("web-exec-token");
    let file = dir.join("token");
    std::fs::write(&file, "exec-token-0123456789\n").unwrap();
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "echo=127.0.0.1:0",
            "--web",
            "0.0.0.0:0",
            "--exec-token-file",
            file.to_str().unwrap(),
        ],
        2,
    );
    let web = SocketAddr::from(([127, 0, 0, 1], srv.addr("web", "http").port()));
    assert!(upgrade(web, "/ws/status").0.contains(" 401 "));
    let (status, _) = upgrade(web, "/ws/status?token=exec-token-0123456789");
    assert!(status.contains(" 101 "), "{status}");
}

#[test]
fn console_sockets_are_limited_and_the_page_is_static() {
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
    let web = srv.addr("web", "http");
    // Held open: each is a live status socket. Spread over four source
    // addresses: one address may hold only 16 connections of any kind.
    let held: Vec<_> = (0..64)
        .map(|i| upgrade_from(&format!("127.0.0.{}", 1 + i / 16), web, "/ws/status"))
        .collect();
    assert!(
        held.iter().all(|(s, _)| s.contains(" 101 ")),
        "{:?}",
        held[0].0
    );
    let (status, _) = upgrade_from("127.0.0.5", web, "/ws/status");
    assert!(status.contains(" 503 "), "65th socket: {status}");
    drop(held);
    // From an address of its own: the server may not yet have noticed the
    // dropped sockets, which still count against 127.0.0.1's share.
    let mut s = connect_from("127.0.0.6", web);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut page = String::new();
    let _ = s.read_to_string(&mut page);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page
        .to_ascii_lowercase()
        .contains("content-security-policy: default-src 'none'"));
    assert!(page.contains("<script src=\"app.js\""));
}

#[test]
fn an_oversized_chat_message_closes_only_that_socket() {
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "chat=127.0.0.1:0",
            "--web",
            "127.0.0.1:0",
        ],
        2,
    );
    let (status, mut s) = upgrade(srv.addr("web", "http"), "/ws/chat");
    assert!(status.contains(" 101 "), "{status}");
    // A masked 200 kB text frame: far over the console's limit for chat
    // (4 lines' worth), though under the library's default of 16 MiB.
    const LEN: usize = 200_000;
    let mut frame = vec![0x81, 0xff];
    frame.extend_from_slice(&(LEN as u64).to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]);
    frame.extend_from_slice(&[b'x'; LEN]);
    // The server may close (reset) before it has all of it.
    let _ = s.write_all(&frame);
    let mut sink = Vec::new();
    // Ends (EOF or reset) well before the 5 s read timeout.
    let r = s.read_to_end(&mut sink);
    assert!(
        !matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "socket still open: {r:?}"
    );
    // The chat listener itself is unaffected.
    let mut tcp = TcpStream::connect(srv.addr("chat", "tcp")).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 256];
    let n = tcp.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("joined"));
}

/// The console's recent events include file transfers (issue 18: connects,
/// refusals, transfers), not only connections.
#[test]
fn file_transfers_show_in_the_recent_events() {
    let (root, work) = (temp_dir("web-files-root"), temp_dir("web-files-work"));
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "files=127.0.0.1:0",
            "--root",
            root.to_str().unwrap(),
            "--web",
            "127.0.0.1:0",
        ],
        2,
    );
    let local = work.join("up.bin");
    std::fs::write(&local, vec![1u8; 4321]).unwrap();
    let files = srv.addr("files", "tcp").to_string();
    let put = run_with_timeout(
        wirekit(&["put", &files, local.to_str().unwrap()]),
        b"",
        Duration::from_secs(30),
    );
    assert!(
        put.status.success(),
        "{}",
        String::from_utf8_lossy(&put.stderr)
    );
    let (status, mut s) = upgrade(srv.addr("web", "http"), "/ws/status");
    assert!(status.contains(" 101 "), "{status}");
    // The first status message carries the events already in the ring.
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < until {
        if let Ok(n @ 1..) = s.read(&mut buf) {
            seen.extend_from_slice(&buf[..n]);
        }
        if String::from_utf8_lossy(&seen).contains("put up.bin: ok, 4321 bytes") {
            return;
        }
    }
    panic!("no transfer event in {}", String::from_utf8_lossy(&seen));
}
