//! The batched UDP loop (`recvmmsg`/`sendmmsg` on Linux) under many
//! concurrent clients: every client gets exactly its own replies, in the
//! order it asked, and error replies still reach the right client. Bursts
//! from 64 sockets at once make the server take many datagrams per call.

wirekit_testkit::kit!();

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use kit::Server;

const CLIENTS: usize = 64;
const WAIT: Duration = Duration::from_secs(10);

fn serve(spec: &str) -> Server {
    Server::start(&["serve", "--listen", spec], 1)
}

fn clients() -> Vec<UdpSocket> {
    (0..CLIENTS)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            s
        })
        .collect()
}

/// The next datagram on `s`, which must come from `server`.
fn reply(s: &UdpSocket, server: SocketAddr, buf: &mut [u8]) -> Vec<u8> {
    let (n, from) = s.recv_from(buf).expect("a reply within the timeout");
    assert_eq!(from, server, "reply from the service's address");
    buf[..n].to_vec()
}

#[test]
fn concurrent_echo_clients_get_their_own_replies_in_order() {
    let srv = serve("udp-echo=127.0.0.1:0");
    let a = srv.addr("udp-echo", "udp");
    let socks = clients();
    let mut buf = vec![0u8; 70_000];
    // Two datagrams per client per round, all sent before any is read:
    // the server sees bursts from many peers, and each peer must get its
    // two answers in order. Small datagrams keep the burst (128 at most)
    // well inside the default socket buffer, so nothing is dropped.
    for round in 0..10 {
        let msg = |i: usize, k: usize| {
            let pad = "x".repeat((i * 7 + round * 3 + k) % 40);
            format!("client {i} round {round} msg {k} {pad}").into_bytes()
        };
        for (i, s) in socks.iter().enumerate() {
            for k in 0..2 {
                s.send_to(&msg(i, k), a).unwrap();
            }
        }
        for (i, s) in socks.iter().enumerate() {
            for k in 0..2 {
                let got = reply(s, a, &mut buf);
                assert_eq!(
                    got,
                    msg(i, k).to_ascii_uppercase(),
                    "client {i} round {round}"
                );
            }
        }
    }
    // Nothing extra arrived anywhere.
    for s in &socks {
        s.set_nonblocking(true).unwrap();
        assert!(s.recv_from(&mut buf).is_err(), "an unexpected extra reply");
    }
}

/// A check of one answer.
type Check = Box<dyn Fn(&str) -> bool>;

/// What client `i` asks the time service, and a check of its answer.
fn time_request(i: usize, round: usize) -> (Vec<u8>, Check) {
    match i % 4 {
        0 => (
            format!("%Y\u{0}{i}").into_bytes(),
            Box::new(|r: &str| r == "error: format contains a NUL byte"),
        ),
        1 => (
            vec![b'%'; 1025 + i],
            Box::new(|r: &str| r == "error: format longer than 1024 bytes"),
        ),
        2 => {
            let prefix = format!("client {i} round {round} ");
            let fmt = format!("{prefix}%Y");
            let check = move |r: &str| {
                r.strip_prefix(&prefix)
                    .is_some_and(|y| y.len() == 4 && y.bytes().all(|c| c.is_ascii_digit()))
            };
            (fmt.into_bytes(), Box::new(check))
        }
        // Many clients send the same (default) format: a reused answer
        // must still be the time, never another client's reply.
        _ => (Vec::new(), Box::new(is_default_time)),
    }
}

/// `YYYY-MM-DD HH:MM:SS`, the answer to an empty datagram.
fn is_default_time(r: &str) -> bool {
    let b = r.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(k, c)| match k {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

#[test]
fn concurrent_time_clients_get_their_own_answers_and_errors() {
    let srv = serve("time=127.0.0.1:0");
    let a = srv.addr("time", "udp");
    let socks = clients();
    let mut buf = vec![0u8; 70_000];
    for round in 0..10 {
        let reqs: Vec<_> = (0..CLIENTS).map(|i| time_request(i, round)).collect();
        for (s, (req, _)) in socks.iter().zip(&reqs) {
            s.send_to(req, a).unwrap();
        }
        for (i, (s, (_, ok))) in socks.iter().zip(&reqs).enumerate() {
            let got = String::from_utf8(reply(s, a, &mut buf)).unwrap();
            assert!(ok(&got), "client {i} round {round}: {got:?}");
        }
    }
}

#[test]
fn a_vanished_peer_does_not_stop_the_others() {
    // Replies to a socket that is already closed are refused by the
    // kernel (ICMP port unreachable); the loop must keep answering.
    let srv = serve("udp-echo=127.0.0.1:0");
    let a = srv.addr("udp-echo", "udp");
    let mut buf = vec![0u8; 1024];
    for round in 0..20 {
        let gone = UdpSocket::bind("127.0.0.1:0").unwrap();
        gone.send_to(b"gone", a).unwrap();
        drop(gone);
        let socks = clients();
        for (i, s) in socks.iter().enumerate().take(8) {
            s.send_to(format!("r{round} c{i}").as_bytes(), a).unwrap();
        }
        for (i, s) in socks.iter().enumerate().take(8) {
            assert_eq!(reply(s, a, &mut buf), format!("R{round} C{i}").into_bytes());
        }
    }
}

#[test]
fn shutdown_under_udp_load_is_clean() {
    // A sender keeps the batched loop busy (bounded: at most 200,000
    // datagrams, and it stops once the server is gone) while SIGTERM
    // arrives: the UDP thread must notice the shutdown between batches,
    // so the server exits 0 within its grace period instead of being cut
    // off when the grace period runs out.
    let mut srv = Server::start(
        &[
            "serve",
            "--listen",
            "udp-echo=127.0.0.1:0",
            "--shutdown-grace",
            "5",
        ],
        1,
    );
    let a = srv.addr("udp-echo", "udp");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.connect(a).unwrap();
            let mut sent = 0u32;
            while sent < 200_000 && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // Refused once the server is gone: that ends the load too.
                if s.send(b"load").is_err() {
                    break;
                }
                sent += 1;
            }
            sent
        })
    };
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 64];
    probe.send_to(b"up?", a).unwrap();
    assert_eq!(reply(&probe, a, &mut buf), b"UP?");
    srv.signal("TERM");
    let status = srv.wait_timeout(Duration::from_secs(30));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = sender.join().unwrap();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "after {sent} datagrams"
    );
    let log = srv.stderr_lines().join("\n");
    assert!(!log.contains("grace period over"), "{log}");
}
