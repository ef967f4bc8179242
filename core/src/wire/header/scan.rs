//! The fast path of header parsing: one pass over the headers that wirekit
//! and the seeds actually send — a flat JSON object of known keys whose
//! strings need no unescaping and whose numbers are plain integers.
//!
//! It never decides that a header is *invalid*. Anything outside that
//! subset (escapes, unknown keys, duplicate keys, floats, nesting, control
//! characters, bytes that are not UTF-8, odd syntax) makes [`scan`] return
//! `None`, and [`super::Header::parse_into`] hands the bytes to
//! serde-json-core, which stays the reference parser and decides every
//! error. So the fast path can only agree with it, and the unit tests, the
//! property tests and the `header_parse` fuzz target check exactly that on
//! every input the scanner accepts.
//!
//! Why it exists: serde-json-core validates UTF-8 and dispatches through
//! serde's visitors once per key and per string, which made small frames
//! (a 60-byte header, a 16-byte body) cost about 140 ns each; see
//! `docs/BENCHMARKS.md`.

use serde_json_core::str::EscapedStr;

use super::WireIn;

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

impl Field {
    fn from_key(key: &[u8]) -> Option<Field> {
        Some(match key {
            b"op" => Field::Op,
            b"total_size" | b"file_size" | b"lenth" => Field::TotalSize,
            b"md5" => Field::Md5,
            b"filename" | b"file_name" => Field::Filename,
            b"offset" => Field::Offset,
            b"status" => Field::Status,
            b"error" => Field::Error,
            b"exit_code" => Field::ExitCode,
            b"token" => Field::Token,
            b"nonce" => Field::Nonce,
            b"force" => Field::Force,
            b"mtime" => Field::Mtime,
            b"truncated" => Field::Truncated,
            b"size" => Field::Size,
            b"resume" => Field::Resume,
            _ => return None,
        })
    }
}

/// Parses `json` if it is in the simple subset; `None` means "ask the
/// reference parser", never "invalid".
/// Fills `w` (which must start as `WireIn::default()`); on `None` its
/// contents are unspecified.
pub(super) fn scan<'a>(json: &'a [u8], w: &mut WireIn<'a>) -> Option<()> {
    // One validation for the whole header; every string below is sliced
    // between ASCII quotes, so on char boundaries.
    let text = core::str::from_utf8(json).ok()?;
    let mut s = Scanner { text, pos: 0 };
    w.plain = true;
    let mut seen = 0u16;
    s.skip_ws();
    s.eat(b'{')?;
    s.skip_ws();
    if s.peek() == Some(b'}') {
        s.pos += 1;
    } else {
        loop {
            let field = Field::from_key(s.plain_str()?.as_bytes())?;
            let bit = 1u16 << field as u16;
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            s.skip_ws();
            s.eat(b':')?;
            s.skip_ws();
            s.value(field, w)?;
            s.skip_ws();
            match s.next()? {
                b',' => s.skip_ws(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    s.skip_ws();
    (s.pos == json.len()).then_some(())
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
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
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

    /// A string with no escapes and no control characters.
    fn plain_str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let rest = self.text.as_bytes().get(self.pos..)?;
        let len = string_end(rest)?;
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        let s = self.text.get(self.pos..self.pos + len)?;
        self.pos += len + 1;
        Some(s)
    }

    /// Digits of a non-negative integer with no leading zero, as a u64.
    fn uint(&mut self) -> Option<u64> {
        let first = self.next()?;
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

    fn string(&mut self) -> Option<EscapedStr<'a>> {
        self.plain_str().map(EscapedStr)
    }

    fn value(&mut self, field: Field, w: &mut WireIn<'a>) -> Option<()> {
        match field {
            Field::Op => w.op = self.opt(Self::string)?,
            Field::TotalSize => w.total_size = self.uint()?,
            Field::Md5 => w.md5 = self.opt(Self::string)?,
            Field::Filename => w.filename = self.opt(Self::string)?,
            Field::Offset => w.offset = self.opt(Self::uint)?,
            Field::Status => w.status = self.opt(Self::string)?,
            Field::Error => w.error = self.opt(Self::string)?,
            Field::ExitCode => w.exit_code = self.opt(Self::int)?,
            Field::Token => w.token = self.opt(Self::string)?,
            Field::Nonce => w.nonce = self.opt(Self::string)?,
            Field::Force => w.force = self.opt(Self::boolean)?,
            Field::Mtime => w.mtime = self.opt(Self::uint)?,
            Field::Truncated => w.truncated = self.opt(Self::boolean)?,
            Field::Size => w.size = self.opt(Self::uint)?,
            Field::Resume => w.resume = self.opt(Self::boolean)?,
        }
        Some(())
    }
}

#[cfg(test)]
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
        ];
        for json in std::iter::once(&buf[..n]).chain(python_style.iter().copied()) {
            assert!(
                scan(json, &mut Default::default()).is_some(),
                "{}",
                String::from_utf8_lossy(json)
            );
            assert_agrees(json);
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
            br#"{"filename": "a\"b"}"#,
            br#"{"op": "\u0041"}"#,
            br#"{"lenth": 12, "md5": "d41d8cd98f00b204e9800998ecf8427e", "size(MB)": 0.0}"#,
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
                scan(json, &mut Default::default()).is_none(),
                "{}",
                String::from_utf8_lossy(json)
            );
            assert_agrees(json);
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
    }
}
