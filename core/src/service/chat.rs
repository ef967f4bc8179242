//! Group chat: the seed 003 `ChatServer` line protocol, plus nicknames,
//! `/who`, system notices and a maximum line length.
//!
//! A client sends `\n`-terminated lines. Each ordinary line goes to every
//! client in the room, the sender included, in the seed's exact format
//! `"{:%Y/%m/%d %H:%M:%S} {ip}:{port}\n{line}\n"` where the seed's `line`
//! still carries its newline (it came from `readline()`), so every message
//! ends in `"\n\n"`. The seed's Python client only logs what it receives,
//! so it works unchanged; extra features reuse the same frame shape with the
//! sender `server` and a body starting with `* `.
//!
//! This module is sans-I/O and allocation-free: [`ChatDecoder`] turns
//! received bytes into [`ChatEvent`]s, and the `write_*` functions format
//! outgoing frames into a caller buffer of at least [`MAX_MESSAGE`] bytes.
//! The host owns the room (who is connected, nick uniqueness, queues).
//!
//! ```
//! use core::net::SocketAddr;
//! use wirekit_core::service::chat::{write_message, Sender};
//! use wirekit_core::strftime::Tm;
//! let now = Tm::from_unix(1_700_000_000, 0, "UTC");
//! let peer: SocketAddr = "127.0.0.1:50000".parse().unwrap();
//! let mut out = [0u8; 128];
//! let n = write_message(&mut out, &now, Sender::Peer(peer), b"hi").unwrap();
//! assert_eq!(&out[..n], b"2023/11/14 22:13:20 127.0.0.1:50000\nhi\n\n");
//! ```

use core::fmt;
use core::net::SocketAddr;

use crate::codec::line::{LineDecoder, LineEvent};
use crate::decimal::Decimal;
use crate::strftime::Tm;

pub mod cluster;
mod relay;
mod text;
pub use relay::Relay;
use text::{display, Sink};

/// Default and largest maximum line length (bytes before the `\n`).
pub const MAX_LINE: usize = 1024;

/// Longest nickname.
pub const MAX_NICK: usize = 24;

/// A buffer of this size holds any frame the `write_*` functions produce
/// for a line of at most [`MAX_LINE`] bytes (time stamp, sender, body).
pub const MAX_MESSAGE: usize = MAX_LINE + 160;

/// The sender shown on system notices; reserved as a nickname.
pub const SERVER_NAME: &str = "server";

/// What a received line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// An ordinary line to broadcast (without `\n` or a trailing `\r`).
    Say(&'a [u8]),
    /// `quit`: leave the room (the seed compares the stripped line).
    Quit,
    /// A line of only whitespace: ignored. The seed treated it as `quit`
    /// because `strip()` made it look like end of stream; wirekit only
    /// leaves on `quit` or a real end of stream.
    Blank,
    /// `/nick NAME` with a valid name (uniqueness is the host's business).
    Nick(&'a str),
    /// `/nick` with an invalid name.
    BadNick(NickError),
    /// `/who`: list who is in the room.
    Who,
}

/// Why a nickname was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NickError {
    /// No name given.
    Empty,
    /// Longer than [`MAX_NICK`] bytes.
    TooLong,
    /// Only ASCII letters, digits, `_` and `-` are allowed (so a name can
    /// never pass for an `ip:port` or for a system line).
    BadChar,
    /// The name is [`SERVER_NAME`].
    Reserved,
}

impl fmt::Display for NickError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display(f, |w| text::nick_error(w, *self))
    }
}

impl core::error::Error for NickError {}

/// Checks a nickname: 1 to [`MAX_NICK`] bytes of `[A-Za-z0-9_-]`, not
/// [`SERVER_NAME`].
pub fn validate_nick(name: &[u8]) -> Result<&str, NickError> {
    if name.is_empty() {
        return Err(NickError::Empty);
    }
    if name.len() > MAX_NICK {
        return Err(NickError::TooLong);
    }
    if !name
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
    {
        return Err(NickError::BadChar);
    }
    let name = core::str::from_utf8(name).map_err(|_| NickError::BadChar)?;
    if name.eq_ignore_ascii_case(SERVER_NAME) {
        return Err(NickError::Reserved);
    }
    Ok(name)
}

/// Classifies one received line (without its `\n`) for a room that relays
/// with `relay`: like [`parse_line`], and a line that holds only whitespace
/// once stripped is [`Input::Blank`].
pub fn parse_line_as(line: &[u8], relay: Relay) -> Input<'_> {
    match parse_line(line) {
        Input::Say(text) if relay.is_blank(text) => Input::Blank,
        input => input,
    }
}

/// Classifies one received line (without its `\n`).
///
/// Only `quit`, `/nick` and `/who` are commands; any other line, including
/// other text starting with `/`, is said to the room as the seed would.
/// The text of [`Input::Say`] is the raw line; see [`Relay`] for what is
/// relayed.
pub fn parse_line(line: &[u8]) -> Input<'_> {
    // Python's universal newlines turn "\r\n" into "\n" before the seed sees
    // the line, so a trailing '\r' is not part of the text.
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() {
        return Input::Blank;
    }
    if trimmed == b"quit" {
        return Input::Quit;
    }
    if trimmed == b"/who" {
        return Input::Who;
    }
    if trimmed == b"/nick" {
        return Input::BadNick(NickError::Empty);
    }
    if let Some(arg) = trimmed.strip_prefix(b"/nick ") {
        return match validate_nick(arg.trim_ascii()) {
            Ok(name) => Input::Nick(name),
            Err(e) => Input::BadNick(e),
        };
    }
    Input::Say(line)
}

/// A step of a client's input stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatEvent<'a> {
    /// A complete line.
    Input(Input<'a>),
    /// A line over the limit was dropped; the connection stays usable.
    TooLong {
        /// The maximum line length in force.
        limit: usize,
    },
}

/// Incremental decoder of a chat client's byte stream.
#[derive(Debug, Clone)]
pub struct ChatDecoder {
    lines: LineDecoder<{ MAX_LINE + 1 }>,
    relay: Relay,
}

impl Default for ChatDecoder {
    fn default() -> Self {
        Self::new(MAX_LINE)
    }
}

impl ChatDecoder {
    /// A decoder accepting lines of up to `max_line` bytes (capped at
    /// [`MAX_LINE`]; at least 1), for a room that strips control characters.
    pub fn new(max_line: usize) -> Self {
        Self::with_relay(max_line, Relay::Strip)
    }

    /// Like [`ChatDecoder::new`] for a room that relays with `relay` (lines
    /// that strip to nothing are [`Input::Blank`]).
    pub fn with_relay(max_line: usize, relay: Relay) -> Self {
        let max = max_line.clamp(1, MAX_LINE);
        // "\n" is always a valid delimiter here; the default is never used.
        let lines = LineDecoder::with_delimiter(b"\n", max).unwrap_or_default();
        ChatDecoder { lines, relay }
    }

    /// The maximum line length in force.
    pub fn max_line(&self) -> usize {
        self.lines.max_line()
    }

    /// Decodes from `input`: bytes consumed and the next event; `None`
    /// means all of `input` was consumed and more is needed.
    pub fn decode<'a>(&'a mut self, input: &'a [u8]) -> (usize, Option<ChatEvent<'a>>) {
        let limit = self.lines.max_line();
        let relay = self.relay;
        let (used, ev) = self.lines.decode(input);
        let ev = ev.map(|ev| match ev {
            LineEvent::Line(line) => ChatEvent::Input(parse_line_as(line, relay)),
            LineEvent::Rejected(_) => ChatEvent::TooLong { limit },
        });
        (used, ev)
    }

    /// At end of stream: the unterminated last line, if any. The seed's
    /// `readline()` returned such a line as it was, so it is still said.
    pub fn finish(&self) -> Option<Input<'_>> {
        let rest = self.lines.pending();
        match parse_line_as(rest, self.relay) {
            Input::Blank => None,
            input => Some(input),
        }
    }
}

/// Who a frame is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender<'a> {
    /// A client without a nickname, shown as the seed shows it:
    /// `"{}:{}".format(ip, port)`, so IPv6 has no brackets.
    Peer(SocketAddr),
    /// A client that chose a nickname.
    Nick(&'a str),
    /// The server itself ([`SERVER_NAME`]).
    Server,
}

impl fmt::Display for Sender<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display(f, |w| text::sender(w, self))
    }
}

/// Why the server ended a client's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Its outgoing queue overflowed: it does not read fast enough.
    SlowReader,
    /// Writing to it failed.
    WriteFailed,
    /// Reading from it failed.
    ReadFailed,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A system line, sent with the sender [`Sender::Server`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice<'a> {
    /// Someone joined; `online` counts them.
    Joined {
        /// Who joined.
        who: Sender<'a>,
        /// How many are in the room now.
        online: usize,
    },
    /// Someone left by `quit` or by closing the connection.
    Left(Sender<'a>),
    /// Someone was disconnected by the server.
    Dropped(Sender<'a>, DropReason),
    /// Many were disconnected at once; one line instead of one each, so
    /// a mass drop does not add a storm of notices to the one that caused
    /// it.
    ManyDropped {
        /// How many.
        count: usize,
        /// Why.
        why: DropReason,
    },
    /// Many of another node's members left while its bus queue was full;
    /// one line for them, so a mass leave is summarised rather than lost.
    ManyLeft {
        /// How many.
        count: usize,
    },
    /// To the dropped client itself, if it can still be told.
    YouAreDropped(DropReason),
    /// Someone took a nickname.
    Renamed {
        /// The old name.
        from: Sender<'a>,
        /// The new nickname.
        to: &'a str,
    },
    /// To one client: the nickname is in use.
    NickTaken(&'a str),
    /// To one client: the nickname is invalid.
    BadNick(NickError),
    /// To one client: its line was too long and was not sent.
    LineTooLong {
        /// The maximum line length.
        limit: usize,
    },
    /// To everyone: the server is shutting down.
    Stopping,
    /// To one client that was behind while many joined or left at once:
    /// how many of those notices it was not sent (said lines are never
    /// skipped).
    Skipped {
        /// How many notices.
        count: usize,
    },
}

impl fmt::Display for Notice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display(f, |w| text::notice(w, self))
    }
}

/// The output did not fit the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("chat frame does not fit the buffer")
    }
}

/// A writer into a byte slice that fails instead of truncating.
struct Cursor<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Cursor<'_> {
    fn bytes(&mut self, b: &[u8]) -> Result<(), Overflow> {
        let end = self.len.checked_add(b.len()).ok_or(Overflow)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(Overflow)?;
        dst.copy_from_slice(b);
        self.len = end;
        Ok(())
    }

    /// `n` with at least two digits (`{:02}`).
    fn two_digits(&mut self, n: u8) -> Result<(), Overflow> {
        if n < 10 {
            self.bytes(b"0")?;
        }
        self.num(u64::from(n))
    }

    /// The seed's header line: `"%Y/%m/%d %H:%M:%S sender\n"`.
    fn header(&mut self, now: &Tm, from: &Sender<'_>) -> Result<(), Overflow> {
        self.bytes(Decimal::signed(i64::from(now.year)).as_bytes())?;
        for (sep, n) in [
            (b'/', now.month),
            (b'/', now.day),
            (b' ', now.hour),
            (b':', now.minute),
            (b':', now.second),
        ] {
            self.bytes(&[sep])?;
            self.two_digits(n)?;
        }
        self.bytes(b" ")?;
        text::sender(self, from)?;
        self.bytes(b"\n")
    }
}

impl Sink for Cursor<'_> {
    fn text(&mut self, s: &str) -> Result<(), Overflow> {
        self.bytes(s.as_bytes())
    }
}

/// Formats a said line as the seed does: header, the line byte for byte,
/// `"\n\n"`. Returns the number of bytes written to `out`.
pub fn write_message(
    out: &mut [u8],
    now: &Tm,
    from: Sender<'_>,
    line: &[u8],
) -> Result<usize, Overflow> {
    write_message_as(out, now, from, line, Relay::Raw)
}

/// Like [`write_message`], with the line relayed as `relay` says (what a
/// room sends to its members).
pub fn write_message_as(
    out: &mut [u8],
    now: &Tm,
    from: Sender<'_>,
    line: &[u8],
    relay: Relay,
) -> Result<usize, Overflow> {
    let mut w = Cursor { buf: out, len: 0 };
    w.header(now, &from)?;
    relay.for_each_run(line, |run| w.bytes(run))?;
    w.bytes(b"\n\n")?;
    Ok(w.len)
}

/// Formats a system line: `"{stamp} server\n* {notice}\n\n"`.
pub fn write_notice(out: &mut [u8], now: &Tm, notice: Notice<'_>) -> Result<usize, Overflow> {
    let mut w = Cursor { buf: out, len: 0 };
    w.header(now, &Sender::Server)?;
    w.bytes(b"* ")?;
    text::notice(&mut w, &notice)?;
    w.bytes(b"\n\n")?;
    Ok(w.len)
}

/// Formats the answer to `/who`: `"* online (N): a, b, …"`. Names that do
/// not fit in `out` (less 32 bytes kept for the ending) are summarised as
/// `and K more`, so the answer is bounded whatever the room size; `total`
/// is the number of members, `members` yields them.
pub fn write_who<'a>(
    out: &mut [u8],
    now: &Tm,
    total: usize,
    members: impl IntoIterator<Item = Sender<'a>>,
) -> Result<usize, Overflow> {
    const RESERVE: usize = 32;
    let room = out.len().checked_sub(RESERVE).ok_or(Overflow)?;
    let mut w = Cursor {
        buf: out.get_mut(..room).ok_or(Overflow)?,
        len: 0,
    };
    w.header(now, &Sender::Server)?;
    w.bytes(b"* online (")?;
    w.num(total as u64)?;
    w.bytes(b"):")?;
    let mut shown = 0usize;
    for member in members.into_iter().take(total) {
        let mark = w.len;
        let sep: &[u8] = if shown == 0 { b" " } else { b", " };
        if w.bytes(sep)
            .and_then(|()| text::sender(&mut w, &member))
            .is_err()
        {
            w.len = mark;
            break;
        }
        shown += 1;
    }
    let len = w.len;
    let mut w = Cursor { buf: out, len };
    if shown < total {
        w.bytes(b" and ")?;
        w.num((total - shown) as u64)?;
        w.bytes(b" more")?;
    }
    w.bytes(b"\n\n")?;
    Ok(w.len)
}

#[cfg(test)]
mod tests;
