//! The message format chat nodes exchange over a shared bus (NATS
//! JetStream, subjects `wirekit.chat.<room>`), so that one room can span
//! several `wirekit serve` processes.
//!
//! Every room event that all members see (a said line, a join, a leave, a
//! nickname change, a mass drop of slow clients) is published as one bus
//! message and formatted into the seed 003 frame only by the receiving
//! node, from the stream, so every node shows the same events in the same
//! order. One message is a header line and, for a said line, the text:
//!
//! ```text
//! wkc1 KIND ROOM NODE ID UNIX_MS ORIGIN NICK ARG\n[TEXT]
//! ```
//!
//! - `KIND`: `line`, `join`, `leave`, `nick` or `drops`.
//! - `ROOM`, `NODE`: 1 to [`MAX_NAME`] bytes of `[A-Za-z0-9_-]`.
//! - `ID`: the message id within its node; `UNIX_MS`: when it was said.
//! - `ORIGIN`: the sender's socket address (`1.2.3.4:5`, `[::1]:5`).
//! - `NICK`: the sender's nickname, or `-` when it has none.
//! - `ARG`: `-` for `line`; the online count for `join`; `left`, `slow`,
//!   `write` or `read` for `leave`; the new nickname for `nick`; the number
//!   of clients for `drops`.
//! - `TEXT`: only for `line`: at most [`MAX_TEXT`] bytes of UTF-8 without
//!   `\n`.
//!
//! Anyone with access to the bus can publish on these subjects, so
//! [`BusMessage::decode`] checks every field against its limit and rejects
//! anything else; the caller also checks that the room in the message is
//! the one of the subject it came on ([`room_of_subject`]).
//!
//! ```
//! use wirekit_core::service::chat::cluster::{BusMessage, Kind, MAX_BUS_MESSAGE};
//! let msg = BusMessage {
//!     room: "lobby",
//!     node: "n1",
//!     id: 7,
//!     unix_ms: 1_700_000_000_000,
//!     origin: "127.0.0.1:5000".parse().unwrap(),
//!     nick: None,
//!     kind: Kind::Line("hi"),
//! };
//! let mut buf = [0u8; MAX_BUS_MESSAGE];
//! let n = msg.encode(&mut buf).unwrap();
//! assert_eq!(BusMessage::decode(&buf[..n]), Ok(msg));
//! ```

use core::fmt::{self, Write};
use core::net::SocketAddr;

use super::{
    validate_nick, write_message_as, write_notice, DropReason, Notice, Overflow, Relay, Sender,
    MAX_LINE,
};
use crate::strftime::Tm;

/// First word of every bus message (format version 1).
pub const MAGIC: &str = "wkc1";

/// Subject prefix of the rooms; a room's subject is this plus its name.
pub const SUBJECT_PREFIX: &str = "wirekit.chat.";

/// Longest room name and node id.
pub const MAX_NAME: usize = 32;

/// Longest line text. A client line has at most [`MAX_LINE`] bytes, but
/// bytes that are not UTF-8 are carried as U+FFFD (3 bytes each).
pub const MAX_TEXT: usize = 3 * MAX_LINE;

/// Longest header line: nine fields, each bounded.
pub const MAX_HEADER: usize = 256;

/// Largest bus message (a buffer of this size holds any encoded message).
pub const MAX_BUS_MESSAGE: usize = MAX_HEADER + MAX_TEXT;

/// Latest accepted time stamp (the last millisecond of the year 9999), so
/// any valid message's time converts to a calendar date.
pub const MAX_UNIX_MS: u64 = 253_402_300_799_999;

/// A buffer of this size holds the seed frame [`write_frame`] makes of any
/// valid message.
pub const MAX_FRAME: usize = MAX_TEXT + 160;

/// What happened in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'a> {
    /// A said line (UTF-8, no `\n`).
    Line(&'a str),
    /// The sender joined; the room then had `online` members.
    Join {
        /// Members across all nodes, as the sender's node counted them.
        online: u32,
    },
    /// The sender left (`None`) or was disconnected for a reason.
    Leave(Option<DropReason>),
    /// The sender took this (valid) nickname.
    Nick(&'a str),
    /// This many clients of the sender's node were dropped as too slow.
    Drops {
        /// How many.
        count: u32,
    },
    /// This many members of the sender's node left that were not
    /// published one by one (its bus queue was full).
    Leaves {
        /// How many.
        count: u32,
    },
}

/// One room event on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusMessage<'a> {
    /// The room.
    pub room: &'a str,
    /// The node that published it.
    pub node: &'a str,
    /// Message id within the node (with `node`, unique: the dedupe key).
    pub id: u64,
    /// When the event happened (milliseconds since the Unix epoch).
    pub unix_ms: u64,
    /// The sender's socket address.
    pub origin: SocketAddr,
    /// The sender's nickname, if it has one.
    pub nick: Option<&'a str>,
    /// The event.
    pub kind: Kind<'a>,
}

/// Why a bus message was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusError {
    /// Longer than [`MAX_BUS_MESSAGE`] (or the header than [`MAX_HEADER`]).
    TooLong,
    /// Not a wirekit chat message (wrong magic, field count, kind).
    Foreign,
    /// A field is malformed or over its limit; names the field.
    BadField(&'static str),
    /// The text is not UTF-8.
    NotUtf8,
    /// The output buffer is too small.
    Overflow,
}

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong => write!(f, "bus message longer than {MAX_BUS_MESSAGE} bytes"),
            Self::Foreign => f.write_str("not a wirekit chat message"),
            Self::BadField(name) => write!(f, "bad {name} field"),
            Self::NotUtf8 => f.write_str("text is not UTF-8"),
            Self::Overflow => f.write_str("bus message does not fit the buffer"),
        }
    }
}

/// Checks a room name or node id: 1 to [`MAX_NAME`] bytes of
/// `[A-Za-z0-9_-]` (safe as a NATS subject token and a KV key).
pub fn validate_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The room a subject is for, if it is `wirekit.chat.<valid room>`.
pub fn room_of_subject(subject: &str) -> Option<&str> {
    let room = subject.strip_prefix(SUBJECT_PREFIX)?;
    validate_name(room).then_some(room)
}

fn reason_word(why: Option<DropReason>) -> &'static str {
    match why {
        None => "left",
        Some(DropReason::SlowReader) => "slow",
        Some(DropReason::WriteFailed) => "write",
        Some(DropReason::ReadFailed) => "read",
    }
}

fn reason_of(word: &str) -> Option<Option<DropReason>> {
    Some(match word {
        "left" => None,
        "slow" => Some(DropReason::SlowReader),
        "write" => Some(DropReason::WriteFailed),
        "read" => Some(DropReason::ReadFailed),
        _ => return None,
    })
}

/// A decimal `u64` of 1 to 20 digits (no sign, no overflow).
fn number(s: &str, field: &'static str) -> Result<u64, BusError> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BusError::BadField(field));
    }
    s.parse().map_err(|_| BusError::BadField(field))
}

fn small(s: &str, field: &'static str) -> Result<u32, BusError> {
    u32::try_from(number(s, field)?).map_err(|_| BusError::BadField(field))
}

fn nick<'a>(s: &'a str, field: &'static str) -> Result<&'a str, BusError> {
    validate_nick(s.as_bytes()).map_err(|_| BusError::BadField(field))
}

/// A `fmt::Write` into a byte slice that fails instead of truncating.
struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl<'a> BusMessage<'a> {
    /// Who the frame is from, as the seed shows it.
    pub fn sender(&self) -> Sender<'a> {
        match self.nick {
            Some(n) => Sender::Nick(n),
            None => Sender::Peer(self.origin),
        }
    }

    /// Checks every field as [`BusMessage::decode`] would.
    pub fn validate(&self) -> Result<(), BusError> {
        if !validate_name(self.room) {
            return Err(BusError::BadField("room"));
        }
        if !validate_name(self.node) {
            return Err(BusError::BadField("node"));
        }
        if let Some(n) = self.nick {
            nick(n, "nick")?;
        }
        if self.unix_ms > MAX_UNIX_MS {
            return Err(BusError::BadField("time"));
        }
        match self.kind {
            Kind::Line(text) if text.len() > MAX_TEXT => Err(BusError::TooLong),
            Kind::Line(text) if text.contains('\n') => Err(BusError::BadField("text")),
            Kind::Nick(to) => nick(to, "arg").map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Writes the message to `out`; returns its length. Fails on a field
    /// [`BusMessage::decode`] would reject, so nodes never publish what
    /// their peers drop.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BusError> {
        self.validate()?;
        let mut w = Out { buf: out, len: 0 };
        let kind = match self.kind {
            Kind::Line(_) => "line",
            Kind::Join { .. } => "join",
            Kind::Leave(_) => "leave",
            Kind::Nick(_) => "nick",
            Kind::Drops { .. } => "drops",
            Kind::Leaves { .. } => "leaves",
        };
        let (room, node, id, ms, origin) =
            (self.room, self.node, self.id, self.unix_ms, self.origin);
        let nick = self.nick.unwrap_or("-");
        let head = write!(w, "{MAGIC} {kind} {room} {node} {id} {ms} {origin} {nick} ");
        let arg = match self.kind {
            Kind::Line(text) => write!(w, "-\n{text}"),
            Kind::Join { online } => writeln!(w, "{online}"),
            Kind::Leave(why) => writeln!(w, "{}", reason_word(why)),
            Kind::Nick(to) => writeln!(w, "{to}"),
            Kind::Drops { count } | Kind::Leaves { count } => writeln!(w, "{count}"),
        };
        head.and(arg).map_err(|_| BusError::Overflow)?;
        Ok(w.len)
    }

    /// Parses and checks one bus message.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, BusError> {
        if bytes.len() > MAX_BUS_MESSAGE {
            return Err(BusError::TooLong);
        }
        let nl = bytes.iter().position(|b| *b == b'\n');
        let nl = nl.ok_or(BusError::Foreign)?;
        if nl > MAX_HEADER {
            return Err(BusError::TooLong);
        }
        let header = core::str::from_utf8(&bytes[..nl]).map_err(|_| BusError::Foreign)?;
        let text = core::str::from_utf8(&bytes[nl + 1..]).map_err(|_| BusError::NotUtf8)?;
        let mut f = header.split(' ');
        let mut fields = [""; 9];
        for slot in &mut fields {
            *slot = f.next().ok_or(BusError::Foreign)?;
        }
        if f.next().is_some() || fields[0] != MAGIC {
            return Err(BusError::Foreign);
        }
        let [_, kind, room, node, id, ms, origin, nick_field, arg] = fields;
        let kind = match kind {
            "line" if arg == "-" => Kind::Line(text),
            "line" => return Err(BusError::BadField("arg")),
            _ if !text.is_empty() => return Err(BusError::BadField("text")),
            "join" => Kind::Join {
                online: small(arg, "arg")?,
            },
            "leave" => Kind::Leave(reason_of(arg).ok_or(BusError::BadField("arg"))?),
            "nick" => Kind::Nick(nick(arg, "arg")?),
            "drops" => Kind::Drops {
                count: small(arg, "arg")?,
            },
            "leaves" => Kind::Leaves {
                count: small(arg, "arg")?,
            },
            _ => return Err(BusError::Foreign),
        };
        let msg = BusMessage {
            room,
            node,
            id: number(id, "id")?,
            unix_ms: number(ms, "time")?,
            origin: origin.parse().map_err(|_| BusError::BadField("origin"))?,
            nick: match nick_field {
                "-" => None,
                n => Some(nick(n, "nick")?),
            },
            kind,
        };
        msg.validate()?;
        Ok(msg)
    }
}

/// Formats the seed 003 frame every member is sent for `msg`, stamped
/// `now` (the message's time in the local zone): a said line relayed as
/// `relay` says, or the system notice for the other kinds.
pub fn write_frame(
    out: &mut [u8],
    now: &Tm,
    msg: &BusMessage<'_>,
    relay: Relay,
) -> Result<usize, Overflow> {
    let who = msg.sender();
    let notice = match msg.kind {
        Kind::Line(text) => return write_message_as(out, now, who, text.as_bytes(), relay),
        Kind::Join { online } => Notice::Joined {
            who,
            online: online as usize,
        },
        Kind::Leave(None) => Notice::Left(who),
        Kind::Leave(Some(why)) => Notice::Dropped(who, why),
        Kind::Nick(to) => Notice::Renamed { from: who, to },
        Kind::Drops { count } => Notice::ManyDropped {
            count: count as usize,
            why: DropReason::SlowReader,
        },
        Kind::Leaves { count } => Notice::ManyLeft {
            count: count as usize,
        },
    };
    write_notice(out, now, notice)
}

#[cfg(test)]
mod tests;
