//! The group chat room as a session: the seed 003 line format and
//! wirekit's room rules (see [`crate::service::chat`]) for a fixed number
//! `N` of members, each line at most `L - 1` bytes.
//!
//! The room decides what to send to whom; the driver moves the bytes:
//!
//! - [`Room::join`] when a connection arrives (a full room answers
//!   [`FULL`], wirekit's busy line, and the driver closes);
//! - [`Room::handle_input`] with a member's bytes, one line per call;
//! - [`Room::poll_output`] until `None`: each [`Output::Transmit`] is one
//!   frame in the caller's buffer for one member or for every member
//!   ([`Dest::All`], the sender included, as the seed does), each
//!   [`Output::Close`] a connection to close;
//! - [`Room::handle_eof`], [`Room::leave`] when a connection ends.
//!
//! **Slow readers: a decision, not a queue.** The room keeps no frame for
//! later. It accepts input only when the last output was taken and every
//! member can take one more frame ([`Room::report_space`]), so a fast
//! sender is held back by TCP's own flow control rather than by memory
//! here. A member that cannot take a frame for [`RoomConfig::slow_ms`]
//! (see [`Room::poll_timeout`]) or that a driver finds full
//! ([`Room::slow`]) is dropped: told why if it can still be, its
//! connection closed, the others told. The host, whose members have
//! queues, calls [`Room::slow`] when one overflows.

use core::net::SocketAddr;

use heapless::{Deque, String, Vec};

use crate::codec::line::{LineDecoder, LineEvent};
use crate::service::answer::BUSY_LINE;
use crate::service::chat::{
    parse_line_as, write_message_as, write_notice, write_who, DropReason, Input, NickError, Relay,
    MAX_NICK,
};
use crate::strftime::Tm;

mod pending;
pub mod rules;
#[cfg(test)]
mod tests;

use pending::{Label, Note, Pending};

/// What a connection gets when the room is full (then it is closed):
/// wirekit's busy line, which `wirekit chat` reports as such.
pub const FULL: &[u8] = BUSY_LINE;

/// A member: the index of its seat, stable until its [`Output::Close`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberId(pub usize);

/// Who a frame goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// Every member (the sender of a line included).
    All,
    /// One connection (a member, or one being dropped).
    One(MemberId),
}

/// What the driver does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Send the first `len` bytes of the buffer to `to`. A member that
    /// cannot take them all is [`Room::slow`].
    Transmit {
        /// Recipients.
        to: Dest,
        /// Frame length in the buffer.
        len: usize,
    },
    /// Close this connection (its seat is free again).
    Close {
        /// Whose.
        id: MemberId,
        /// Whether to let what was queued for it go out first (it left);
        /// `false` when it was dropped as too slow: its queue may never
        /// drain, so reset instead of waiting.
        flush: bool,
    },
}

/// What a line did, for the driver's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A line was said to the room.
    Said,
    /// The member left with `quit`.
    Quit,
    /// A command (`/nick`, `/who`) was answered.
    Command,
    /// Refused (bad nickname, line too long): the member was told.
    Refused,
}

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The id is not (or no longer) a member.
    NotMember,
    /// Every seat is taken.
    Full,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NotMember => "not a member of the room",
            Self::Full => "the room is full",
        })
    }
}

impl core::error::Error for Error {}

/// Room settings.
#[derive(Debug, Clone, Copy)]
pub struct RoomConfig {
    /// What said lines may carry (control characters stripped or not).
    pub relay: Relay,
    /// How long a member may be unable to take a frame before it is
    /// dropped as too slow (milliseconds).
    pub slow_ms: u64,
}

struct Member<const L: usize> {
    label: Label,
    lines: LineDecoder<L>,
    /// Join order, for `/who`.
    seq: u64,
    /// Since when it cannot take a whole frame.
    blocked_since: Option<u64>,
}

enum Seat<const L: usize> {
    Free,
    Taken(Member<L>),
    /// Left or dropped; its [`Output::Close`] is still to come, with
    /// `flush` unless it was too slow.
    Closing {
        flush: bool,
    },
}

/// A chat room of `N` seats, lines of at most `L - 1` bytes, and at most
/// `P` frames waiting for [`Room::poll_output`] (system lines beyond that,
/// e.g. `N` members dropped at once, are left out and counted).
pub struct Room<const N: usize, const L: usize, const P: usize = 8> {
    seats: [Seat<L>; N],
    pending: Deque<Pending, P>,
    /// The text of the pending [`Pending::Say`]: one at a time, since
    /// input waits until the output is taken.
    said: Vec<u8, L>,
    config: RoomConfig,
    next_seq: u64,
    lost: u64,
}

impl<const N: usize, const L: usize, const P: usize> Room<N, L, P> {
    /// An empty room.
    pub fn new(config: RoomConfig) -> Self {
        Room {
            seats: core::array::from_fn(|_| Seat::Free),
            pending: Deque::new(),
            said: Vec::new(),
            config,
            next_seq: 0,
            lost: 0,
        }
    }

    /// The output buffer [`Room::poll_output`] needs: the longest said
    /// line with the seed's header (the longest sender is an IPv6
    /// `ip:port`) fits, and so does every notice.
    pub const fn frame_cap() -> usize {
        L + 160
    }

    /// The longest line a member may send (bytes before the `\n`).
    pub const fn max_line() -> usize {
        L - 1
    }

    /// How many are in the room.
    pub fn len(&self) -> usize {
        self.seats
            .iter()
            .filter(|s| matches!(s, Seat::Taken(_)))
            .count()
    }

    /// Whether `id` is in the room now (a driver sends [`Dest::All`]
    /// frames to these; a member being dropped is no longer one).
    pub fn is_member(&self, id: MemberId) -> bool {
        self.member(id).is_ok()
    }

    /// Whether nobody is in the room.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// System lines left out because more than `P` were waiting.
    pub fn lost_notices(&self) -> u64 {
        self.lost
    }

    /// Seats a newcomer at `peer` and tells everyone (the newcomer too);
    /// [`Error::Full`]: send [`FULL`] and close.
    pub fn join(&mut self, peer: SocketAddr) -> Result<MemberId, Error> {
        let i = self
            .seats
            .iter()
            .position(|s| matches!(s, Seat::Free))
            .ok_or(Error::Full)?;
        self.seats[i] = Seat::Taken(Member {
            label: Label::Peer(peer),
            lines: LineDecoder::new(),
            seq: self.next_seq,
            blocked_since: None,
        });
        self.next_seq += 1;
        let online = self.len();
        self.queue(Pending::Note(
            Dest::All,
            Note::Joined(Label::Peer(peer), online),
        ));
        Ok(MemberId(i))
    }

    /// True when [`Room::handle_input`] takes input: every output was
    /// taken and every member has room for a frame.
    pub fn accepts_input(&self) -> bool {
        self.pending.is_empty()
            && self.seats.iter().all(|s| match s {
                Seat::Taken(m) => m.blocked_since.is_none(),
                Seat::Free => true,
                Seat::Closing { .. } => false,
            })
    }

    /// Consumes `id`'s bytes up to the end of its next line and acts on
    /// it; consumes nothing unless [`Room::accepts_input`].
    pub fn handle_input(
        &mut self,
        id: MemberId,
        input: &[u8],
    ) -> Result<(usize, Option<Event>), Error> {
        self.member(id)?;
        if !self.accepts_input() {
            return Ok((0, None));
        }
        let Some(Seat::Taken(m)) = self.seats.get_mut(id.0) else {
            return Err(Error::NotMember);
        };
        let (used, ev) = m.lines.decode(input);
        let whole = match ev {
            None => return Ok((used, None)),
            // The decoder bounds a line at L - 1 bytes, so it fits `said`.
            Some(LineEvent::Line(line)) => copy_into(&mut self.said, line),
            Some(LineEvent::Rejected(_)) => false,
        };
        let act = self.decide_said(id, whole);
        Ok((used, self.act(id, act)))
    }

    /// What the line now in `said` does (`whole`: it fitted), decided by
    /// the rules every chat driver shares.
    fn decide_said(&mut self, id: MemberId, whole: bool) -> Act {
        let act = match whole {
            false => Act::of(rules::too_long(Self::max_line())),
            true => Act::of(rules::decide(
                parse_line_as(&self.said, self.config.relay),
                |name| self.nick_in_use(id, name),
            )),
        };
        // A said text is the line without its `\r`: a prefix of `said`.
        if let Act::Say(len) = act {
            self.said.truncate(len);
        }
        act
    }

    /// The member closed its side: an unterminated last line is still
    /// acted on (the seed's `readline()` returned it), then it leaves.
    /// `Ok(false)`: call again once [`Room::accepts_input`].
    pub fn handle_eof(&mut self, id: MemberId) -> Result<bool, Error> {
        let relay = self.config.relay;
        let m = self.member(id)?;
        let last = parse_line_as(m.lines.pending(), relay);
        if !matches!(last, Input::Blank) {
            if !self.accepts_input() {
                return Ok(false);
            }
            let Some(Seat::Taken(m)) = self.seats.get(id.0) else {
                return Err(Error::NotMember);
            };
            let whole = copy_into(&mut self.said, m.lines.pending());
            let act = self.decide_said(id, whole);
            if self.act(id, act) == Some(Event::Quit) {
                return Ok(true);
            }
        }
        self.leave(id, None)?;
        Ok(true)
    }

    /// Removes `id` (it closed, or its connection failed: `why`) and tells
    /// the others; its [`Output::Close`] follows.
    pub fn leave(&mut self, id: MemberId, why: Option<DropReason>) -> Result<(), Error> {
        let label = self.unseat(id, true)?;
        let note = match why {
            None => Note::Left(label),
            Some(why) => Note::Dropped(label, why),
        };
        self.queue(Pending::Note(Dest::All, note));
        Ok(())
    }

    /// Drops `id` as too slow: it is told why (best effort: it is slow),
    /// closed, and the others are told.
    pub fn slow(&mut self, id: MemberId) -> Result<(), Error> {
        let label = self.unseat(id, false)?;
        let why = DropReason::SlowReader;
        self.queue(Pending::Note(Dest::One(id), Note::YouAreDropped(why)));
        self.queue(Pending::Note(Dest::All, Note::Dropped(label, why)));
        Ok(())
    }

    /// How many bytes `id` can take now (a socket's free send space). A
    /// member without room for a whole frame holds input back; one that
    /// stays so for [`RoomConfig::slow_ms`] is dropped by
    /// [`Room::handle_timeout`].
    pub fn report_space(&mut self, id: MemberId, free: usize, now_ms: u64) {
        if let Some(Seat::Taken(m)) = self.seats.get_mut(id.0) {
            m.blocked_since = match free >= Self::frame_cap() {
                true => None,
                false => Some(m.blocked_since.unwrap_or(now_ms)),
            };
        }
    }

    /// When [`Room::handle_timeout`] is due: the earliest moment a
    /// blocked member becomes too slow.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.seats
            .iter()
            .filter_map(|s| match s {
                Seat::Taken(m) => m.blocked_since,
                _ => None,
            })
            .min()
            .map(|t| t.saturating_add(self.config.slow_ms))
    }

    /// Drops every member blocked for [`RoomConfig::slow_ms`] by `now_ms`.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        for i in 0..N {
            if let Seat::Taken(m) = &self.seats[i] {
                let due = m
                    .blocked_since
                    .map(|t| t.saturating_add(self.config.slow_ms));
                if due.is_some_and(|d| d <= now_ms) {
                    // Cannot fail: seat i is taken.
                    let _ = self.slow(MemberId(i));
                }
            }
        }
    }

    /// The next thing to do: a frame written into `buf` (at least
    /// [`Room::frame_cap`] bytes; `now` dates it), or a connection to close.
    pub fn poll_output(&mut self, now: &Tm, buf: &mut [u8]) -> Option<Output> {
        while let Some(p) = self.pending.pop_front() {
            let relay = self.config.relay;
            let written = match &p {
                Pending::Say(from) => write_message_as(buf, now, from.sender(), &self.said, relay)
                    .map(|n| (Dest::All, n)),
                Pending::Who(id) => self.write_who(now, buf).map(|n| (Dest::One(*id), n)),
                Pending::Note(to, note @ Note::YouAreDropped(_)) => {
                    // A leading newline ends any half-written frame first.
                    let (first, rest) = buf.split_first_mut()?;
                    *first = b'\n';
                    write_notice(rest, now, note.notice()).map(|n| (*to, n + 1))
                }
                Pending::Note(to, note) => write_notice(buf, now, note.notice()).map(|n| (*to, n)),
            };
            match written {
                Ok((to, len)) => return Some(Output::Transmit { to, len }),
                // Only a buffer below frame_cap() gets here.
                Err(_) => self.lost += 1,
            }
        }
        let (i, seat) =
            (self.seats.iter_mut().enumerate()).find(|(_, s)| matches!(s, Seat::Closing { .. }))?;
        let Seat::Closing { flush } = core::mem::replace(seat, Seat::Free) else {
            return None;
        };
        Some(Output::Close {
            id: MemberId(i),
            flush,
        })
    }

    fn write_who(&self, now: &Tm, buf: &mut [u8]) -> Result<usize, crate::service::chat::Overflow> {
        let total = self.len();
        // In join order: the k-th smallest join number each time (a room
        // is small; no sorted copy is kept).
        let mut last: Option<u64> = None;
        let members = core::iter::from_fn(|| {
            let next = self
                .seats
                .iter()
                .filter_map(|s| match s {
                    Seat::Taken(m) if last.is_none_or(|l| m.seq > l) => Some(m),
                    _ => None,
                })
                .min_by_key(|m| m.seq)?;
            last = Some(next.seq);
            Some(next.label.sender())
        });
        write_who(buf, now, total, members)
    }

    fn member(&self, id: MemberId) -> Result<&Member<L>, Error> {
        match self.seats.get(id.0) {
            Some(Seat::Taken(m)) => Ok(m),
            _ => Err(Error::NotMember),
        }
    }

    /// Takes `id` out of the room (its seat waits for its close).
    fn unseat(&mut self, id: MemberId, flush: bool) -> Result<Label, Error> {
        self.member(id)?;
        match core::mem::replace(&mut self.seats[id.0], Seat::Closing { flush }) {
            Seat::Taken(m) => Ok(m.label),
            _ => Err(Error::NotMember),
        }
    }

    fn queue(&mut self, p: Pending) {
        if self.pending.push_back(p).is_err() {
            self.lost += 1;
        }
    }

    fn act(&mut self, id: MemberId, act: Act) -> Option<Event> {
        let label = self.member(id).ok()?.label.clone();
        let (pending, event) = match act {
            Act::Nothing => return None,
            Act::Leave => {
                let _ = self.leave(id, None);
                return Some(Event::Quit);
            }
            Act::Say(_) => (Pending::Say(label), Event::Said),
            Act::Who => (Pending::Who(id), Event::Command),
            Act::Refuse(note) => (Pending::Note(Dest::One(id), note), Event::Refused),
            Act::Rename(name) => {
                if let Some(Seat::Taken(m)) = self.seats.get_mut(id.0) {
                    m.label = Label::Nick(name.clone());
                }
                let note = Note::Renamed(label, name);
                (Pending::Note(Dest::All, note), Event::Command)
            }
        };
        self.queue(pending);
        Some(event)
    }

    /// Whether a member other than `id` goes by `name` (see
    /// [`rules::same_nick`]).
    fn nick_in_use(&self, id: MemberId, name: &str) -> bool {
        self.seats.iter().enumerate().any(|(i, s)| match s {
            Seat::Taken(m) if i != id.0 => {
                matches!(&m.label, Label::Nick(n) if rules::same_nick(n, name))
            }
            _ => false,
        })
    }
}

/// Copies `line` into `said`; `false` if it does not fit (then `said` is
/// left empty).
fn copy_into<const L: usize>(said: &mut Vec<u8, L>, line: &[u8]) -> bool {
    said.clear();
    said.extend_from_slice(line).is_ok()
}

/// A [`Decision`](rules::Decision), owned: what it borrowed from the line
/// is copied (a said text stays in the room's `said` buffer; `Say` keeps
/// its length).
enum Act {
    Nothing,
    Leave,
    Say(usize),
    Who,
    Rename(String<MAX_NICK>),
    Refuse(Note),
}

impl Act {
    fn of(decision: rules::Decision<'_>) -> Act {
        match decision {
            rules::Decision::Nothing => Act::Nothing,
            rules::Decision::Leave => Act::Leave,
            rules::Decision::Say(text) => Act::Say(text.len()),
            rules::Decision::Who => Act::Who,
            // validate_nick bounds a name at MAX_NICK.
            rules::Decision::Rename(name) => String::try_from(name)
                .map_or(Act::Refuse(Note::BadNick(NickError::TooLong)), Act::Rename),
            rules::Decision::Refuse(notice) => Act::Refuse(Note::refusal(notice)),
        }
    }
}
