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
//! Sizes are text, so any `u64` works. The server side of the exchange is
//! the session [`crate::session::files::seed::Seed004Server`].

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
