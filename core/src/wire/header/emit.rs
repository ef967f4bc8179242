//! Writing a header ([`Fields`], which a [`Header`] lends) as compact JSON
//! without serde: the known fields in a fixed order, `None` fields left
//! out, strings escaped and cut to the capacity a [`Header`] keeps.
//!
//! The bytes are exactly those serde-json-core's `to_slice` wrote for the
//! same header (the tests hold it to that, serde-json-core as oracle), so
//! the host and the firmware send the same frames; the firmware just links
//! no serde code and no `core::fmt` for it.

use super::fields::{cut, Fields};
use super::{HeaderError, NAME_CAP, SECRET_CAP, TEXT_CAP, WORD_CAP};
use crate::decimal::Decimal;

/// A cursor over the caller's buffer; every write is bounds-checked and
/// reports [`HeaderError::BufferTooSmall`] instead of panicking.
struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Out<'_> {
    fn bytes(&mut self, b: &[u8]) -> Result<(), HeaderError> {
        let limit = self.buf.len();
        let end = self.len + b.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(HeaderError::BufferTooSmall { limit })?
            .copy_from_slice(b);
        self.len = end;
        Ok(())
    }

    /// `"key":`, after a comma unless it is the first member.
    fn key(&mut self, key: &str) -> Result<(), HeaderError> {
        if self.len > 1 {
            self.bytes(b",")?;
        }
        self.bytes(b"\"")?;
        self.bytes(key.as_bytes())?;
        self.bytes(b"\":")
    }

    fn uint(&mut self, key: &str, n: Option<u64>) -> Result<(), HeaderError> {
        match n {
            Some(n) => {
                self.key(key)?;
                self.bytes(Decimal::unsigned(n).as_bytes())
            }
            None => Ok(()),
        }
    }

    fn boolean(&mut self, key: &str, b: Option<bool>) -> Result<(), HeaderError> {
        match b {
            Some(b) => {
                self.key(key)?;
                self.bytes(if b { b"true" } else { b"false" })
            }
            None => Ok(()),
        }
    }

    /// A string member, cut to `cap` bytes as a [`super::Header`] would
    /// keep it (so what is written parses back).
    fn string(&mut self, key: &str, s: Option<&str>, cap: usize) -> Result<(), HeaderError> {
        let Some(s) = s else { return Ok(()) };
        self.key(key)?;
        self.bytes(b"\"")?;
        self.escaped(cut(s, cap).as_bytes())?;
        self.bytes(b"\"")
    }

    /// A JSON string body as serde-json-core escapes it: `"` and `\`, the
    /// short forms `\b \t \n \f \r`, other C0 controls as `\u00XX` (upper
    /// case hex); everything else, DEL and non-ASCII included, as it is.
    fn escaped(&mut self, s: &[u8]) -> Result<(), HeaderError> {
        let mut rest = s;
        while let Some(at) = rest
            .iter()
            .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        {
            let (plain, tail) = rest.split_at(at);
            self.bytes(plain)?;
            let Some((&b, tail)) = tail.split_first() else {
                break;
            };
            match b {
                b'"' => self.bytes(b"\\\"")?,
                b'\\' => self.bytes(b"\\\\")?,
                0x08 => self.bytes(b"\\b")?,
                b'\t' => self.bytes(b"\\t")?,
                b'\n' => self.bytes(b"\\n")?,
                0x0c => self.bytes(b"\\f")?,
                b'\r' => self.bytes(b"\\r")?,
                _ => {
                    const HEX: &[u8; 16] = b"0123456789ABCDEF";
                    let hex = |n: u8| HEX.get(usize::from(n & 15)).copied().unwrap_or(b'0');
                    self.bytes(&[b'\\', b'u', b'0', b'0', hex(b >> 4), hex(b)])?;
                }
            }
            rest = tail;
        }
        self.bytes(rest)
    }
}

/// Writes `h` into `out`, returning the length.
// Never inlined: one copy for every caller.
#[inline(never)]
pub(super) fn emit(h: &Fields<'_>, out: &mut [u8]) -> Result<usize, HeaderError> {
    let mut o = Out { buf: out, len: 0 };
    o.bytes(b"{")?;
    o.string("op", h.op, WORD_CAP)?;
    o.uint("total_size", Some(h.total_size))?;
    if let Some(d) = h.md5 {
        // Hex digits: nothing to escape.
        o.key("md5")?;
        o.bytes(b"\"")?;
        o.bytes(&d.to_hex())?;
        o.bytes(b"\"")?;
    }
    o.string("filename", h.filename, NAME_CAP)?;
    o.uint("offset", h.offset)?;
    o.string("status", h.status, WORD_CAP)?;
    o.string("error", h.error, TEXT_CAP)?;
    if let Some(code) = h.exit_code {
        o.key("exit_code")?;
        o.bytes(Decimal::signed(i64::from(code)).as_bytes())?;
    }
    o.string("token", h.token, SECRET_CAP)?;
    o.string("nonce", h.nonce, SECRET_CAP)?;
    o.boolean("force", h.force)?;
    o.uint("mtime", h.mtime)?;
    o.boolean("truncated", h.truncated)?;
    o.uint("size", h.size)?;
    o.boolean("resume", h.resume)?;
    o.bytes(b"}")?;
    Ok(o.len)
}

#[cfg(all(test, feature = "json-reference"))]
mod tests {
    extern crate std;
    use proptest::prelude::*;
    use serde::Serialize;
    use std::vec;

    use super::super::{short_string, Fields, Header};
    use super::HeaderError;
    use crate::wire::Digest;

    /// What `Header::emit` serialized with serde-json-core before it had
    /// its own writer: the oracle.
    #[derive(Serialize)]
    struct WireOut<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        op: Option<&'a str>,
        total_size: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        md5: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        filename: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        offset: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        token: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        nonce: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        force: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        mtime: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        truncated: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        resume: Option<bool>,
    }

    fn serde_emit(h: &Header, out: &mut [u8]) -> Result<usize, HeaderError> {
        // Through `Fields`, the writer's input: a plain copy of the
        // header's members.
        let f = Fields::from(h);
        let hex = f.md5.map(|d| d.to_hex());
        let w = WireOut {
            op: f.op,
            total_size: f.total_size,
            md5: hex.as_ref().map(|x| core::str::from_utf8(x).unwrap()),
            filename: f.filename,
            offset: f.offset,
            status: f.status,
            error: f.error,
            exit_code: f.exit_code,
            token: f.token,
            nonce: f.nonce,
            force: f.force,
            mtime: f.mtime,
            truncated: f.truncated,
            size: f.size,
            resume: f.resume,
        };
        serde_json_core::to_slice(&w, out)
            .map_err(|_| HeaderError::BufferTooSmall { limit: out.len() })
    }

    fn text() -> impl Strategy<Value = Option<std::string::String>> {
        prop::option::of(prop_oneof![
            "[a-z0-9 ./]{0,12}",
            "\\PC{0,12}",
            ".{0,12}",
            prop::collection::vec(0u8..0x80, 0..12)
                .prop_map(|b| std::string::String::from_utf8(b).unwrap()),
        ])
    }

    fn any_header() -> impl Strategy<Value = Header> {
        let strings = (text(), text(), text(), text(), text(), text());
        let numbers = (
            any::<u64>(),
            any::<Option<u64>>(),
            any::<Option<i32>>(),
            any::<Option<u64>>(),
            any::<Option<u64>>(),
            any::<Option<[u8; 16]>>(),
        );
        let flags = any::<(Option<bool>, Option<bool>, Option<bool>)>();
        (strings, numbers, flags).prop_map(|(s, n, f)| Header {
            op: s.0.as_deref().and_then(short_string),
            filename: s.1.as_deref().and_then(short_string),
            status: s.2.as_deref().and_then(short_string),
            error: s.3.as_deref().and_then(short_string),
            token: s.4.as_deref().and_then(short_string),
            nonce: s.5.as_deref().and_then(short_string),
            total_size: n.0,
            offset: n.1,
            exit_code: n.2,
            mtime: n.3,
            size: n.4,
            md5: n.5.map(Digest),
            md5_malformed: false,
            force: f.0,
            truncated: f.1,
            resume: f.2,
        })
    }

    #[test]
    fn escapes_like_serde_json_core() {
        let mut h = Header::with_op("a\"\\\u{8}\t\n\u{c}\r\u{0}\u{1f}\u{7f}é");
        h.exit_code = Some(i32::MIN);
        let (mut a, mut b) = ([0u8; 128], [0u8; 128]);
        let n = h.emit(&mut a).unwrap();
        let m = serde_emit(&h, &mut b).unwrap();
        assert_eq!(&a[..n], &b[..m]);
        let want = "{\"op\":\"a\\\"\\\\\\b\\t\\n\\f\\r\\u0000\\u001F\u{7f}é\",\
                    \"total_size\":0,\"exit_code\":-2147483648}";
        assert_eq!(core::str::from_utf8(&a[..n]).unwrap(), want);
    }

    proptest! {
        #[test]
        fn any_header_is_byte_identical_to_serde(h in any_header(), cap in 0usize..700) {
            let (mut mine, mut theirs) = (vec![0u8; cap], vec![0u8; cap]);
            let (a, b) = (h.emit(&mut mine), serde_emit(&h, &mut theirs));
            prop_assert_eq!(a, b);
            if let Ok(n) = a {
                prop_assert_eq!(&mine[..n], &theirs[..n]);
                prop_assert_eq!(&Header::parse(&mine[..n], true).unwrap(), &h);
                prop_assert_eq!(&Header::parse_scanner_only(&mine[..n], true).unwrap(), &h);
            }
        }
    }
}
