//! A mass leave on one node of a shared chat room (issue 19): when more
//! members leave at once than the node's bus queue holds, the other nodes
//! still hear about every one of them (one by one or in a "N clients
//! left" summary), and their `/who` drops them without waiting for the
//! node's presence to expire.

wirekit_testkit::kit!();

mod common;
#[path = "chat_cluster/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use common::raw::Raw;
use harness::{ip_port, join, node};
use kit::nats::{have_nats, Nats};

/// Members leaving node A at once (more than its queue of one holds).
const LEAVING: usize = 40;

/// How many of `labels` a notice body says left: 1 for a leave (or drop)
/// of one of them, N for a summary.
fn left_in(body: &str, labels: &[String]) -> usize {
    let Some(who) = body.strip_prefix("* ") else {
        return 0;
    };
    if let Some(n) = who.strip_suffix(" clients left") {
        return n.parse().expect("summary count");
    }
    // A client closing with unread frames may reset the connection: that
    // leave is "was disconnected: read failed".
    let label = who
        .strip_suffix(" left")
        .or_else(|| who.split_once(" was disconnected: ").map(|(l, _)| l));
    match label {
        Some(l) if labels.iter().any(|x| x == l) => 1,
        _ => 0,
    }
}

#[test]
fn a_mass_leave_reaches_the_other_nodes_even_when_the_bus_queue_is_full() {
    if !have_nats() {
        return;
    }
    let nats = Nats::start();
    // A queue of one event: a burst of leaves overflows it at once.
    let (_na, a) = node(&nats.url(), &["--chat-nats-queue", "1"]);
    let (_nb, b_addr) = node(&nats.url(), &[]);
    let mut b = join(b_addr);
    let leaving: Vec<Raw> = (0..LEAVING).map(|_| join(a)).collect();
    let labels: Vec<String> = leaving.iter().map(|c| ip_port(c.local())).collect();
    let online = format!("* online ({})", LEAVING + 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        b.send(b"/who\n");
        if b.until("* online (").body.starts_with(&online) {
            break;
        }
        assert!(Instant::now() < deadline, "{online} never shown on B");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Everyone on A leaves at once (closing the connection).
    drop(leaving);
    let mut left = 0;
    let mut who = String::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        b.send(b"/who\n");
        loop {
            let body = b.frame().expect("B stays connected").body;
            if body.starts_with("* online (") {
                who = body;
                break;
            }
            left += left_in(&body, &labels);
        }
        if left >= LEAVING && who.starts_with("* online (1)") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(left, LEAVING, "leaves B heard of; /who: {who}");
    assert!(who.starts_with("* online (1)"), "{who}");
    assert!(!labels.iter().any(|l| who.contains(l.as_str())), "{who}");
}
