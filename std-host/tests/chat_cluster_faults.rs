//! Faults of a chat room spanning several nodes (issue 19): a node dies,
//! the NATS server restarts mid-conversation, a member of a three-server
//! NATS cluster dies, a stalled reader on one node. Clients on the other
//! nodes go on, and every line arrives exactly once, in one order.

wirekit_testkit::kit!();

mod common;
#[path = "chat_cluster/harness.rs"]
mod harness;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::raw::Raw;
use harness::{collect, ip_port, join, node};
use kit::nats::{free_port, have_nats, Nats};
use kit::{temp_dir, Server};

fn send_range(w: &mut TcpStream, prefix: &str, range: std::ops::Range<u32>) {
    let text: String = range.map(|i| format!("{prefix}{i:03}\n")).collect();
    w.write_all(text.as_bytes()).unwrap();
}

fn numbered(prefix: &str, range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i:03}")).collect()
}

/// Asks `/who` until `done` holds for the answer, for at most `limit`.
fn who_until(c: &mut Raw, limit: Duration, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + limit;
    loop {
        c.send(b"/who\n");
        let who = c.until("* online (").body;
        if done(&who) || Instant::now() > deadline {
            return who;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_dead_node_leaves_who_and_the_others_go_on() {
    if !have_nats() {
        return;
    }
    let nats = Nats::start();
    let (_n0, a0) = node(&nats.url(), &[]);
    let (_n1, a1) = node(&nats.url(), &[]);
    let (n2, a2) = node(&nats.url(), &[]);
    let mut a = join(a0);
    let mut b = join(a1);
    let mut z = join(a2);
    z.send(b"/nick zed\n");
    a.until("is now zed");
    let who = who_until(&mut a, Duration::from_secs(10), |w| w.contains("zed"));
    assert!(
        who.starts_with("* online (3)") && who.contains("zed"),
        "{who}"
    );
    // SIGKILL: the node cannot say goodbye; its heartbeats just stop.
    drop(n2);
    let who = who_until(&mut a, Duration::from_secs(10), |w| !w.contains("zed"));
    assert!(!who.contains("zed"), "zed still listed: {who}");
    assert!(who.starts_with("* online (2)"), "{who}");
    a.send(b"still here\n");
    b.until("still here");
    drop(z);
}

#[test]
fn nats_restart_mid_conversation_loses_and_repeats_nothing() {
    if !have_nats() {
        return;
    }
    let mut nats = Nats::start();
    let nodes: Vec<(Server, SocketAddr)> = (0..3).map(|_| node(&nats.url(), &[])).collect();
    let mut readers: Vec<Raw> = nodes.iter().map(|n| join(n.1)).collect();
    let sender = join(nodes[0].1);
    let mut w = sender.writer();
    send_range(&mut w, "q", 0..20);
    for r in &mut readers {
        assert_eq!(collect(r, "q", 20), numbered("q", 0..20));
    }
    nats.stop();
    // Said while NATS is down: queued by the node, published once it is back.
    send_range(&mut w, "q", 20..40);
    std::thread::sleep(Duration::from_millis(500));
    nats.restart();
    send_range(&mut w, "q", 40..60);
    let seqs: Vec<Vec<String>> = readers.iter_mut().map(|r| collect(r, "q", 40)).collect();
    for s in &seqs {
        assert_eq!(
            s,
            &numbered("q", 20..60),
            "a line lost, repeated or reordered"
        );
    }
    // Nothing more comes: one more line is the next said line everywhere.
    w.write_all(b"q-end\n").unwrap();
    for r in &mut readers {
        assert_eq!(collect(r, "q", 1), ["q-end"]);
    }
}

#[test]
fn a_nats_cluster_member_dies_and_the_room_goes_on() {
    if !have_nats() {
        return;
    }
    let dir = temp_dir("nats-cluster");
    let cports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut servers: Vec<Nats> = (0..3)
        .map(|i| {
            let routes: Vec<u16> = (0..3).filter(|j| *j != i).map(|j| cports[j]).collect();
            Nats::member(&dir, &format!("s{i}"), cports[i], &routes)
        })
        .collect();
    let urls: Vec<String> = servers.iter().map(Nats::url).collect();
    // Node k prefers server k; each knows all three.
    let nodes: Vec<(Server, SocketAddr)> = (0..3)
        .map(|k| {
            let list = [&urls[k..], &urls[..k]].concat().join(",");
            node(&list, &["--chat-nats-replicas", "3"])
        })
        .collect();
    let mut readers: Vec<Raw> = nodes.iter().map(|n| join(n.1)).collect();
    let sender = join(nodes[1].1);
    let mut w = sender.writer();
    send_range(&mut w, "c", 0..20);
    for r in &mut readers {
        assert_eq!(collect(r, "c", 20), numbered("c", 0..20));
    }
    servers[0].stop();
    send_range(&mut w, "c", 20..40);
    let seqs: Vec<Vec<String>> = readers.iter_mut().map(|r| collect(r, "c", 20)).collect();
    for s in &seqs {
        assert_eq!(
            s,
            &numbered("c", 20..40),
            "a line lost, repeated or reordered"
        );
    }
}

#[test]
fn a_stalled_reader_on_one_node_is_dropped_and_the_room_goes_on() {
    if !have_nats() {
        return;
    }
    let nats = Nats::start();
    let (_n0, a0) = node(&nats.url(), &["--chat-queue", "16"]);
    let (_n1, a1) = node(&nats.url(), &["--chat-queue", "16"]);
    let mut reader = join(a0);
    let stalled = join(a1);
    let stalled_name = ip_port(stalled.local());
    let sender = join(a0);
    let mut w = sender.writer();
    let drain = std::thread::spawn(move || {
        let mut sender = sender;
        sender.until_closed().len()
    });
    // Batches confirmed by the reader, so only the stalled client falls
    // behind; bounded (about 48 MB at most).
    let filler = "z".repeat(1000);
    let mut dropped = None;
    for batch in 0..6000 {
        let chunk: String = (0..8).map(|i| format!("{filler} {batch}/{i}\n")).collect();
        w.write_all(chunk.as_bytes()).unwrap();
        loop {
            let f = reader.frame().expect("the reader stays connected");
            if f.body.contains("was disconnected") {
                dropped = Some(f.body.clone());
            }
            if f.body.ends_with(&format!(" {batch}/7")) {
                break;
            }
        }
        if dropped.is_some() {
            break;
        }
    }
    let notice = dropped.expect("the stalled client was never dropped");
    assert_eq!(
        notice,
        format!("* {stalled_name} was disconnected: too slow: outgoing queue full")
    );
    w.write_all(b"after the drop\n").unwrap();
    reader.until("after the drop");
    drop((stalled, drain));
}

#[test]
fn a_node_that_missed_discarded_lines_tells_its_clients() {
    if !have_nats() {
        return;
    }
    let nats = Nats::start();
    let small = ["--chat-nats-max-messages", "10"];
    let (_n0, a0) = node(&nats.url(), &small);
    let (n1, a1) = node(&nats.url(), &small);
    let mut a = join(a0);
    let mut b = join(a1);
    // Node 1 freezes longer than its consumer's inactivity limit (10 s),
    // while 30 lines pass through a stream that keeps 10.
    n1.signal("STOP");
    // The pull requests node 1 sent just before it froze live on for up
    // to a second (PULL_EXPIRES) and would still carry lines into its
    // socket buffer: then nothing is lost and no notice is due. Lines
    // sent after they expired are the ones it misses.
    std::thread::sleep(Duration::from_secs(2));
    let mut w = a.writer();
    // One at a time, so node 0 itself keeps up with the small stream.
    for i in 0..30 {
        send_range(&mut w, "g", i..i + 1);
        assert_eq!(collect(&mut a, "g", 1), numbered("g", i..i + 1));
    }
    std::thread::sleep(Duration::from_secs(12));
    n1.signal("CONT");
    let notice = b.until("lines may have been lost");
    assert!(notice.body.starts_with("* chat bus: "), "{}", notice.body);
    // What the stream still had follows, then the room goes on.
    w.write_all(b"g-after\n").unwrap();
    b.until("g-after");
}
