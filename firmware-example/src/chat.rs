//! The group chat room on the board: [`CHAT_SEATS`] clients in the seed
//! 003 line format, run by the core's room session
//! ([`wirekit_core::session::chat`], the rules `wirekit serve --listen
//! chat=…` follows); this module moves bytes between the room and one
//! smoltcp socket per seat.
//!
//! smoltcp has no listen backlog, so a fifth client would be reset. A
//! small spare socket listens only while every seat's socket is taken and
//! answers wirekit's busy line ([`FULL`]) before closing: a refusal the
//! client can read and report.
//!
//! Slow readers: the room holds all input while any member's send buffer
//! lacks room for a whole frame (TCP then holds the senders back), and
//! drops a member that stays so for [`CHAT_SLOW_MS`].

use core::net::{IpAddr, SocketAddr};

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::IpAddress;
use wirekit_core::service::chat::{DropReason, Relay};
use wirekit_core::session::chat::{Dest, MemberId, Output, Room, RoomConfig, FULL};
use wirekit_core::strftime::Tm;

use crate::half_open::relisten;

/// The chat port (the seed's).
pub const CHAT_PORT: u16 = 9999;
/// Members at once.
pub const CHAT_SEATS: usize = 4;
/// A member's line buffer: lines of up to 256 bytes (the host allows
/// 1,024; `wirekit serve --chat-max-line` can match this).
const CHAT_LINE_BUF: usize = 257;
/// The room: 4 seats, 256-byte lines, 8 frames pending at most.
pub type ChatRoom = Room<CHAT_SEATS, CHAT_LINE_BUF, 8>;
/// Receive buffer (advertised window) per seat.
pub const CHAT_RX: usize = 256;
/// Send buffer per seat: two of the largest frames, so one can go out
/// while the next is written.
pub const CHAT_TX: usize = 2 * ChatRoom::frame_cap();
/// The spare socket's buffers: the busy line out, nothing kept in.
pub const SPARE_TX: usize = 64;
/// How long a member may lack room for a frame before it is dropped.
pub const CHAT_SLOW_MS: u64 = 5_000;
/// Most lines taken from members in one poll (the rest wait).
const LINES_PER_POLL: usize = 16;
/// A seat whose member left is closed with a FIN; a peer that never
/// closes its side would hold the seat's socket, so after this long it is
/// reset.
const CLOSE_LINGER_MS: u64 = 2_000;

/// A new room (for [`crate::Buffers`]).
pub fn new_room() -> ChatRoom {
    ChatRoom::new(RoomConfig {
        relay: Relay::Strip,
        slow_ms: CHAT_SLOW_MS,
    })
}

/// The room's sockets.
pub struct Chat {
    /// One socket per seat.
    pub seats: [SocketHandle; CHAT_SEATS],
    /// The member on each seat's socket.
    member: [Option<MemberId>; CHAT_SEATS],
    /// Since when each seat's socket (and last, the spare's) has been
    /// closing.
    closing_since: [Option<u64>; CHAT_SEATS + 1],
    /// Seats reset this round: smoltcp sends the RST on the next egress,
    /// so they listen again only in the next round (`listen` would forget
    /// the peer and the RST with it).
    reset: [bool; CHAT_SEATS + 1],
    /// Refuses a client when every seat is taken.
    pub spare: SocketHandle,
}

impl Chat {
    /// The room's sockets (seats first: smoltcp gives a SYN to the first
    /// listening socket, so the spare only gets what no seat can take).
    pub fn new(seats: [SocketHandle; CHAT_SEATS], spare: SocketHandle) -> Self {
        Chat {
            seats,
            member: [None; CHAT_SEATS],
            closing_since: [None; CHAT_SEATS + 1],
            reset: [false; CHAT_SEATS + 1],
            spare,
        }
    }

    /// One round: arrivals and departures, lines, ends, slow readers.
    #[inline(never)]
    pub fn serve(
        &mut self,
        room: &mut ChatRoom,
        sockets: &mut SocketSet<'_>,
        now_ms: u64,
        unix: Option<i64>,
    ) {
        // Before the first sync the frames are stamped with the uptime.
        let tm = Tm::from_unix(unix.unwrap_or((now_ms / 1000) as i64), 0, "UTC");
        self.arrivals(room, sockets, now_ms);
        self.flush(room, sockets, &tm, now_ms);
        let mut budget = LINES_PER_POLL;
        let mut moved = true;
        while moved && budget > 0 {
            moved = false;
            for i in 0..CHAT_SEATS {
                if budget > 0 && self.read_line(room, sockets, i, now_ms) {
                    moved = true;
                    budget -= 1;
                    self.flush(room, sockets, &tm, now_ms);
                }
            }
        }
        for i in 0..CHAT_SEATS {
            let Some(id) = self.member[i] else { continue };
            let s = sockets.get_mut::<tcp::Socket>(self.seats[i]);
            if !s.may_recv() && s.recv_queue() == 0 {
                // Ok(false): output first; it is tried again next round.
                let _ = room.handle_eof(id);
                self.flush(room, sockets, &tm, now_ms);
            }
        }
        self.report_space(room, sockets, now_ms);
        room.handle_timeout(now_ms);
        self.flush(room, sockets, &tm, now_ms);
        self.tend_listeners(sockets, now_ms);
    }

    /// Seats clients that connected; leaves for those whose connection died.
    fn arrivals(&mut self, room: &mut ChatRoom, sockets: &mut SocketSet<'_>, now_ms: u64) {
        let seats = self.seats.iter().zip(self.member.iter_mut());
        for ((h, member), closing) in seats.zip(&mut self.closing_since) {
            let s = sockets.get_mut::<tcp::Socket>(*h);
            match member {
                None if s.state() == tcp::State::Established => {
                    let peer = s
                        .remote_endpoint()
                        .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |e| {
                            SocketAddr::new(ip(e.addr), e.port)
                        });
                    match room.join(peer) {
                        Ok(id) => *member = Some(id),
                        Err(_) => {
                            refuse(s);
                            *closing = Some(now_ms);
                        }
                    }
                }
                // Reset or timed out (a normal end comes as end of input).
                Some(id) if !s.is_active() => {
                    let _ = room.leave(*id, Some(DropReason::ReadFailed));
                }
                _ => {}
            }
        }
    }

    /// Feeds seat `i`'s next bytes (up to one line) to the room; true if
    /// any were taken.
    fn read_line(
        &mut self,
        room: &mut ChatRoom,
        sockets: &mut SocketSet<'_>,
        i: usize,
        now_ms: u64,
    ) -> bool {
        let Some(id) = self.member[i] else {
            return false;
        };
        self.report_space(room, sockets, now_ms);
        if !room.accepts_input() {
            return false;
        }
        let s = sockets.get_mut::<tcp::Socket>(self.seats[i]);
        let used = crate::recv_into(s, &mut |input| match room.handle_input(id, input) {
            Ok((n, _)) => n,
            Err(_) => 0,
        });
        used > 0
    }

    /// Tells the room how much each member's socket can take now.
    fn report_space(&self, room: &mut ChatRoom, sockets: &mut SocketSet<'_>, now_ms: u64) {
        for (h, member) in self.seats.iter().zip(&self.member) {
            if let Some(id) = member {
                // get_mut, though only read: the one SocketSet accessor
                // the image needs (each of get/get_mut is ~0.1 KB).
                let s = sockets.get_mut::<tcp::Socket>(*h);
                room.report_space(*id, s.send_capacity() - s.send_queue(), now_ms);
            }
        }
    }

    /// Carries out everything the room has to send or close.
    fn flush(&mut self, room: &mut ChatRoom, sockets: &mut SocketSet<'_>, tm: &Tm, now_ms: u64) {
        let mut buf = [0u8; ChatRoom::frame_cap()];
        while let Some(out) = room.poll_output(tm, &mut buf) {
            match out {
                Output::Transmit { to, len } => {
                    for (h, member) in self.seats.iter().zip(&self.member) {
                        let Some(id) = *member else { continue };
                        let wanted = match to {
                            Dest::All => room.is_member(id),
                            Dest::One(one) => one == id,
                        };
                        if !wanted {
                            continue;
                        }
                        let s = sockets.get_mut::<tcp::Socket>(*h);
                        if s.send_capacity() - s.send_queue() >= len {
                            // Cannot be short: it fits the free space (and
                            // the room's frames fit `buf`).
                            let _ = s.send_slice(buf.get(..len).unwrap_or_default());
                        } else {
                            // A member that cannot take a frame is dropped
                            // (a farewell to one being dropped is best effort).
                            let _ = room.slow(id);
                        }
                    }
                }
                Output::Close { id, flush } => {
                    let Some(i) = self.member.iter().position(|m| *m == Some(id)) else {
                        continue;
                    };
                    let s = sockets.get_mut::<tcp::Socket>(self.seats[i]);
                    if flush {
                        s.close();
                        self.closing_since[i] = Some(now_ms);
                    } else {
                        s.abort();
                        self.reset[i] = true;
                    }
                    self.member[i] = None;
                }
            }
        }
    }

    /// Free seats listen again; the spare listens only while none does.
    fn tend_listeners(&mut self, sockets: &mut SocketSet<'_>, now_ms: u64) {
        let mut seat_listening = false;
        let handles = self.seats.iter().chain([&self.spare]);
        let mut reset_now = [false; CHAT_SEATS + 1];
        for ((h, closing), reset) in handles.zip(&mut self.closing_since).zip(&mut reset_now) {
            let s = sockets.get_mut::<tcp::Socket>(*h);
            match closing {
                Some(_) if !s.is_active() => *closing = None,
                Some(t) if now_ms.saturating_sub(*t) >= CLOSE_LINGER_MS => {
                    s.abort();
                    *closing = None;
                    *reset = true;
                }
                _ => {}
            }
        }
        for (i, r) in reset_now.iter_mut().enumerate() {
            // Reset earlier this round (flush) or just now: not yet.
            *r |= core::mem::take(&mut self.reset[i]);
        }
        for ((h, member), reset) in self.seats.iter().zip(&self.member).zip(reset_now) {
            let s = sockets.get_mut::<tcp::Socket>(*h);
            if member.is_none() && !reset {
                relisten(s, CHAT_PORT);
            }
            seat_listening |= s.state() == tcp::State::Listen;
        }
        let s = sockets.get_mut::<tcp::Socket>(self.spare);
        match s.state() {
            _ if reset_now[CHAT_SEATS] => {}
            tcp::State::Listen if seat_listening => s.abort(),
            tcp::State::Established | tcp::State::CloseWait => {
                refuse(s);
                self.closing_since[CHAT_SEATS] = Some(now_ms);
            }
            _ if !seat_listening => relisten(s, CHAT_PORT),
            _ => {}
        }
    }
}

/// The busy line, then close.
fn refuse(s: &mut tcp::Socket<'_>) {
    // The line fits every chat socket's empty send buffer.
    let _ = s.send_slice(FULL);
    s.close();
}

fn ip(a: IpAddress) -> IpAddr {
    match a {
        IpAddress::Ipv4(v4) => IpAddr::V4(v4),
    }
}
