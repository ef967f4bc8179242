//! The header scanner: one pass over a flat JSON object of known keys
//! (the headers wirekit and the seeds send), strings left escaped for
//! [`super::unescape`], numbers as plain integers; unknown keys with a
//! string, number, `true`, `false` or `null` value are skipped (seed 000
//! sends `"size(MB)": 0.0`).
//!
//! On the host it is the fast path. Anything outside that subset (nested
//! values, duplicate keys, control characters, bytes that are not UTF-8,
//! odd syntax) is an `Err` there that [`super::Header::parse_into`] does
//! not trust: it hands the bytes to serde-json-core, which stays the
//! reference parser and decides. So the fast path can only agree with it,
//! and the unit tests, the property tests and the `header_parse` fuzz
//! target check exactly that on every input the scanner accepts.
//!
//! A firmware image built without the `json-reference` feature has no
//! serde: there the scanner is the whole parser and its `Err` is the
//! answer (`NotJson` for broken syntax, `InvalidField` for a value it
//! does not take).
//!
//! Why it exists: serde-json-core validates UTF-8 and dispatches through
//! serde's visitors once per key and per string, which made small frames
//! (a 60-byte header, a 16-byte body) cost about 140 ns each; see
//! `docs/BENCHMARKS.md`. And it costs a firmware image ~10 KiB of flash.

use super::{HeaderError, WireIn};

/// Broken JSON syntax.
const SYNTAX: HeaderError = HeaderError::NotJson;
/// A value the scanner does not take.
const FIELD: HeaderError = HeaderError::InvalidField;

/// The known keys, one bit each in the duplicate-key mask. Aliases share a
/// field, as they do for serde (which rejects `lenth` next to `total_size`).
#[derive(Clone, Copy)]
enum Field {
    Op,
    TotalSize,
    Md5,
    Filename,
    Offset,
    Status,
    Error,
    ExitCode,
    Token,
    Nonce,
    Force,
    Mtime,
    Truncated,
    Size,
    Resume,
}

/// The keys on the wire and their fields (aliases included).
const KEYS: [(&[u8], Field); 18] = [
    (b"op", Field::Op),
    (b"total_size", Field::TotalSize),
    (b"file_size", Field::TotalSize),
    (b"lenth", Field::TotalSize),
    (b"md5", Field::Md5),
    (b"filename", Field::Filename),
    (b"file_name", Field::Filename),
    (b"offset", Field::Offset),
    (b"status", Field::Status),
    (b"error", Field::Error),
    (b"exit_code", Field::ExitCode),
    (b"token", Field::Token),
    (b"nonce", Field::Nonce),
    (b"force", Field::Force),
    (b"mtime", Field::Mtime),
    (b"truncated", Field::Truncated),
    (b"size", Field::Size),
    (b"resume", Field::Resume),
];

impl Field {
    /// The field of a key as it is on the wire (escapes included: serde
    /// compares raw keys too, so `"o\u0070"` is an unknown key). A table
    /// walk rather than a `match`: the match compiled to ~1 KiB of byte
    /// comparisons in a firmware image; most keys differ in length, so the
    /// walk costs a few compares.
    fn from_key(key: &[u8]) -> Option<Field> {
        KEYS.iter().find(|(k, _)| *k == key).map(|&(_, f)| f)
    }
}

/// Parses `json` into `w` (which must start as `WireIn::default()`); on
/// `Err` its contents are unspecified.
// Out of line: inlined into `Header::parse_into` at opt-level "z" it made
// the firmware image 300 B larger.
#[inline(never)]
pub(super) fn scan<'a>(json: &'a [u8], w: &mut WireIn<'a>) -> Result<(), HeaderError> {
    // One validation for the whole header; every string below is sliced
    // between ASCII quotes, so on char boundaries.
    let text = core::str::from_utf8(json).map_err(|_| SYNTAX)?;
    let mut s = Scanner {
        text,
        pos: 0,
        plain: true,
    };
    let mut seen = 0u16;
    s.skip_ws();
    s.eat(b'{')?;
    s.skip_ws();
    if s.peek() == Some(b'}') {
        s.pos += 1;
    } else {
        loop {
            let key = s.string()?;
            s.skip_ws();
            s.eat(b':')?;
            s.skip_ws();
            match Field::from_key(key.as_bytes()) {
                Some(field) => {
                    let bit = 1u16 << field as u16;
                    if seen & bit != 0 {
                        return Err(FIELD);
                    }
                    seen |= bit;
                    s.value(field, w).ok_or(FIELD)?;
                }
                None => s.skip_value()?,
            }
            s.skip_ws();
            match s.next()? {
                b',' => s.skip_ws(),
                b'}' => break,
                _ => return Err(SYNTAX),
            }
        }
    }
    s.skip_ws();
    w.plain = s.plain;
    if s.pos == json.len() {
        Ok(())
    } else {
        Err(SYNTAX)
    }
}

/// Index of the first `"`, `\\` or control byte in `bytes`. Strings are
/// most of a header, so whole 8-byte words without such a byte are
/// skipped at once (the usual SWAR zero-byte test, in safe code).
fn string_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Non-zero iff some byte of `x` is below `n` (n <= 0x80).
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGHS;
    let mut words = bytes.chunks_exact(8);
    let mut skipped = 0;
    for word in words.by_ref() {
        let x = u64::from_ne_bytes(word.try_into().ok()?);
        let hit = below(x ^ (ONES * u64::from(b'"')), 1)
            | below(x ^ (ONES * u64::from(b'\\')), 1)
            | below(x, 0x20);
        if hit != 0 {
            break;
        }
        skipped += 8;
    }
    let at = bytes
        .get(skipped..)?
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    Some(skipped + at)
}

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    /// No string so far held an escape.
    plain: bool,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn next(&mut self) -> Result<u8, HeaderError> {
        let b = self.peek().ok_or(SYNTAX)?;
        self.pos += 1;
        Ok(b)
    }

    fn eat(&mut self, want: u8) -> Result<(), HeaderError> {
        if self.next()? == want {
            Ok(())
        } else {
            Err(SYNTAX)
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.pos += 1;
        }
    }

    /// A literal such as `null` or `true`; what follows is checked by the
    /// caller (a `,` or `}` after optional whitespace).
    fn word(&mut self, word: &[u8]) -> bool {
        let rest = self.text.as_bytes().get(self.pos..).unwrap_or_default();
        let hit = rest.starts_with(word);
        if hit {
            self.pos += word.len();
        }
        hit
    }

    /// A string's body between its quotes, escapes left in (a backslash
    /// and the byte after it are skipped, as serde-json-core finds the
    /// closing quote); a control byte is an error.
    fn string(&mut self) -> Result<&'a str, HeaderError> {
        self.eat(b'"')?;
        let start = self.pos;
        let bytes = self.text.as_bytes();
        loop {
            let rest = bytes.get(self.pos..).unwrap_or_default();
            let len = string_end(rest).ok_or(SYNTAX)?;
            self.pos += len + 1;
            match rest.get(len) {
                Some(b'"') => break,
                Some(b'\\') if rest.get(len + 1).is_some_and(|&b| b >= 0x20) => {
                    self.plain = false;
                    self.pos += 1;
                }
                _ => return Err(FIELD),
            }
        }
        self.text.get(start..self.pos - 1).ok_or(FIELD)
    }

    /// The value of an unknown key: a string, a number or a literal. A
    /// nested array or object is not taken.
    fn skip_value(&mut self) -> Result<(), HeaderError> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'-' | b'0'..=b'9') => self.number().ok_or(FIELD),
            _ if self.word(b"true") || self.word(b"false") || self.word(b"null") => Ok(()),
            _ => Err(FIELD),
        }
    }

    /// A JSON number, grammar checked: `-?int(.digits)?([eE][+-]?digits)?`.
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        if self.peek() == Some(b'0') {
            self.pos += 1;
        } else {
            self.digits()?;
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.digits()?;
        }
        Some(())
    }

    /// One or more decimal digits.
    fn digits(&mut self) -> Option<()> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        (self.pos > start).then_some(())
    }

    /// Digits of a non-negative integer with no leading zero, as a u64.
    fn uint(&mut self) -> Option<u64> {
        let first = self.next().ok()?;
        let mut n = u64::from(first.checked_sub(b'0').filter(|d| *d <= 9)?);
        if n == 0 {
            return Some(0);
        }
        while let Some(d) = self.peek().and_then(|b| b.checked_sub(b'0')) {
            if d > 9 {
                break;
            }
            n = n.checked_mul(10)?.checked_add(u64::from(d))?;
            self.pos += 1;
        }
        Some(n)
    }

    fn int(&mut self) -> Option<i32> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let n = i64::try_from(self.uint()?).ok()?;
        i32::try_from(if negative { -n } else { n }).ok()
    }

    fn boolean(&mut self) -> Option<bool> {
        if self.word(b"true") {
            Some(true)
        } else if self.word(b"false") {
            Some(false)
        } else {
            None
        }
    }

    /// `null` or a value read by `read`.
    fn opt<T>(&mut self, read: fn(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.word(b"null") {
            Some(None)
        } else {
            read(self).map(Some)
        }
    }

    fn text(&mut self) -> Option<&'a str> {
        self.string().ok()
    }

    fn value(&mut self, field: Field, w: &mut WireIn<'a>) -> Option<()> {
        match field {
            Field::Op => w.op = self.opt(Self::text)?,
            Field::TotalSize => w.total_size = self.uint()?,
            Field::Md5 => w.md5 = self.opt(Self::text)?,
            Field::Filename => w.filename = self.opt(Self::text)?,
            Field::Offset => w.offset = self.opt(Self::uint)?,
            Field::Status => w.status = self.opt(Self::text)?,
            Field::Error => w.error = self.opt(Self::text)?,
            Field::ExitCode => w.exit_code = self.opt(Self::int)?,
            Field::Token => w.token = self.opt(Self::text)?,
            Field::Nonce => w.nonce = self.opt(Self::text)?,
            Field::Force => w.force = self.opt(Self::boolean)?,
            Field::Mtime => w.mtime = self.opt(Self::uint)?,
            Field::Truncated => w.truncated = self.opt(Self::boolean)?,
            Field::Size => w.size = self.opt(Self::uint)?,
            Field::Resume => w.resume = self.opt(Self::boolean)?,
        }
        Some(())
    }
}

// The tests hold the scanner to the reference parser.
#[cfg(all(test, feature = "json-reference"))]
mod tests {
    extern crate std;
    use proptest::prelude::*;
    use std::string::{String, ToString};
    use std::vec::Vec;
    use std::{format, vec};

    use super::scan;
    use crate::wire::{Digest, Header};

    /// Both entry points, both md5 modes: the fast path must never change
    /// an outcome, error or not.
    fn assert_agrees(json: &[u8]) {
        for strict in [true, false] {
            assert_eq!(
                Header::parse(json, strict),
                Header::parse_reference(json, strict),
                "{}",
                String::from_utf8_lossy(json)
            );
        }
    }

    #[test]
    fn takes_the_headers_wirekit_and_the_seeds_send() {
        let mut h = Header::with_op("stdout");
        h.total_size = 16;
        h.md5 = Some(Digest::of(b"x"));
        h.filename = crate::wire::short_string("报告 2026.txt");
        h.exit_code = Some(-2_147_483_648);
        h.force = Some(false);
        h.mtime = Some(u64::MAX);
        let mut buf = [0u8; 512];
        let n = h.emit(&mut buf).unwrap();
        let python_style: &[&[u8]] = &[
            br#"{"filename": "a.txt", "total_size": 401, "md5": "0cc175b9c0f1b6a831c399e269772661"}"#,
            br#"{"file_name": "a.txt", "file_size": 7, "md5": null}"#,
            br#"{"op": "exit", "exit_code": 0, "truncated": true, "size": 0}"#,
            b" {\n\t\"offset\" : 5 ,\r\n \"resume\":false } \n",
            b"{}",
            b"{ }",
            // json.dumps escapes quotes, and everything beyond ASCII.
            br#"{"filename": "a\"b", "op": "\u0041\u4f60\ud83d\ude00"}"#,
            // Seed 000: an unknown key with a float, and other unknown values.
            br#"{"lenth": 12, "md5": "d41d8cd98f00b204e9800998ecf8427e", "size(MB)": 0.0}"#,
            br#"{"x": "\"", "o\u0070": -1.5e+3, "y": true, "z": null, "w": false, "v": 0}"#,
        ];
        for json in std::iter::once(&buf[..n]).chain(python_style.iter().copied()) {
            assert!(
                scan(json, &mut Default::default()).is_ok(),
                "{}",
                String::from_utf8_lossy(json)
            );
            assert_agrees(json);
            for strict in [true, false] {
                assert_eq!(
                    Header::parse_scanner_only(json, strict),
                    Header::parse(json, strict)
                );
            }
        }
        assert_eq!(Header::parse(&buf[..n], true).unwrap(), h);
    }

    #[test]
    fn string_end_finds_the_first_special_byte_in_any_word_position() {
        use super::string_end;
        for len in 0..40 {
            for special in [b'"', b'\\', 0x00, 0x1f] {
                let mut bytes = vec![b'a'; len];
                bytes.extend_from_slice(&[0xe4, 0xbd, 0xa0]);
                bytes.push(special);
                bytes.extend_from_slice(b"\"x");
                assert_eq!(string_end(&bytes), Some(len + 3), "{len} {special}");
            }
            assert_eq!(string_end(&vec![b' '; len]), None);
        }
    }

    #[test]
    fn leaves_everything_else_to_the_reference_parser() {
        let others: &[&[u8]] = &[
            br#"{"op": "a", "op": "b"}"#,
            br#"{"op": null, "op": "b"}"#,
            br#"{"total_size": 1, "lenth": 2}"#,
            br#"{"total_size": 1.5}"#,
            br#"{"total_size": 007}"#,
            br#"{"total_size": -1}"#,
            br#"{"total_size": null}"#,
            br#"{"total_size": 18446744073709551616}"#,
            br#"{"exit_code": 2147483648}"#,
            br#"{"exit_code": -}"#,
            br#"{"force": truex}"#,
            br#"{"force": 1}"#,
            br#"{"op": ["a"]}"#,
            br#"{"x": ["a"]}"#,
            br#"{"x": {}}"#,
            br#"{"x": 1.}"#,
            br#"{"x": 01}"#,
            br#"{"x": -}"#,
            br#"{"x": 1e}"#,
            br#"{"x": nul}"#,
            br#"{"x": "a\"}"#,
            br#"{"op" "a"}"#,
            br#"{"op": "a",}"#,
            br#"{"op": "a"} x"#,
            br#"{"op": "a""#,
            b"{\"op\": \"a\tb\"}",
            b"{\"op\": \"\xff\"}",
            b"[1]",
            b"",
        ];
        for json in others {
            assert!(
                scan(json, &mut Default::default()).is_err(),
                "{}",
                String::from_utf8_lossy(json)
            );
            assert_agrees(json);
            // Without the reference parser (firmware) it is an error.
            assert!(Header::parse_scanner_only(json, false).is_err());
        }
    }

    fn key() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "op",
            "total_size",
            "file_size",
            "lenth",
            "md5",
            "filename",
            "file_name",
            "offset",
            "status",
            "error",
            "exit_code",
            "token",
            "nonce",
            "force",
            "mtime",
            "truncated",
            "size",
            "resume",
            "size(MB)",
            "o\\u0070",
        ])
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9 ./]{0,20}".prop_map(|s| format!("\"{s}\"")),
            "[0-9a-f]{32}".prop_map(|s| format!("\"{s}\"")),
            "\\PC{0,8}".prop_map(|s| format!("\"{s}\"")),
            "\\PC{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap()),
            any::<u64>().prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            "-?[0-9]{1,21}(\\.[0-9])?",
            prop::sample::select(vec!["true", "false", "null", "[]", "{}", "1e3"])
                .prop_map(String::from),
        ]
    }

    /// Header-like JSON: mostly well formed, with a random byte sometimes
    /// overwritten, so both paths see valid and broken inputs.
    fn header_like() -> impl Strategy<Value = Vec<u8>> {
        let ws = prop::sample::select(vec!["", "", " ", "\n", "\t "]);
        let member = (key(), ws.clone(), value(), ws.clone());
        let mutation = prop::option::of((any::<prop::sample::Index>(), any::<u8>()));
        (prop::collection::vec(member, 0..6), ws, mutation).prop_map(|(members, ws, mutation)| {
            let body: Vec<String> = members
                .iter()
                .map(|(k, w1, v, w2)| format!("{w1}\"{k}\"{w2}:{w1}{v}{w2}"))
                .collect();
            let mut json = format!("{ws}{{{}}}{ws}", body.join(",")).into_bytes();
            if let Some((at, byte)) = mutation {
                let i = at.index(json.len());
                json[i] = byte;
            }
            json
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn fast_path_agrees_with_serde_json_core(json in header_like()) {
            assert_agrees(&json);
        }

        #[test]
        fn random_bytes_agree_too(json in prop::collection::vec(any::<u8>(), 0..64)) {
            assert_agrees(&json);
        }

        /// The firmware's parser (the scanner alone) never panics, and
        /// whatever it accepts, it reads as the reference parser does.
        #[test]
        fn scanner_alone_only_accepts_what_the_reference_reads_alike(json in header_like()) {
            for strict in [true, false] {
                if let Ok(h) = Header::parse_scanner_only(&json, strict) {
                    prop_assert_eq!(Ok(h), Header::parse_reference(&json, strict));
                }
            }
        }
    }
}
