//! Telling the dialects apart from the first bytes of a connection on the
//! `files` listener.
//!
//! - native frames start with a 4-byte little-endian header length; the
//!   header limit keeps the top two bytes zero, and a file name never holds
//!   a NUL, so a NUL among the first four bytes means native;
//! - seed 002 sends `get NAME` or `put NAME`;
//! - seed 000 sends a bare file name (anything else).
//!
//! A bare name shorter than four bytes could still be the start of a
//! frame or a command, so the host waits briefly for more and then calls
//! [`detect`] with `complete` set.

/// The dialects of the `files` listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// wirekit's own JSON-headed frames.
    Native,
    /// Seed 002's `get`/`put` commands with per-chunk frames.
    Seed002,
    /// Seed 000's bare file name download.
    Seed000,
}

/// Outcome of [`detect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detect {
    /// The dialect is known.
    Known(Dialect),
    /// Not enough bytes yet.
    NeedMore,
}

const COMMANDS: [&[u8]; 2] = [b"get ", b"put "];

/// Decides the dialect from the first bytes received. `complete` means
/// no more bytes are coming soon (the host waited), so a short input that
/// is neither a frame nor a command is taken as a seed 000 name.
///
/// ```
/// use wirekit_core::service::file::dialect::{detect, Detect, Dialect};
/// assert_eq!(detect(b"\x20\x00\x00\x00{", false), Detect::Known(Dialect::Native));
/// assert_eq!(detect(b"get a.txt", false), Detect::Known(Dialect::Seed002));
/// assert_eq!(detect(b"a.txt", false), Detect::Known(Dialect::Seed000));
/// assert_eq!(detect(b"ge", false), Detect::NeedMore);
/// ```
pub fn detect(first: &[u8], complete: bool) -> Detect {
    let head = &first[..first.len().min(4)];
    if head.contains(&0) {
        return Detect::Known(Dialect::Native);
    }
    if COMMANDS.iter().any(|c| first.starts_with(c)) {
        return Detect::Known(Dialect::Seed002);
    }
    if first.len() >= 4 || (complete && !first.is_empty()) {
        return Detect::Known(Dialect::Seed000);
    }
    Detect::NeedMore
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_inputs_wait_unless_complete() {
        assert_eq!(detect(b"", false), Detect::NeedMore);
        assert_eq!(detect(b"", true), Detect::NeedMore);
        assert_eq!(detect(b"a.c", false), Detect::NeedMore);
        assert_eq!(detect(b"a.c", true), Detect::Known(Dialect::Seed000));
        assert_eq!(detect(b"\x05", false), Detect::NeedMore);
        assert_eq!(detect(b"\x05\x00", false), Detect::Known(Dialect::Native));
        assert_eq!(detect(b"put x", true), Detect::Known(Dialect::Seed002));
        // A name that merely starts like a command word is a name.
        assert_eq!(
            detect(b"getter.txt", false),
            Detect::Known(Dialect::Seed000)
        );
    }
}
