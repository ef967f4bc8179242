//! Chat clients of the cluster nodes for the chat cluster tests (issue 19);
//! the nats-server processes and the nodes themselves are the harness's
//! (`wirekit_testkit::nats`), shared with the load generator's tests.
// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::SocketAddr;

use crate::kit::Server;

use crate::common::raw::Raw;

/// `wirekit serve` with one chat listener on the bus at `urls`.
pub fn node(urls: &str, extra: &[&str]) -> (Server, SocketAddr) {
    crate::kit::nats::node(urls, extra)
}

/// `ip:port` as the seed shows a peer.
pub fn ip_port(a: SocketAddr) -> String {
    format!("{}:{}", a.ip(), a.port())
}

/// A client of `addr` that has seen its own join come back from the bus
/// (so it is in the shared room).
pub fn join(addr: SocketAddr) -> Raw {
    let mut c = Raw::connect(addr);
    let me = ip_port(c.local());
    c.until(&format!("{me} joined"));
    c
}

/// Reads until `n` said lines starting with `prefix` arrived; returns them.
pub fn collect(c: &mut Raw, prefix: &str, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < n {
        let f = c.frame().expect("client stays connected");
        if f.body.starts_with(prefix) {
            got.push(f.body);
        }
    }
    got
}
