//! Chat rooms spanning several `wirekit serve` nodes through NATS JetStream
//! (issue 19): one nats-server and three nodes on loopback. Lines cross
//! nodes in the seed 003 format, every client sees one and the same order,
//! newcomers get the history, the seed's Python client works against any
//! node, and garbage on the bus never reaches a client.

wirekit_testkit::kit!();

mod common;
#[path = "chat_cluster/harness.rs"]
mod harness;

use std::io::Write;
use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

use common::proc::Proc;
use common::raw::{sender_of, Raw};
use harness::{collect, ip_port, join, node};
use kit::nats::{have_nats, raw_publish, Nats};
use kit::{python, run_with_timeout, wirekit, Server};

fn three_nodes(extra: &[&str]) -> (Nats, Vec<(Server, SocketAddr)>) {
    kit::nats::three_nodes(extra)
}

#[test]
fn clients_on_different_nodes_exchange_lines_in_seed_format() {
    if !have_nats() {
        return;
    }
    let (_nats, nodes) = three_nodes(&[]);
    let mut a = join(nodes[0].1);
    let mut b = join(nodes[1].1);
    let mut c = join(nodes[2].1);
    a.send(b"hello from a\n");
    let a_name = ip_port(a.local());
    for cl in [&mut a, &mut b, &mut c] {
        let f = cl.until("hello from a");
        assert_eq!(f.body, "hello from a");
        assert_eq!(sender_of(&f.head), a_name);
    }
    b.send(b"/nick bee\n");
    c.until(&format!("{} is now bee", ip_port(b.local())));
    b.send(b"hi from bee\n");
    for cl in [&mut a, &mut c] {
        let f = cl.until("hi from bee");
        assert_eq!(sender_of(&f.head), "bee");
    }
    // /who lists the members of every node; the name is taken everywhere.
    a.send(b"/who\n");
    let who = a.until("online (").body;
    assert!(who.starts_with("* online (3): "), "{who}");
    assert!(who.contains("bee") && who.contains(&a_name), "{who}");
    c.send(b"/nick BEE\n");
    c.until("nickname BEE is already in use");
    b.send(b"quit\n");
    a.until("bee left");
}

#[test]
fn two_hundred_lines_arrive_in_order_on_every_node() {
    if !have_nats() {
        return;
    }
    let (_nats, nodes) = three_nodes(&[]);
    let mut readers: Vec<Raw> = nodes.iter().map(|n| join(n.1)).collect();
    let sender = join(nodes[0].1);
    let mut w = sender.writer();
    let text: String = (0..200).map(|i| format!("n{i:03}\n")).collect();
    w.write_all(text.as_bytes()).unwrap();
    let want: Vec<String> = (0..200).map(|i| format!("n{i:03}")).collect();
    for r in &mut readers {
        assert_eq!(collect(r, "n", 200), want);
    }
}

#[test]
fn concurrent_senders_on_two_nodes_are_seen_in_one_order() {
    if !have_nats() {
        return;
    }
    let (_nats, nodes) = three_nodes(&[]);
    let mut readers: Vec<Raw> = nodes.iter().map(|n| join(n.1)).collect();
    let s1 = join(nodes[0].1);
    let s2 = join(nodes[1].1);
    let go = std::sync::Arc::new(std::sync::Barrier::new(2));
    let senders: Vec<_> = [("x", s1.writer()), ("y", s2.writer())]
        .into_iter()
        .map(|(tag, mut w)| {
            let go = go.clone();
            thread::spawn(move || {
                go.wait();
                for i in 0..100 {
                    w.write_all(format!("m{tag}{i:03}\n").as_bytes()).unwrap();
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    let seqs: Vec<Vec<String>> = readers.iter_mut().map(|r| collect(r, "m", 200)).collect();
    for s in &seqs[1..] {
        assert_eq!(s, &seqs[0], "receivers saw different orders");
    }
    let mut sorted = seqs[0].clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 200, "every line exactly once");
    drop((s1, s2));
}

#[test]
fn late_joiner_gets_the_last_lines() {
    if !have_nats() {
        return;
    }
    let (nats, nodes) = three_nodes(&["--chat-history", "5"]);
    let mut a = join(nodes[0].1);
    let mut here = join(nodes[1].1);
    for i in 0..8 {
        a.send(format!("old {i}\n").as_bytes());
    }
    // Node 1 has delivered all eight once a client there has them.
    here.until("old 7");
    let mut late = Raw::connect(nodes[1].1);
    let first: Vec<String> = (0..5).map(|_| late.frame().unwrap().body).collect();
    let want: Vec<String> = (3..8).map(|i| format!("old {i}")).collect();
    assert_eq!(first, want);
    late.until("joined");
    // The node that started after the lines were said knows them too.
    let (_n4, addr4) = node(&nats.url(), &["--chat-history", "2"]);
    let mut later = Raw::connect(addr4);
    assert_eq!(later.frame().unwrap().body, "old 6");
    assert_eq!(later.frame().unwrap().body, "old 7");
}

#[test]
fn seed_python_client_works_against_any_node() {
    if !have_nats() {
        return;
    }
    let (_nats, nodes) = three_nodes(&[]);
    let mut watch = join(nodes[0].1);
    for (i, n) in nodes.iter().enumerate() {
        let port = n.1.port().to_string();
        let mut p = Proc::spawn(
            "seed client",
            python("seed003_chat_client.py", &["127.0.0.1", &port]),
        );
        // The seed client's first line, seen on node 0.
        let ready = watch.until("I'm ready.");
        assert_eq!(ready.body, "I'm ready.");
        let who = sender_of(&ready.head).to_owned();
        p.send(&format!("via node {i}\n"));
        watch.until(&format!("via node {i}"));
        // The seed client logs what it receives: its own line is back.
        p.wait_err(&format!("via node {i}"));
        p.send("quit\n");
        watch.until(&format!("{who} left"));
        assert!(p.wait_exit().success());
    }
}

#[test]
fn garbage_on_the_bus_never_reaches_clients() {
    if !have_nats() {
        return;
    }
    let nats = Nats::start();
    let url = nats.url();
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "chat=127.0.0.1:0",
            "--chat-nats",
            &url,
            "--metrics",
            "127.0.0.1:0",
        ],
        2,
    );
    let addr = srv.addr("chat", "tcp");
    let mut a = join(addr);
    let subject = "wirekit.chat.lobby";
    let garbage: Vec<Vec<u8>> = vec![
        b"hello, not wirekit".to_vec(),
        b"wkc1 line lobby n1 1 1 127.0.0.1:5 - -\n\xff\xfe broken".to_vec(),
        b"wkc1 line other n1 2 1 127.0.0.1:5 - -\nwrong room".to_vec(),
        b"wkc1 line lobby n1 3 1 127.0.0.1:5 - -\nmulti\nline".to_vec(),
        b"wkc1 nick lobby n1 4 1 127.0.0.1:5 - server\n".to_vec(),
        [
            b"wkc1 line lobby n1 5 1 127.0.0.1:5 - -\n".as_slice(),
            &[b'x'; 3100],
        ]
        .concat(),
        vec![b'z'; 200_000],
    ];
    for g in &garbage {
        raw_publish(nats.port, subject, g);
    }
    a.send(b"after the garbage\n");
    // The first said line or notice after joining is the real line.
    let f = a.frame().expect("connected");
    assert_eq!(f.body, "after the garbage");
    let logged = srv.stderr_lines().join("\n");
    assert!(logged.contains("chat bus message dropped"), "{logged}");
    // And counted where an operator looks (the 200 kB one never reaches
    // the node: the stream refuses it).
    let text = http_get(srv.addr("metrics", "http"), "/metrics");
    let rejected: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("wirekit_chat_bus_messages_rejected_total "))
        .unwrap_or_else(|| panic!("no rejected counter in:\n{text}"))
        .trim()
        .parse()
        .unwrap();
    assert!(rejected >= 6.0, "{rejected} rejected, want >= 6");
}

/// The body of a plain HTTP/1.1 GET.
fn http_get(addr: SocketAddr, path: &str) -> String {
    use std::io::Read as _;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[test]
fn unreachable_nats_is_an_error_unless_optional() {
    let dead = format!("nats://127.0.0.1:{}", kit::nats::free_port());
    let out = run_with_timeout(
        wirekit(&[
            "serve",
            "--listen",
            "chat=127.0.0.1:0",
            "--chat-nats",
            &dead,
        ]),
        b"",
        Duration::from_secs(60),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect to NATS"), "{err}");
    let (srv, addr) = node(&dead, &["--chat-nats-optional"]);
    let mut a = Raw::connect(addr);
    a.until("joined (1 online)");
    a.send(b"local only\n");
    a.until("local only");
    let logged = srv.stderr_lines().join("\n");
    assert!(logged.contains("local only"), "{logged}");
}

#[test]
fn history_works_on_a_single_node_too() {
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "chat=127.0.0.1:0",
            "--chat-history",
            "2",
        ],
        1,
    );
    let addr = srv.addr("chat", "tcp");
    let mut a = Raw::connect(addr);
    for i in 0..3 {
        a.send(format!("solo {i}\n").as_bytes());
    }
    a.until("solo 2");
    let mut b = Raw::connect(addr);
    assert_eq!(b.frame().unwrap().body, "solo 1");
    assert_eq!(b.frame().unwrap().body, "solo 2");
    assert!(b.frame().unwrap().body.ends_with("joined (2 online)"));
}

/// A healthy cluster delivers every line at once: the nodes never wait
/// for a pull request's timeout. Before the fix a node's pull request
/// could expire on nats-server 2.9 without the 408 that ends it, and the
/// node then delivered nothing until its own deadline, about 1 s later.
/// Lines are sent every 2 ms for 6 s (several request lifetimes on every
/// node), each carrying its send time; a line normally arrives within
/// milliseconds, a stall takes over a second, so the bound below leaves
/// a wide margin either way.
#[test]
fn a_healthy_cluster_never_stalls_a_line_for_a_timeout() {
    if !have_nats() {
        return;
    }
    let (_nats, nodes) = three_nodes(&[]);
    let mut readers: Vec<Raw> = nodes.iter().map(|n| join(n.1)).collect();
    // The first reader sends too, so no client falls behind.
    let mut w = readers[0].writer();
    let began = std::time::Instant::now();
    const LINES: u32 = 3000;
    let send = thread::spawn(move || {
        for i in 0..LINES {
            let at = began.elapsed().as_micros();
            w.write_all(format!("t{i:05} {at}\n").as_bytes()).unwrap();
            thread::sleep(Duration::from_millis(2));
        }
    });
    let watchers: Vec<_> = readers
        .drain(..)
        .map(|mut r| {
            thread::spawn(move || {
                let mut worst = Duration::ZERO;
                for _ in 0..LINES {
                    let f = r.until("t");
                    let at: u64 = f.body.split(' ').nth(1).unwrap().parse().unwrap();
                    let late = began.elapsed() - Duration::from_micros(at);
                    worst = worst.max(late);
                }
                worst
            })
        })
        .collect();
    send.join().unwrap();
    for w in watchers {
        let worst = w.join().unwrap();
        assert!(
            worst < Duration::from_millis(750),
            "a line took {worst:?} to reach a node"
        );
    }
}
