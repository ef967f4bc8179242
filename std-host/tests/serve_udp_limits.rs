//! UDP amplification limits (issue 13 item 5): the time service never
//! answers with more than 1,024 bytes, every UDP service keeps a per-source
//! reply and byte budget, and `chargen` over UDP runs only on a loopback
//! address unless `--udp-chargen-public` says otherwise. Each budget test
//! runs over both UDP loops: the Linux `recvmmsg` batch loop (the default)
//! and the portable one-datagram loop (`--udp-plain-loop`).

wirekit_testkit::kit!();

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use kit::{run_with_timeout, wirekit, Server};

const WAIT: Duration = Duration::from_secs(5);

/// Starts `wirekit serve ARGS` and waits for `lines` listening lines.
fn serve_n(args: &[&str], lines: usize) -> Server {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    Server::start(&all, lines)
}

fn serve(args: &[&str]) -> Server {
    serve_n(args, 1)
}

fn client(ip: &str) -> UdpSocket {
    let s = UdpSocket::bind((ip, 0)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

fn ask(s: &UdpSocket, to: SocketAddr, req: &[u8]) -> Vec<u8> {
    s.send_to(req, to).unwrap();
    let mut buf = vec![0u8; 70_000];
    let (n, _) = s.recv_from(&mut buf).expect("an answer");
    buf[..n].to_vec()
}

/// Sends `count` requests back to back, then counts the answers that come
/// within a short quiet period (answers are sent at once or never).
fn burst(s: &UdpSocket, to: SocketAddr, req: &[u8], count: usize) -> usize {
    for _ in 0..count {
        s.send_to(req, to).unwrap();
    }
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = vec![0u8; 70_000];
    let mut got = 0;
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline && s.recv_from(&mut buf).is_ok() {
        got += 1;
    }
    s.set_read_timeout(Some(WAIT)).unwrap();
    got
}

#[test]
fn time_answers_are_capped_at_1024_bytes() {
    for lp in [&[][..], &["--udp-plain-loop"][..]] {
        let mut args = vec!["--listen", "time=127.0.0.1:0"];
        args.extend_from_slice(lp);
        let srv = serve(&args);
        let a = srv.addr("time", "udp");
        let c = client("127.0.0.1");
        // Exactly the limit is still answered (a year padded to 1,024).
        let full = ask(&c, a, b"%1024Y");
        assert_eq!(full.len(), 1024, "{lp:?}");
        assert!(full.iter().rev().take(4).all(u8::is_ascii_digit));
        // 6 bytes asking for 2,047 get a short error text instead.
        for req in [&b"%2047Y"[..], b"%1025Y", b"%1000Y%1000Y"] {
            let got = ask(&c, a, req);
            let text = String::from_utf8_lossy(&got);
            assert!(got.len() <= 1024, "{req:?}: {} bytes", got.len());
            assert!(
                text.starts_with("error: ") && text.contains("1024"),
                "{req:?}: {text}"
            );
        }
    }
}

#[test]
fn a_burst_from_one_source_is_limited_and_others_are_still_answered() {
    for lp in [&[][..], &["--udp-plain-loop"][..]] {
        let mut args = vec![
            "--listen",
            "udp-echo=127.0.0.1:0",
            "--udp-rate",
            "5",
            "--udp-limit-loopback",
        ];
        args.extend_from_slice(lp);
        let srv = serve(&args);
        let a = srv.addr("udp-echo", "udp");
        let flooder = client("127.0.0.1");
        let got = burst(&flooder, a, b"x", 50);
        // A burst of one second's worth (5), plus what refills meanwhile.
        assert!((1..=10).contains(&got), "{lp:?}: {got} of 50 answered");
        // Another source has its own budget.
        let other = client("127.0.0.2");
        assert_eq!(ask(&other, a, b"hi"), b"HI", "{lp:?}");
        // The budget refills with time.
        std::thread::sleep(Duration::from_millis(1200));
        assert_eq!(ask(&flooder, a, b"again"), b"AGAIN", "{lp:?}");
    }
}

#[test]
fn the_byte_budget_limits_large_replies() {
    let srv = serve(&[
        "--listen",
        "udp-echo=127.0.0.1:0",
        "--udp-byte-rate",
        "4000",
        "--udp-limit-loopback",
    ]);
    let a = srv.addr("udp-echo", "udp");
    let c = client("127.0.0.1");
    // 1,000-byte replies against 4,000 bytes a second: about four.
    let got = burst(&c, a, &[b'a'; 1000], 40);
    assert!((1..=8).contains(&got), "{got} of 40 answered");
    // Small replies from another source still pass.
    assert_eq!(ask(&client("127.0.0.3"), a, b"ok"), b"OK");
}

#[test]
fn loopback_sources_are_not_limited_by_default() {
    let srv = serve(&["--listen", "udp-echo=127.0.0.1:0", "--udp-rate", "5"]);
    let a = srv.addr("udp-echo", "udp");
    let c = client("127.0.0.1");
    // Sent one at a time so no datagram is lost to a full socket buffer.
    for i in 0..40 {
        let msg = format!("m{i}");
        assert_eq!(ask(&c, a, msg.as_bytes()), msg.to_uppercase().as_bytes());
    }
}

#[test]
fn chargen_over_udp_only_on_loopback_unless_allowed() {
    // Any 127.x address is loopback: chargen runs and answers.
    let srv = serve_n(&["--listen", "chargen=127.0.0.2:0"], 2);
    let a = srv.addr("chargen", "udp");
    assert_eq!(ask(&client("127.0.0.1"), a, b"").len(), 6 * 74);
    drop(srv);
    // A wildcard (or any other non-loopback) address is refused at start,
    // with the way out in the message.
    let out = run_with_timeout(
        wirekit(&["serve", "--listen", "chargen=0.0.0.0:0"]),
        b"",
        WAIT,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started: {err}");
    assert!(err.contains("--udp-chargen-public"), "{err}");
    // Allowed explicitly, it answers (reached here over loopback).
    let srv = serve_n(
        &["--listen", "chargen=0.0.0.0:0", "--udp-chargen-public"],
        2,
    );
    let port = srv.addr("chargen", "udp").port();
    let a: SocketAddr = ([127, 0, 0, 1], port).into();
    assert_eq!(ask(&client("127.0.0.1"), a, b"").len(), 6 * 74);
}
