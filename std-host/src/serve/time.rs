//! The seeds' UDP time server: each datagram is a strftime format (empty =
//! `%Y-%m-%d %X`), answered with the local time formatted by the core.

use std::net::SocketAddr;

use wirekit_core::service::time::answer;

use super::{clock, Launch};

pub(super) fn start(l: &Launch, addr: SocketAddr) -> anyhow::Result<()> {
    l.udp("time", addr, |req: &[u8], _peer, out: &mut [u8]| {
        Some(answer(req, &clock::local_now(), out))
    })
}
