//! [`Fields`]: a header to be written, borrowing its strings.
//!
//! A [`Header`] owns bounded strings (over 1 KiB of them), which is right
//! for what a decoder fills in but wasteful for a reply: every reply kind
//! built one, cleared it, copied its words in and wrote it out. A reply is
//! a [`Fields`] instead (the `&str`s it names, a few numbers), written by
//! the same writer as a [`Header`] is ([`Header::emit`] goes through
//! [`Fields::from`]), so both give the same bytes.
//!
//! ```
//! use wirekit_core::wire::{Fields, Header};
//! let reply = Fields {
//!     op: Some("stat"),
//!     status: Some("ok"),
//!     size: Some(7),
//!     ..Fields::default()
//! };
//! let mut buf = [0u8; 64];
//! let n = reply.emit(&mut buf).unwrap();
//! assert_eq!(&buf[..n], br#"{"op":"stat","total_size":0,"status":"ok","size":7}"#);
//! assert_eq!(Header::parse(&buf[..n], true).unwrap(), reply.to_header());
//! ```

use super::{short_string, Header, HeaderError};
use crate::wire::Digest;

/// A header to be written: [`Header`]'s fields, strings borrowed.
///
/// A string longer than the matching [`Header`] field's capacity is cut
/// (at a char boundary) when written, as [`short_string`] cuts it into a
/// [`Header`]: what is written always parses back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fields<'a> {
    /// See [`Header::op`].
    pub op: Option<&'a str>,
    /// See [`Header::total_size`].
    pub total_size: u64,
    /// See [`Header::md5`].
    pub md5: Option<Digest>,
    /// See [`Header::filename`].
    pub filename: Option<&'a str>,
    /// See [`Header::offset`].
    pub offset: Option<u64>,
    /// See [`Header::status`].
    pub status: Option<&'a str>,
    /// See [`Header::error`].
    pub error: Option<&'a str>,
    /// See [`Header::exit_code`].
    pub exit_code: Option<i32>,
    /// See [`Header::token`].
    pub token: Option<&'a str>,
    /// See [`Header::nonce`].
    pub nonce: Option<&'a str>,
    /// See [`Header::force`].
    pub force: Option<bool>,
    /// See [`Header::mtime`].
    pub mtime: Option<u64>,
    /// See [`Header::truncated`].
    pub truncated: Option<bool>,
    /// See [`Header::size`].
    pub size: Option<u64>,
    /// See [`Header::resume`].
    pub resume: Option<bool>,
}

impl<'a> Fields<'a> {
    /// `op` and `status` set, everything else empty: most replies.
    pub fn with_status(op: &'a str, status: &'a str) -> Self {
        Fields {
            op: Some(op),
            status: Some(status),
            ..Fields::default()
        }
    }

    /// Writes the header as compact JSON into `out`, returning its length
    /// (see [`Header::emit`]).
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, HeaderError> {
        super::emit::emit(self, out)
    }

    /// The [`Header`] a receiver parses from these fields.
    pub fn to_header(&self) -> Header {
        Header {
            op: self.op.and_then(short_string),
            total_size: self.total_size,
            md5: self.md5,
            md5_malformed: false,
            filename: self.filename.and_then(short_string),
            offset: self.offset,
            status: self.status.and_then(short_string),
            error: self.error.and_then(short_string),
            exit_code: self.exit_code,
            token: self.token.and_then(short_string),
            nonce: self.nonce.and_then(short_string),
            force: self.force,
            mtime: self.mtime,
            truncated: self.truncated,
            size: self.size,
            resume: self.resume,
        }
    }
}

impl<'a> From<&'a Header> for Fields<'a> {
    fn from(h: &'a Header) -> Self {
        Fields {
            op: h.op.as_deref(),
            total_size: h.total_size,
            md5: h.md5,
            filename: h.filename.as_deref(),
            offset: h.offset,
            status: h.status.as_deref(),
            error: h.error.as_deref(),
            exit_code: h.exit_code,
            token: h.token.as_deref(),
            nonce: h.nonce.as_deref(),
            force: h.force,
            mtime: h.mtime,
            truncated: h.truncated,
            size: h.size,
            resume: h.resume,
        }
    }
}

impl<'a> From<&Fields<'a>> for Fields<'a> {
    fn from(f: &Fields<'a>) -> Self {
        *f
    }
}

/// `s` cut to at most `cap` bytes at a char boundary (what
/// [`short_string`] keeps).
pub(super) fn cut(s: &str, cap: usize) -> &str {
    if s.len() <= cap {
        return s;
    }
    let mut end = cap;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    extern crate std;
    use proptest::prelude::*;
    use std::string::String;
    use std::vec;

    use super::*;

    fn text() -> impl Strategy<Value = Option<String>> {
        // Up to twice the largest capacity, multi-byte characters
        // included, so the cut lands inside a character too.
        prop::option::of(prop_oneof![
            "[a-z\"\\\\\n]{0,40}",
            "\\PC{0,700}",
            "[é€😀a]{0,1100}",
        ])
    }

    proptest! {
        /// The oracle is the way replies were written before `Fields`:
        /// copied into a `Header` (`short_string` cuts what is too long),
        /// then written. Same bytes, and they parse back to that header.
        #[test]
        fn fields_write_what_their_header_writes(
            s in (text(), text(), text(), text(), text(), text()),
            n in any::<(u64, Option<u64>, Option<i32>, Option<bool>)>(),
            cap in 0usize..4096,
        ) {
            let f = Fields {
                op: s.0.as_deref(),
                filename: s.1.as_deref(),
                status: s.2.as_deref(),
                error: s.3.as_deref(),
                token: s.4.as_deref(),
                nonce: s.5.as_deref(),
                total_size: n.0,
                offset: n.1,
                exit_code: n.2,
                force: n.3,
                ..Fields::default()
            };
            let h = f.to_header();
            let (mut a, mut b) = (vec![0u8; cap], vec![0u8; cap]);
            let (x, y) = (f.emit(&mut a), h.emit(&mut b));
            prop_assert_eq!(x, y);
            if let Ok(len) = x {
                prop_assert_eq!(&a[..len], &b[..len]);
                prop_assert_eq!(Header::parse(&a[..len], true).unwrap(), h);
            }
        }
    }

    #[test]
    fn cut_keeps_whole_characters() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abc", 2), "ab");
        // "é" is two bytes: a cut at 1 drops it whole.
        assert_eq!(cut("é", 1), "");
        assert_eq!(cut("aé", 2), "a");
        assert_eq!(cut("", 0), "");
    }
}
