//! The remaining clients of issue 17, over real sockets: `talk`'s
//! addressing (item 5), `echo` and `chat` facing a busy server or the
//! wrong listener (item 1), and `serve` announcing nothing when one of
//! several listeners cannot bind (item 6).

mod common;

use std::time::Duration;

use wirekit_tests::wirekit;

/// Hard bound on every client run here.
const T: Duration = Duration::from_secs(20);

/// A server with room for one connection, and that connection held.
fn busy_server(service: &str) -> (wirekit_tests::Server, std::net::TcpStream) {
    let server = wirekit_tests::Server::start(
        &[
            "serve",
            "--max-connections",
            "1",
            "--listen",
            &format!("{service}=127.0.0.1:0"),
        ],
        1,
    );
    let hold = std::net::TcpStream::connect(server.addr(service, "tcp")).unwrap();
    // A round trip proves the held connection got the one permit.
    if service == "echo" {
        use std::io::{Read, Write};
        let mut hold = &hold;
        hold.write_all(b"a").unwrap();
        let mut b = [0u8; 1];
        hold.read_exact(&mut b).unwrap();
    } else {
        std::thread::sleep(Duration::from_millis(200));
    }
    (server, hold)
}

#[test]
fn echo_with_a_short_message_reports_a_busy_server() {
    let (server, _hold) = busy_server("echo");
    let addr = server.addr("echo", "tcp").to_string();
    let out = wirekit_tests::run_with_timeout(wirekit(&["echo", &addr, "hello"]), b"", T);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(err.contains("server busy"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "printed as data");
}

#[test]
fn chat_reports_a_busy_server() {
    let (server, _hold) = busy_server("chat");
    let addr = server.addr("chat", "tcp").to_string();
    let out = wirekit_tests::run_with_timeout(wirekit(&["chat", &addr]), b"", T);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(err.contains("server busy"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("error"));
}

#[test]
fn chat_gives_up_on_a_silent_tls_handshake() {
    // The kernel accepts into the backlog; nobody ever answers the
    // ClientHello, so without --timeout the client waits forever.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let pin = format!("sha256:{}", "0".repeat(64));
    let out = wirekit_tests::run_with_timeout(
        wirekit(&[
            "chat",
            &addr,
            "--tls",
            "--tls-pin",
            &pin,
            "--timeout",
            "0.5",
        ]),
        b"",
        T,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(err.contains("timed out"), "{err}");
}
