//! The JSON header of a frame: its parsed representation ([`Header`]), how
//! it is read from bytes ([`Header::parse`]) and written ([`Header::emit`],
//! or [`Fields::emit`] for a header whose strings are borrowed).
//!
//! One struct serves every service: fields a service does not use stay
//! `None`, and unknown keys on the wire are ignored, so the seeds' headers
//! (`{"filename", "total_size", "md5"}`, seed 002's `file_name`/`file_size`,
//! seed 000's `lenth` and `size(MB)`) all parse into it.

use heapless::string::StringView;
use heapless::String;

use super::digest::Digest;
pub use fields::Fields;

mod emit;
mod fields;
#[cfg(feature = "json-reference")]
mod reference;
mod scan;
mod unescape;

/// Capacity of [`Header::filename`] in bytes (after JSON unescaping).
pub const NAME_CAP: usize = 512;
/// Capacity of [`Header::error`] in bytes.
pub const TEXT_CAP: usize = 256;
/// Capacity of [`Header::op`] and [`Header::status`] in bytes.
pub const WORD_CAP: usize = 16;
/// Capacity of [`Header::token`] and [`Header::nonce`] in bytes.
pub const SECRET_CAP: usize = 128;

/// A parsed frame header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// What the frame is (`get`, `put`, `stdout`, `exit`, …); service-defined.
    pub op: Option<String<WORD_CAP>>,
    /// Body length in bytes; wire aliases `file_size` (seed 002) and
    /// `lenth` (seed 000). Absent means 0.
    pub total_size: u64,
    /// MD5 of the body, if the sender gave one.
    pub md5: Option<Digest>,
    /// True when the sender gave an `md5` that is not 32 hex digits (the
    /// seed 001 server sends a placeholder); only accepted when the
    /// decoder is lenient, see [`crate::codec::frame::Limits::strict_md5`].
    pub md5_malformed: bool,
    /// A file name; wire alias `file_name` (seed 002).
    pub filename: Option<String<NAME_CAP>>,
    /// A byte offset (resumed transfers).
    pub offset: Option<u64>,
    /// Outcome word of a reply (`ok`, `error`, …).
    pub status: Option<String<WORD_CAP>>,
    /// Human-readable error message of a reply.
    pub error: Option<String<TEXT_CAP>>,
    /// Exit code of a remote command.
    pub exit_code: Option<i32>,
    /// Authentication proof (never a secret in clear).
    pub token: Option<String<SECRET_CAP>>,
    /// Server challenge for authentication.
    pub nonce: Option<String<SECRET_CAP>>,
    /// Overwrite an existing file.
    pub force: Option<bool>,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: Option<u64>,
    /// Output was cut at a limit.
    pub truncated: Option<bool>,
    /// Size of a whole file in bytes, when the frame's body (if any) is
    /// only part of it or absent (file transfer `get`/`put`/`stat`).
    pub size: Option<u64>,
    /// Ask to continue an interrupted transfer (file transfer `put`).
    pub resume: Option<bool>,
}

/// Why a header could not be parsed or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// The bytes are not a JSON object.
    NotJson,
    /// A field has the wrong type, a negative or out-of-range number, a
    /// duplicate key, or a string longer than its capacity.
    InvalidField,
    /// A string value (after unescaping) is longer than the unescape
    /// buffer, [`NAME_CAP`] bytes.
    StringTooLong {
        /// The limit that was hit.
        limit: usize,
    },
    /// `md5` is present but not 32 hex digits (strict mode).
    InvalidMd5,
    /// The output buffer is too small to hold the emitted header.
    BufferTooSmall {
        /// The buffer capacity.
        limit: usize,
    },
}

impl core::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.write_text(f)
    }
}

impl HeaderError {
    /// The `Display` text, written piece by piece: the files session
    /// sends it in refusals, and a firmware image should not link
    /// `core::fmt`'s machinery for that.
    pub(crate) fn write_text(&self, w: &mut (impl core::fmt::Write + ?Sized)) -> core::fmt::Result {
        use crate::decimal::write_unsigned;
        match *self {
            Self::NotJson => w.write_str("header is not a JSON object"),
            Self::InvalidField => w.write_str("header has an invalid field"),
            Self::StringTooLong { limit } => {
                w.write_str("header string longer than ")?;
                write_unsigned(w, limit as u64)?;
                w.write_str(" bytes")
            }
            Self::InvalidMd5 => w.write_str("header md5 is not 32 hex digits"),
            Self::BufferTooSmall { limit } => {
                w.write_str("header does not fit in ")?;
                write_unsigned(w, limit as u64)?;
                w.write_str(" bytes")
            }
        }
    }
}

impl core::error::Error for HeaderError {}

/// The wire shape. Strings stay borrowed and escaped (JSON string bodies
/// between their quotes) until they are copied into the [`Header`]'s
/// bounded strings, so parsing allocates nothing, needs no scratch buffer
/// and moves no large structs.
#[derive(Default)]
struct WireIn<'a> {
    op: Option<&'a str>,
    total_size: u64,
    md5: Option<&'a str>,
    filename: Option<&'a str>,
    offset: Option<u64>,
    status: Option<&'a str>,
    error: Option<&'a str>,
    exit_code: Option<i32>,
    token: Option<&'a str>,
    nonce: Option<&'a str>,
    force: Option<bool>,
    mtime: Option<u64>,
    truncated: Option<bool>,
    size: Option<u64>,
    resume: Option<bool>,
    /// No string holds an escape, so strings are copied as they are.
    plain: bool,
}

impl Header {
    /// A header with `op` set and everything else empty.
    // Always inlined, so the ~1.2 KiB header is built in its caller's
    // slot: out of line (as opt-level "z" chose once the serde code was
    // gone) every reply was built in a temporary and copied, two headers
    // on a board's stack at once (see `with_status` in the native files
    // protocol).
    #[inline(always)]
    pub fn with_op(op: &str) -> Header {
        Header {
            op: short_string(op),
            ..Header::default()
        }
    }

    /// Parses a JSON header. Escaped strings are unescaped (surrogate
    /// pairs included, as Python's `json.dumps` writes non-BMP characters);
    /// unknown keys are ignored. With `strict_md5`, an `md5` that is not 32
    /// hex digits is an error; otherwise it sets [`Header::md5_malformed`].
    pub fn parse(json: &[u8], strict_md5: bool) -> Result<Header, HeaderError> {
        let mut h = Header::default();
        h.parse_into(json, strict_md5)?;
        Ok(h)
    }

    /// Like [`Header::parse`], reusing `self` (the decoder's hot path:
    /// no large struct is built and moved per frame). After an error the
    /// contents of `self` are unspecified (but valid).
    ///
    /// With the `json-reference` feature (the default) a header outside
    /// the scanner's subset (nested values in unknown keys, duplicate keys,
    /// ...) goes to serde-json-core, which decides it; without it (firmware
    /// images) the scanner's error is the answer.
    pub fn parse_into(&mut self, json: &[u8], strict_md5: bool) -> Result<(), HeaderError> {
        let mut wire = WireIn::default();
        #[cfg(feature = "json-reference")]
        if scan::scan(json, &mut wire).is_err() {
            wire = reference::wire(json)?;
        }
        #[cfg(not(feature = "json-reference"))]
        scan::scan(json, &mut wire)?;
        self.fill(wire, strict_md5)
    }

    /// Parses with serde-json-core alone, skipping the fast path that
    /// [`Header::parse`] tries first. Slower; it exists so tests and fuzz
    /// targets can check that both paths agree on every input; hidden, and
    /// only there with the `test-api` feature.
    #[cfg(all(feature = "json-reference", any(test, feature = "test-api")))]
    #[doc(hidden)]
    pub fn parse_reference(json: &[u8], strict_md5: bool) -> Result<Header, HeaderError> {
        let mut h = Header::default();
        h.fill(reference::wire(json)?, strict_md5)?;
        Ok(h)
    }

    /// Parses with the scanner alone, as a firmware image built without
    /// the `json-reference` feature does. Hidden, for tests and fuzz
    /// targets only (`test-api`).
    #[cfg(any(test, feature = "test-api"))]
    #[doc(hidden)]
    pub fn parse_scanner_only(json: &[u8], strict_md5: bool) -> Result<Header, HeaderError> {
        let mut wire = WireIn::default();
        scan::scan(json, &mut wire)?;
        let mut h = Header::default();
        h.fill(wire, strict_md5)?;
        Ok(h)
    }

    /// Moves a parsed wire shape into `self`, unescaping its strings.
    // Out of line, like `scan::scan`: smaller firmware images.
    #[inline(never)]
    fn fill(&mut self, w: WireIn<'_>, strict_md5: bool) -> Result<(), HeaderError> {
        self.total_size = w.total_size;
        self.offset = w.offset;
        self.exit_code = w.exit_code;
        self.force = w.force;
        self.mtime = w.mtime;
        self.truncated = w.truncated;
        self.size = w.size;
        self.resume = w.resume;
        (self.md5, self.md5_malformed) = (None, false);
        if let Some(raw) = w.md5 {
            match Digest::from_hex(raw.as_bytes()) {
                Some(d) => self.md5 = Some(d),
                None if strict_md5 => return Err(HeaderError::InvalidMd5),
                None => self.md5_malformed = true,
            }
        }
        let plain = w.plain;
        set(&mut self.op, w.op, plain)?;
        set(&mut self.filename, w.filename, plain)?;
        set(&mut self.status, w.status, plain)?;
        set(&mut self.error, w.error, plain)?;
        set(&mut self.token, w.token, plain)?;
        set(&mut self.nonce, w.nonce, plain)
    }

    /// Writes the header as compact JSON into `out`, returning its length.
    /// `total_size` is always written; `None` fields are left out.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, HeaderError> {
        emit::emit(&Fields::from(self), out)
    }

    /// True if `op` equals `word`.
    pub fn is_op(&self, word: &str) -> bool {
        self.op.as_deref() == Some(word)
    }
}

/// Copies `s` into a bounded string, cutting at a char boundary if needed
/// (for messages, where a shortened text beats an error).
pub fn short_string<const N: usize>(s: &str) -> Option<String<N>> {
    let mut out = String::new();
    for c in s.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    Some(out)
}

/// Unescapes `raw` into `slot`, reusing the slot's string; `plain` says
/// `raw` holds no escape.
fn set<const N: usize>(
    slot: &mut Option<String<N>>,
    raw: Option<&str>,
    plain: bool,
) -> Result<(), HeaderError> {
    let Some(raw) = raw else {
        *slot = None;
        return Ok(());
    };
    let out = slot.get_or_insert_with(String::new).as_mut_view();
    out.clear();
    copy_str(out, raw, plain)
}

/// `set`'s work, once for every capacity (a view, not a `String<N>`): the
/// firmware images keep one copy instead of four.
fn copy_str(out: &mut StringView, raw: &str, plain: bool) -> Result<(), HeaderError> {
    if plain {
        out.push_str(raw).map_err(|_| HeaderError::StringTooLong {
            limit: out.capacity(),
        })
    } else {
        unescape::unescape(raw, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_headers() {
        let h = Header::parse(
            br#"{"filename": "a.txt", "total_size": 401, "md5": "12387459560yhsdjsncvnchfuuiokwjdndb"}"#,
            false,
        )
        .unwrap();
        assert_eq!(h.filename.as_deref(), Some("a.txt"));
        assert_eq!(h.total_size, 401);
        assert!(h.md5_malformed && h.md5.is_none());

        let h = Header::parse(
            br#"{"lenth": 12, "md5": "d41d8cd98f00b204e9800998ecf8427e", "size(MB)": 0.0}"#,
            true,
        )
        .unwrap();
        assert_eq!(h.total_size, 12);
        assert_eq!(h.md5, Digest::from_hex(b"d41d8cd98f00b204e9800998ecf8427e"));

        let h = Header::parse(
            br#"{"file_name": "a.txt", "file_size": 7, "md5": null}"#,
            true,
        )
        .unwrap();
        assert_eq!((h.filename.as_deref(), h.total_size), (Some("a.txt"), 7));
        assert_eq!(Header::parse(b"{}", true).unwrap(), Header::default());
    }

    #[test]
    fn unescapes_strings() {
        let h = Header::parse(br#"{"filename": "\u4f60\u597d \"q\".txt"}"#, true).unwrap();
        assert_eq!(h.filename.as_deref(), Some("你好 \"q\".txt"));
        // Python: json.dumps({"filename": "😀\\/\t"})
        let h = Header::parse(br#"{"filename": "\ud83d\ude00\\\/\t"}"#, true).unwrap();
        assert_eq!(h.filename.as_deref(), Some("😀\\/\t"));
        for bad in [
            r#"{"op": "\ud83d"}"#,
            r#"{"op": "\x"}"#,
            r#"{"op": "\u12"}"#,
        ] {
            assert_eq!(
                Header::parse(bad.as_bytes(), true),
                Err(HeaderError::InvalidField),
                "{bad}"
            );
        }
        let json = br#"{"op": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#;
        assert_eq!(
            Header::parse(json, true),
            Err(HeaderError::StringTooLong { limit: WORD_CAP })
        );
    }

    #[test]
    fn rejects_bad_headers() {
        assert_eq!(Header::parse(b"not json", true), Err(HeaderError::NotJson));
        assert_eq!(
            Header::parse(br#"{"total_size": -1}"#, true),
            Err(HeaderError::InvalidField)
        );
        assert_eq!(
            Header::parse(br#"{"md5": "xyz"}"#, true),
            Err(HeaderError::InvalidMd5)
        );
        assert_eq!(
            Header::parse(br#"{"total_size": 1} x"#, true),
            Err(HeaderError::NotJson)
        );
    }

    #[test]
    fn emit_parse_round_trip() {
        let mut h = Header::with_op("put");
        h.total_size = u64::MAX;
        h.md5 = Some(Digest::of(b"abc"));
        h.filename = short_string("dir/\"名字\"\n.txt");
        h.offset = Some(5);
        h.exit_code = Some(-3);
        h.force = Some(true);
        h.size = Some(u64::MAX - 1);
        h.resume = Some(false);
        let mut buf = [0u8; 512];
        let n = h.emit(&mut buf).unwrap();
        assert_eq!(Header::parse(&buf[..n], true).unwrap(), h);
        assert!(matches!(
            h.emit(&mut buf[..10]),
            Err(HeaderError::BufferTooSmall { limit: 10 })
        ));
    }
}
