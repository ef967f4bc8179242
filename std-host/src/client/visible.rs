//! Untrusted text made safe for a terminal: what a peer sends (chat lines,
//! file names, echo answers, messenger lines) must not be able to clear the
//! user's screen, retitle the terminal or forge a line, so every control
//! character is shown as visible text instead of being written raw, the way
//! `ls` and `less` do.
//!
//! - C0 controls and DEL in caret notation (`ESC` → `^[`, `DEL` → `^?`),
//!   tab kept; a newline kept only where the caller asks for lines, and a
//!   carriage return only just before such a newline;
//! - C1 controls, line/paragraph separators and the bidirectional
//!   overrides as `<U+XXXX>`, as `less` shows them;
//! - bytes that are not UTF-8 as `\xHH`.
//!
//! ```
//! use wirekit_host::client::visible::{visible, Newlines};
//! assert_eq!(visible(b"a\x1b]0;pwned\x07b", Newlines::Escape), "a^[]0;pwned^Gb");
//! assert_eq!(visible(b"x\r\ny\n", Newlines::Keep), "x\r\ny\n");
//! assert_eq!(visible(b"n\nm\xff", Newlines::Escape), "n^Jm\\xff");
//! ```

use std::fmt::Write as _;

/// What to do with `\n` (and a `\r` just before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Newlines {
    /// Keep line breaks: the text is a sequence of lines (chat, echo).
    Keep,
    /// Show them as `^J`: the text is one name or field (`ls`, file names).
    Escape,
}

/// `bytes` with every control character made visible (see the module docs).
pub fn visible(bytes: &[u8], newlines: Newlines) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        push_valid(&mut out, chunk.valid(), newlines);
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// True when `bytes` would be shown unchanged by [`visible`].
pub fn is_plain(bytes: &[u8], newlines: Newlines) -> bool {
    visible(bytes, newlines).as_bytes() == bytes
}

fn push_valid(out: &mut String, s: &str, newlines: Newlines) {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let keep_line = newlines == Newlines::Keep;
        match c {
            '\t' => out.push(c),
            '\n' if keep_line => out.push(c),
            '\r' if keep_line && chars.peek() == Some(&'\n') => out.push(c),
            '\u{0}'..='\u{1f}' => {
                out.push('^');
                out.push(char::from(c as u8 + 0x40));
            }
            '\u{7f}' => out.push_str("^?"),
            '\u{80}'..='\u{9f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' => {
                let _ = write!(out, "<U+{:04X}>", c as u32);
            }
            _ => out.push(c),
        }
    }
}

/// [`visible`] over a byte stream that arrives in arbitrary chunks (a
/// socket): a UTF-8 character or a `\r\n` split across two reads is held
/// back until the next one, so the output is the same as for the whole.
#[derive(Debug)]
pub struct VisibleStream {
    newlines: Newlines,
    held: Vec<u8>,
}

impl VisibleStream {
    /// A stream shown with `newlines`.
    pub fn new(newlines: Newlines) -> Self {
        VisibleStream {
            newlines,
            held: Vec::new(),
        }
    }

    /// The visible text for `bytes` appended to what was held back; keeps
    /// an unfinished character or a final `\r` for the next call.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.held.extend_from_slice(bytes);
        let keep = unfinished_tail(&self.held);
        let cut = self.held.len() - keep;
        let cut = match (self.newlines, cut.checked_sub(1)) {
            (Newlines::Keep, Some(i)) if self.held[i] == b'\r' => i,
            _ => cut,
        };
        let text = visible(&self.held[..cut], self.newlines);
        self.held.drain(..cut);
        text
    }

    /// The text for whatever is still held, at end of stream.
    pub fn finish(&mut self) -> String {
        let text = visible(&self.held, self.newlines);
        self.held.clear();
        text
    }
}

/// How many bytes at the end of `b` are the start of a UTF-8 character
/// that may still be completed (0 to 3).
fn unfinished_tail(b: &[u8]) -> usize {
    for k in 1..=3.min(b.len()) {
        let tail = &b[b.len() - k..];
        if tail[0] >= 0xc0 {
            return match std::str::from_utf8(tail) {
                Err(e) if e.error_len().is_none() => k,
                _ => 0,
            };
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_in_any_chunks_shows_the_same_as_the_whole() {
        let text = "é\x1b[2J日本\r\nok\r\n\u{9b}x".as_bytes();
        let whole = [text, b"\xff\r", b"\xe6\x97"].concat();
        for mode in [Newlines::Keep, Newlines::Escape] {
            let expect = visible(&whole, mode);
            for size in 1..6 {
                let mut s = VisibleStream::new(mode);
                let mut got: String = whole.chunks(size).map(|c| s.push(c)).collect();
                got.push_str(&s.finish());
                assert_eq!(got, expect, "{mode:?} chunks of {size}");
            }
        }
    }

    #[test]
    fn printable_text_is_unchanged() {
        let s = "héllo wörld\t日本 ~!@#";
        assert_eq!(visible(s.as_bytes(), Newlines::Escape), s);
        assert!(is_plain(s.as_bytes(), Newlines::Keep));
    }

    #[test]
    fn escape_sequences_lose_their_escape() {
        // Clear screen, OSC title, CSI colour: none may reach the terminal.
        let v = visible(b"\x1b[2J\x1b]0;t\x07\x1b[31mred", Newlines::Keep);
        assert!(!v.contains('\x1b') && !v.contains('\x07'), "{v:?}");
        assert_eq!(v, "^[[2J^[]0;t^G^[[31mred");
    }

    #[test]
    fn c1_and_bidi_controls_are_shown_as_code_points() {
        let v = visible("a\u{9b}2Jb\u{202e}c\u{2028}".as_bytes(), Newlines::Keep);
        assert_eq!(v, "a<U+009B>2Jb<U+202E>c<U+2028>");
    }

    #[test]
    fn lone_carriage_return_cannot_overwrite_a_line() {
        assert_eq!(visible(b"ok\rforged\n", Newlines::Keep), "ok^Mforged\n");
        assert_eq!(visible(b"a\r\n", Newlines::Escape), "a^M^J");
    }

    #[test]
    fn invalid_utf8_is_hex() {
        assert_eq!(visible(b"\xc3(\x80", Newlines::Keep), "\\xc3(\\x80");
    }

    #[test]
    fn output_never_holds_a_control_character() {
        let all: Vec<u8> = (0..=255u8).collect();
        for mode in [Newlines::Keep, Newlines::Escape] {
            let v = visible(&all, mode);
            assert!(
                v.chars()
                    .all(|c| !c.is_control() || c == '\t' || (mode == Newlines::Keep && c == '\n')),
                "{v:?}"
            );
        }
    }
}
