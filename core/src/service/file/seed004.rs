//! Seed 004's FTP get, served on its own listener (`files-ack`) because
//! its `get NAME` looks like seed 002's. The exchange:
//!
//! 1. client: `get NAME`
//! 2. server: the size as decimal text
//! 3. client: any acknowledgement (the seed sends `ready to recv file`)
//! 4. server: the raw bytes, then the md5 as 32 hex digits
//!
//! The seed server hangs on a missing file; wirekit answers
//! `error: REASON` instead (the seed client shows it when `int()` fails).
//! Sizes are text, so any `u64` works.

use core::fmt::Write as _;

use super::text::SliceWriter;

/// Most bytes read for a command or acknowledgement (`recv(1024)`).
pub const MAX_MESSAGE: usize = 1024;
/// The acknowledgement wirekit's client sends (the seed client's text).
pub const ACK: &[u8] = b"ready to recv file";

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError {
    /// Not UTF-8.
    NotUtf8,
    /// Not `get NAME`.
    Malformed,
}

impl core::fmt::Display for CommandError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NotUtf8 => "command is not UTF-8",
            Self::Malformed => "expected 'get NAME'",
        })
    }
}

/// Where the server side of the exchange is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Waiting for `get NAME`.
    Command,
    /// Size sent; waiting for the acknowledgement.
    AwaitAck {
        /// The announced size.
        size: u64,
    },
    /// Sending the bytes.
    Body {
        /// Bytes still to send.
        remaining: u64,
    },
    /// Bytes sent; the md5 text is next.
    Digest,
}

/// The server side of the exchange: which message is expected or due.
#[derive(Debug, Clone)]
pub struct Session {
    step: Step,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            step: Step::Command,
        }
    }
}

impl Session {
    /// The current step.
    pub fn step(&self) -> Step {
        self.step
    }

    /// Parses the command, returning the file name.
    pub fn command<'a>(&mut self, bytes: &'a [u8]) -> Result<&'a str, CommandError> {
        parse_command(bytes)
    }

    /// The file exists with `size` bytes: writes the size text to send
    /// into `out` and waits for the acknowledgement.
    pub fn found<'o>(&mut self, size: u64, out: &'o mut [u8; 24]) -> &'o [u8] {
        self.step = Step::AwaitAck { size };
        let mut w = SliceWriter::new(out);
        // 20 digits always fit in 24 bytes.
        let _ = write!(w, "{size}");
        let n = w.len();
        &out[..n]
    }

    /// Bytes arrived while waiting for the acknowledgement; any non-empty
    /// message is one. Returns true when the body may be sent.
    pub fn ack(&mut self, bytes: &[u8]) -> bool {
        if let Step::AwaitAck { size } = self.step {
            if !bytes.is_empty() {
                self.step = if size == 0 {
                    Step::Digest
                } else {
                    Step::Body { remaining: size }
                };
                return true;
            }
        }
        false
    }

    /// `n` body bytes were sent; returns false if that is more than
    /// announced (the file grew while being sent).
    pub fn sent(&mut self, n: u64) -> bool {
        match self.step {
            Step::Body { remaining } if n <= remaining => {
                self.step = if n == remaining {
                    Step::Digest
                } else {
                    Step::Body {
                        remaining: remaining - n,
                    }
                };
                true
            }
            _ => false,
        }
    }

    /// The md5 text was sent; the next command may come.
    pub fn digest_sent(&mut self) {
        self.step = Step::Command;
    }
}

/// Parses `get NAME` (split on whitespace, as the seed client does).
pub fn parse_command(bytes: &[u8]) -> Result<&str, CommandError> {
    let s = core::str::from_utf8(bytes).map_err(|_| CommandError::NotUtf8)?;
    let mut parts = s.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some("get"), Some(name), None) => Ok(name),
        _ => Err(CommandError::Malformed),
    }
}

/// What the server said in place of the size (client side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeReply<'a> {
    /// The file's size.
    Size(u64),
    /// Not a number: the server's message (wirekit's `error: ...`).
    Other(&'a str),
}

/// Parses the size text a server sent.
pub fn parse_size(bytes: &[u8]) -> SizeReply<'_> {
    let s = core::str::from_utf8(bytes).unwrap_or("(not UTF-8)").trim();
    match s.parse::<u64>() {
        Ok(n) => SizeReply::Size(n),
        Err(_) => SizeReply::Other(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exchange_in_order() {
        let mut s = Session::default();
        assert_eq!(s.command(b"get a.txt"), Ok("a.txt"));
        let mut buf = [0u8; 24];
        assert_eq!(s.found(1234, &mut buf), b"1234");
        assert!(!s.ack(b""));
        assert!(s.ack(ACK));
        assert!(s.sent(1000));
        assert!(!s.sent(1000), "more than announced");
        assert!(s.sent(234));
        assert_eq!(s.step(), Step::Digest);
        s.digest_sent();
        assert_eq!(s.step(), Step::Command);
        assert_eq!(s.found(u64::MAX, &mut buf), b"18446744073709551615");
        let mut s = Session::default();
        s.found(0, &mut buf);
        assert!(s.ack(b"ok"));
        assert_eq!(s.step(), Step::Digest);
    }

    #[test]
    fn commands_and_sizes() {
        assert_eq!(parse_command(b"get  b.txt\n"), Ok("b.txt"));
        assert_eq!(parse_command(b"put b.txt"), Err(CommandError::Malformed));
        assert_eq!(parse_command(b"get a b"), Err(CommandError::Malformed));
        assert_eq!(parse_size(b"42"), SizeReply::Size(42));
        assert_eq!(
            parse_size(b"error: no such file"),
            SizeReply::Other("error: no such file")
        );
    }
}
