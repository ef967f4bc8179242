//! SYN-flood defence for the fixed listening slots.
//!
//! smoltcp has no listen backlog: each slot is one socket, and a SYN takes
//! it from LISTEN to SYN-RECEIVED. Forged SYNs (never acknowledged) would
//! hold a slot until the socket's timeout (20 s) and make the stack reset
//! every genuine client meanwhile. So:
//!
//! - [`tend`]: a socket half-open for [`HALF_OPEN_MS`] is aborted and
//!   listens again;
//! - [`make_room`]: before a SYN is handed to smoltcp (the application
//!   looks at each frame first, see `replay.rs`), if no slot of its port is
//!   listening the oldest half-open one is aborted, so the SYN finds a
//!   listener (like a SYN cache dropping its oldest entry). Established
//!   connections are never touched: a client beyond four established ones
//!   is still reset.

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::{EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, TcpPacket};

/// Longest time a connection may stay half-open (SYN received, our SYN-ACK
/// not acknowledged). A genuine peer answers within one round trip; a
/// slow one retransmits its SYN, which a listening slot then accepts.
pub const HALF_OPEN_MS: u64 = 2_000;

/// One service's slots (all listening on `port`); `since[i]` is when slot i
/// was first seen half-open.
pub struct Slots<'a> {
    /// The slots' sockets (renewed sockets get new handles).
    pub handles: &'a mut [SocketHandle],
    /// When each slot was first seen half-open.
    pub since: &'a mut [Option<u64>],
    /// The port every slot listens on.
    pub port: u16,
}

/// Aborts slots half-open for [`HALF_OPEN_MS`] and puts closed ones back
/// into listening.
#[cfg(feature = "echo-time")]
pub fn tend(sockets: &mut SocketSet<'_>, mut slots: Slots<'_>, now_ms: u64) {
    expire(sockets, &mut slots, now_ms);
    for h in slots.handles.iter() {
        relisten(sockets.get_mut::<tcp::Socket>(*h), slots.port);
    }
}

/// Aborts slots half-open for [`HALF_OPEN_MS`] (they listen again) and
/// nothing else: for services that put their slots back into listening
/// themselves (the chat room waits a round after a reset).
pub fn expire(sockets: &mut SocketSet<'_>, slots: &mut Slots<'_>, now_ms: u64) {
    for (h, since) in slots.handles.iter_mut().zip(slots.since.iter_mut()) {
        let s = sockets.get_mut::<tcp::Socket>(*h);
        if s.state() != tcp::State::SynReceived {
            *since = None;
            continue;
        }
        let t = *since.get_or_insert(now_ms);
        if now_ms.saturating_sub(t) >= HALF_OPEN_MS {
            renew(sockets, h, slots.port);
            *since = None;
        }
    }
}

/// Called before a SYN for `slots.port` is processed: if no slot listens,
/// the oldest half-open one is aborted and listens again.
pub fn make_room(sockets: &mut SocketSet<'_>, slots: Slots<'_>) {
    let mut oldest: Option<(usize, u64)> = None;
    for (i, (h, since)) in slots.handles.iter().zip(slots.since.iter()).enumerate() {
        // get_mut, though only read: see chat.rs, `report_space`.
        let s = sockets.get_mut::<tcp::Socket>(*h);
        match (s.state(), since) {
            (tcp::State::Listen, _) => return,
            (tcp::State::SynReceived, Some(t)) if oldest.is_none_or(|(_, o)| *t < o) => {
                oldest = Some((i, *t));
            }
            _ => {}
        }
    }
    let Some((i, _)) = oldest else { return };
    if let (Some(h), Some(since)) = (slots.handles.get_mut(i), slots.since.get_mut(i)) {
        renew(sockets, h, slots.port);
        *since = None;
    }
}

/// Aborts a half-open slot and puts it back into the set as a new item,
/// listening. Why not just abort: smoltcp keeps per-item egress state, and
/// a forged peer whose address never resolves (ARP) leaves the item barred
/// from sending for a second, which would delay the SYN-ACK of the next,
/// genuine, client in that slot until the client gives up or the slot is
/// taken again.
fn renew(sockets: &mut SocketSet<'_>, handle: &mut SocketHandle, port: u16) {
    // Every slot handle is a TCP socket (App::new adds them so).
    if let smoltcp::socket::Socket::Tcp(mut s) = sockets.remove(*handle) {
        s.abort();
        relisten(&mut s, port);
        *handle = sockets.add(s);
    }
}

/// The destination port if `frame` is an IPv4 TCP SYN without ACK (a new
/// connection attempt); anything malformed is `None` (smoltcp drops it).
pub fn syn_port(frame: &[u8]) -> Option<u16> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != IpProtocol::Tcp || ip.more_frags() || ip.frag_offset() != 0 {
        return None;
    }
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    (tcp.syn() && !tcp.ack() && !tcp.rst()).then(|| tcp.dst_port())
}

/// Puts a closed (or finished) TCP slot back into listening on `port`.
pub fn relisten(s: &mut tcp::Socket<'_>, port: u16) {
    if s.state() == tcp::State::TimeWait {
        // Both sides have closed; skip TIME-WAIT so the slot serves the
        // next client now (the port is fixed and peers pick fresh ones).
        s.abort();
    }
    if s.state() == tcp::State::Closed {
        // Cannot fail: the port is non-zero and the socket is closed.
        let _ = s.listen(port);
    }
}
