//! What kind of server answered: a classifier over the first bytes a
//! client receives, so a client pointed at the wrong listener can say what
//! it found instead of decoding a refusal line as a frame length
//! (`"erro"` read as a little-endian length is 1 869 771 365).
//!
//! The classes, checked in this order:
//! - [`Answer::Busy`]: wirekit's connection-limit line
//!   (`error: server busy, too many connections`), sent by every wirekit
//!   TCP listener at its limit before it closes;
//! - [`Answer::Refusal`]: any other `error: …` line (the text services'
//!   and seed file dialects' refusals);
//! - [`Answer::Echo`]: the bytes the client sent, as they were or
//!   upper-cased (an echo or upper-echo server);
//! - [`Answer::Frame`]: a 4-byte little-endian length followed by `{`, a
//!   JSON-headed frame (wirekit's native protocol, the seeds' JSON header);
//! - [`Answer::SizeText`]: ASCII digits alone (seed 004's size text, the
//!   `exec-ack` and `files-ack` dialects), which a server sends and then
//!   waits for the client's ack;
//! - [`Answer::Length`]: a 4-byte length followed by anything else (the
//!   seeds' bare length prefix, `exec-len`);
//! - [`Answer::Text`], [`Answer::Binary`]: anything else.
//!
//! The verdict is stable: once a prefix of the answer is classified (not
//! [`Answer::NeedMore`]), every longer answer starting with it gets the same
//! class, so the chunking of the reads does not matter.

/// The line every wirekit TCP listener sends when at its connection limit.
pub const BUSY_LINE: &[u8] = b"error: server busy, too many connections\r\n";

/// Longest refusal line looked at; a longer `error: ` answer is classified
/// from its first bytes.
pub const MAX_REFUSAL: usize = 512;

/// Most bytes a client needs to look at: an echo is recognised only once
/// the whole request came back (a real answer can share a long prefix with
/// the request: `{"op":"put","total_size":0,` starts both a native put
/// request and its reply, lengths included), so requests longer than this
/// are never taken for an echo.
pub const MAX_PEEK: usize = 4096;

/// Prefix of a text refusal.
const ERROR: &[u8] = b"error: ";
/// The part of [`BUSY_LINE`] that identifies it.
const BUSY: &[u8] = b"error: server busy";

/// What the first bytes of an answer look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Not decidable yet: read more (or pass `settled`).
    NeedMore,
    /// The server closed without sending anything.
    Closed,
    /// The connection-limit line.
    Busy,
    /// Another `error: …` line; [`refusal_text`] gives its words.
    Refusal,
    /// The request came back (echo or upper-echo server).
    Echo,
    /// A JSON-headed frame.
    Frame,
    /// A 4-byte length not followed by a JSON header.
    Length,
    /// A size as ASCII digits, alone.
    SizeText,
    /// Other printable text.
    Text,
    /// Other bytes.
    Binary,
}

impl core::fmt::Display for Answer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NeedMore => "an incomplete answer",
            Self::Closed => "no answer (the server closed the connection)",
            Self::Busy => "a busy refusal",
            Self::Refusal => "a refusal",
            Self::Echo => "your own bytes echoed back (an echo server)",
            Self::Frame => "a JSON-headed frame (a native wirekit or seed JSON listener)",
            Self::Length => "a 4-byte length prefix (a seed length-prefixed listener)",
            Self::SizeText => "a size as text awaiting an ack (a seed 004 `-ack` listener)",
            Self::Text => "a line of text",
            Self::Binary => "unrecognised bytes",
        })
    }
}

/// Classifies `got`, the bytes received so far, in answer to `sent`.
/// `settled` says no more bytes are coming for now (EOF, or a pause): a
/// server that sends a short size text and waits is then recognised.
pub fn classify(got: &[u8], sent: &[u8], settled: bool) -> Answer {
    if got.is_empty() {
        return if settled {
            Answer::Closed
        } else {
            Answer::NeedMore
        };
    }
    if let Some(a) = classify_error(got, settled) {
        return a;
    }
    if let Some(a) = classify_echo(got, sent, settled) {
        return a;
    }
    let head = &got[..got.len().min(4)];
    if head.iter().all(u8::is_ascii_digit) {
        // Four digits are no frame or length: their value is at least
        // 0x30303030, far beyond any header limit.
        if got.len() >= 4 || (settled && got.iter().all(u8::is_ascii_digit)) {
            return Answer::SizeText;
        }
        if !settled {
            return Answer::NeedMore;
        }
    }
    if got.len() >= 5 && is_length_prefix(&got[..4]) {
        return if got[4] == b'{' {
            Answer::Frame
        } else {
            Answer::Length
        };
    }
    if got.len() >= 4 && is_length_prefix(&got[..4]) && settled {
        return Answer::Length;
    }
    if got.len() < 5 && !settled {
        return Answer::NeedMore;
    }
    if got.iter().take(5).all(|&b| is_text(b)) {
        Answer::Text
    } else {
        Answer::Binary
    }
}

/// A length prefix that is not printable text (a real one, for anything
/// under 512 MiB, has a zero or control byte in it).
fn is_length_prefix(p: &[u8]) -> bool {
    !p.iter().all(|&b| is_text(b))
}

fn is_text(b: u8) -> bool {
    b == b'\t' || b == b'\r' || b == b'\n' || (b' '..=b'~').contains(&b) || b >= 0x80
}

/// `error: …` lines; `None` when `got` cannot be one.
fn classify_error(got: &[u8], settled: bool) -> Option<Answer> {
    let n = got.len().min(ERROR.len());
    if got[..n] != ERROR[..n] {
        return None;
    }
    if got.len() < ERROR.len() {
        return (!settled)
            .then_some(Answer::NeedMore)
            .or(Some(Answer::Text));
    }
    let m = got.len().min(BUSY.len());
    if got[..m] == BUSY[..m] {
        if got.len() >= BUSY.len() {
            return Some(Answer::Busy);
        }
        if !settled {
            return Some(Answer::NeedMore);
        }
    }
    let line_done = got.contains(&b'\n') || got.len() >= MAX_REFUSAL;
    Some(if line_done || settled {
        Answer::Refusal
    } else {
        Answer::NeedMore
    })
}

/// The request coming back; `None` when `got` cannot be an echo of `sent`.
fn classify_echo(got: &[u8], sent: &[u8], settled: bool) -> Option<Answer> {
    let probe = sent.len();
    if probe == 0 || probe > MAX_PEEK {
        return None;
    }
    let n = got.len().min(probe);
    let same = got[..n] == sent[..n];
    let upper = got[..n]
        .iter()
        .zip(&sent[..n])
        .all(|(g, s)| *g == s.to_ascii_uppercase());
    if !(same || upper) {
        return None;
    }
    if n == probe {
        // A server that answers exactly what it was sent (and the request
        // has no lower-case letter to tell an upper-echo apart) is an echo
        // too: no wirekit protocol answers a whole request with itself.
        Some(Answer::Echo)
    } else if settled {
        None
    } else {
        Some(Answer::NeedMore)
    }
}

/// The words of a [`Answer::Refusal`] or [`Answer::Busy`] line: after
/// `error: `, up to the line end, at most [`MAX_REFUSAL`] bytes.
pub fn refusal_text(got: &[u8]) -> &[u8] {
    let body = got.strip_prefix(ERROR).unwrap_or(got);
    let body = &body[..body.len().min(MAX_REFUSAL)];
    let end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    let line = &body[..end];
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// How wirekit's exec server words a refusal in the seed dialects, which
/// have no error field: the whole output is one `wirekit: …` line.
const SEED_EXEC_REFUSALS: &[&[u8]] = &[
    b"refused: ",
    b"authentication required",
    b"command longer than ",
    b"too many commands running",
    b"cannot run the command: ",
    b"server shutting down",
    b"command is ",
    b"empty command",
];

/// Whether a seed-dialect exec reply (`exec-len`, `exec-ack`) is wirekit's
/// server refusing the command rather than the command's own output;
/// returns the reason. A command printing exactly such a line is taken
/// for a refusal too: these dialects carry no exit code to tell them apart.
pub fn seed_exec_refusal(body: &[u8]) -> Option<&[u8]> {
    let line = body.strip_prefix(b"wirekit: ")?.strip_suffix(b"\n")?;
    if line.contains(&b'\n') {
        return None;
    }
    SEED_EXEC_REFUSALS
        .iter()
        .any(|p| line.starts_with(p))
        .then_some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &[u8] = b"\x0e\x00\x00\x00{\"op\":\"hello\"}";

    #[test]
    fn recognises_each_kind() {
        assert_eq!(classify(BUSY_LINE, HELLO, false), Answer::Busy);
        assert_eq!(
            classify(b"error: server bu", HELLO, false),
            Answer::NeedMore
        );
        assert_eq!(
            classify(b"error: expected 'get NAME'", HELLO, true),
            Answer::Refusal
        );
        assert_eq!(classify(b"error: no such\n", HELLO, false), Answer::Refusal);
        assert_eq!(
            classify(b"\x0e\x00\x00\x00{\"OP\":\"HELLO\"}", HELLO, false),
            Answer::Echo
        );
        assert_eq!(classify(b"ECHO HI", b"echo hi", false), Answer::Echo);
        assert_eq!(
            classify(b"\x1d\x00\x00\x00{\"op\":\"ready\"}", HELLO, false),
            Answer::Frame
        );
        assert_eq!(classify(b"57", HELLO, false), Answer::NeedMore);
        assert_eq!(classify(b"57", HELLO, true), Answer::SizeText);
        assert_eq!(
            classify(b"\x05\x00\x00\x00hello", b"ls", false),
            Answer::Length
        );
        assert_eq!(classify(b"", HELLO, true), Answer::Closed);
        assert_eq!(classify(b"hello there", b"x", false), Answer::Text);
    }

    #[test]
    fn a_reply_sharing_the_request_prefix_is_no_echo() {
        let put =
            b"7\x00\x00\x00{\"op\":\"put\",\"total_size\":0,\"filename\":\"d.bin\",\"size\":8}";
        let ready =
            b"7\x00\x00\x00{\"op\":\"put\",\"total_size\":0,\"offset\":0,\"status\":\"ready\"}";
        assert_eq!(classify(&ready[..32], put, false), Answer::NeedMore);
        assert_eq!(classify(&ready[..40], put, false), Answer::Frame);
        assert_eq!(classify(ready, put, false), Answer::Frame);
    }

    #[test]
    fn refusal_words() {
        assert_eq!(
            refusal_text(BUSY_LINE),
            b"server busy, too many connections"
        );
        assert_eq!(refusal_text(b"error: nope"), b"nope");
    }

    #[test]
    fn seed_refusals() {
        assert_eq!(
            seed_exec_refusal(b"wirekit: refused: your address is not allowed\n"),
            Some(&b"refused: your address is not allowed"[..])
        );
        assert_eq!(seed_exec_refusal(b"wirekit: hello\n"), None);
        assert_eq!(seed_exec_refusal(b"wirekit: refused: x\nmore\n"), None);
        assert_eq!(seed_exec_refusal(b"total 0\n"), None);
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics(got in proptest::collection::vec(any::<u8>(), 0..600),
                            sent in proptest::collection::vec(any::<u8>(), 0..64),
                            settled in any::<bool>()) {
                let _ = classify(&got, &sent, settled);
                let _ = refusal_text(&got);
                let _ = seed_exec_refusal(&got);
            }

            /// A decided prefix keeps its class however the rest arrives.
            #[test]
            fn decided_prefix_is_stable(got in proptest::collection::vec(any::<u8>(), 1..200),
                                        sent in proptest::collection::vec(any::<u8>(), 0..40),
                                        cut in any::<prop::sample::Index>()) {
                let k = cut.index(got.len()) + 1;
                let early = classify(&got[..k], &sent, false);
                if early != Answer::NeedMore {
                    prop_assert_eq!(classify(&got, &sent, false), early);
                    prop_assert_eq!(classify(&got, &sent, true), early);
                }
            }

            /// Prefixes of real answers classify stably too.
            #[test]
            fn busy_line_in_any_chunks(k in 0usize..BUSY_LINE.len()) {
                let early = classify(&BUSY_LINE[..k], HELLO_P, false);
                prop_assert!(early == Answer::NeedMore || early == Answer::Busy);
                prop_assert_eq!(classify(BUSY_LINE, HELLO_P, false), Answer::Busy);
            }
        }

        const HELLO_P: &[u8] = b"\x0e\x00\x00\x00{\"op\":\"hello\"}";
    }
}
