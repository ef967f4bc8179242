//! Incremental decoder for JSON-headed frames
//! (`| header_len: u32 LE | JSON header | body |`).
//!
//! Feed it any chunking of a stream — one byte at a time included — and it
//! yields the same events: [`Event::Header`], then the body as borrowed
//! [`Event::Body`] slices of the input (never copied, never buffered
//! whole), then [`Event::End`] with the MD5 verdict. Only the header is
//! buffered, in a fixed `H`-byte buffer; the body may be up to `u64::MAX`.
//!
//! ```
//! use wirekit_core::codec::frame::{Event, FrameDecoder};
//! let stream = b"\x10\x00\x00\x00{\"total_size\":5}hello";
//! let mut dec: FrameDecoder = FrameDecoder::new();
//! let mut input = &stream[..];
//! let mut body = [0u8; 5];
//! let mut got = 0;
//! loop {
//!     let (used, event) = dec.decode(input).unwrap();
//!     input = &input[used..];
//!     match event {
//!         Some(Event::Header(h)) => assert_eq!(h.total_size, 5),
//!         Some(Event::Body(b)) => { body[got..got + b.len()].copy_from_slice(b); got += b.len() }
//!         Some(Event::End(_)) => break,
//!         None => unreachable!("the stream holds a whole frame"),
//!     }
//! }
//! assert_eq!(&body, b"hello");
//! dec.finish().unwrap();
//! ```

use heapless::Vec;
use md5::{Digest as _, Md5};

use super::prefix::PrefixReader;
use crate::wire::{Digest, Header, HeaderError, PrefixError};

/// Default header buffer capacity (and default header limit): 8 KiB.
pub const DEFAULT_HEADER_CAP: usize = 8192;

/// Runtime limits of a [`FrameDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest header accepted, at most the decoder's capacity `H`.
    pub max_header: u32,
    /// Largest body accepted (`total_size`).
    pub max_body: u64,
    /// Reject an `md5` that is not 32 hex digits (default). When false,
    /// such a header parses and its frame ends with
    /// [`Md5Verdict::Unverifiable`] (the seed 001 server sends a fake md5).
    pub strict_md5: bool,
    /// Report a body whose MD5 differs from the header's as
    /// [`FrameError::Md5Mismatch`] (default) rather than only in the
    /// [`Event::End`] verdict.
    pub reject_mismatch: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header: DEFAULT_HEADER_CAP as u32,
            max_body: u64::MAX,
            strict_md5: true,
            reject_mismatch: true,
        }
    }
}

/// What a frame's body turned out to be, compared with its header's `md5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Md5Verdict {
    /// The header carried no `md5`.
    Absent,
    /// The body matches the header's digest.
    Match(Digest),
    /// The body does not match (only seen with `reject_mismatch` off).
    Mismatch {
        /// The header's digest.
        expected: Digest,
        /// The body's digest.
        actual: Digest,
    },
    /// The header's `md5` was not a digest (lenient mode).
    Unverifiable,
}

/// A step of the decoded stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A frame's header was parsed.
    Header(&'a Header),
    /// The next part of the body, borrowed from the input.
    Body(&'a [u8]),
    /// The body is complete.
    End(Md5Verdict),
}

/// Why the stream is not a valid frame sequence. Every variant but
/// [`FrameError::Md5Mismatch`] is fatal: the decoder keeps returning it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The header length prefix is negative (top bit set).
    NegativeHeaderLength {
        /// The signed value read.
        value: i32,
    },
    /// The header length exceeds the limit (checked before buffering).
    HeaderTooLarge {
        /// The length on the wire.
        len: u32,
        /// The limit.
        limit: u32,
    },
    /// The header is empty (length 0).
    EmptyHeader,
    /// The header bytes are not an acceptable header.
    Header(HeaderError),
    /// `total_size` exceeds the body limit.
    BodyTooLarge {
        /// The declared size.
        total_size: u64,
        /// The limit.
        limit: u64,
    },
    /// The body's MD5 differs from the header's. The framing is intact, so
    /// the decoder continues with the next frame.
    Md5Mismatch {
        /// The header's digest.
        expected: Digest,
        /// The body's digest.
        actual: Digest,
    },
    /// The stream ended inside a frame ([`FrameDecoder::finish`]).
    Truncated {
        /// Which part was cut.
        part: Part,
        /// Bytes of that part still expected (for the prefix and header),
        /// or body bytes missing.
        missing: u64,
    },
}

/// The parts of a frame, for [`FrameError::Truncated`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The 4-byte length prefix.
    Prefix,
    /// The JSON header.
    Header,
    /// The body.
    Body,
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.write_text(f)
    }
}

impl FrameError {
    /// The `Display` text, written piece by piece (no `core::fmt::write`):
    /// the files session sends it in refusals, also on firmware.
    pub(crate) fn write_text(&self, w: &mut (impl core::fmt::Write + ?Sized)) -> core::fmt::Result {
        use crate::decimal::{write_signed, write_unsigned};
        fn limit_of(
            w: &mut (impl core::fmt::Write + ?Sized),
            n: u64,
            limit: u64,
        ) -> core::fmt::Result {
            write_unsigned(w, n)?;
            w.write_str(" bytes exceeds the limit of ")?;
            write_unsigned(w, limit)?;
            w.write_str(" bytes")
        }
        match *self {
            Self::NegativeHeaderLength { value } => {
                w.write_str("negative header length ")?;
                write_signed(w, i64::from(value))
            }
            Self::HeaderTooLarge { len, limit } => {
                w.write_str("header of ")?;
                limit_of(w, u64::from(len), u64::from(limit))
            }
            Self::EmptyHeader => w.write_str("empty header"),
            Self::Header(e) => e.write_text(w),
            Self::BodyTooLarge { total_size, limit } => {
                w.write_str("body of ")?;
                limit_of(w, total_size, limit)
            }
            Self::Md5Mismatch { expected, actual } => {
                w.write_str("md5 mismatch: header says ")?;
                expected.write_hex(w)?;
                w.write_str(", body is ")?;
                actual.write_hex(w)
            }
            Self::Truncated { part, missing } => {
                w.write_str("stream ended inside the frame ")?;
                w.write_str(match part {
                    Part::Prefix => "Prefix",
                    Part::Header => "Header",
                    Part::Body => "Body",
                })?;
                w.write_str(" (")?;
                write_unsigned(w, missing)?;
                w.write_str(" bytes missing)")
            }
        }
    }
}

impl core::error::Error for FrameError {}

#[derive(Debug, Clone, Copy)]
enum State {
    Prefix,
    Header { len: usize },
    Body { remaining: u64 },
    Failed(FrameError),
}

/// Incremental frame decoder with a header buffer of `H` bytes.
///
/// `MD5` (default `true`): bodies are hashed and checked against the
/// header's `md5`. A decoder of body-less requests (the files sessions')
/// sets it to `false`: no hashing, a header's digest is reported as
/// [`Md5Verdict::Unverifiable`], and no md5 code reaches its image (about
/// 2 KB of a board's flash).
pub struct FrameDecoder<const H: usize = DEFAULT_HEADER_CAP, const MD5: bool = true> {
    state: State,
    prefix: PrefixReader,
    buf: Vec<u8, H>,
    header: Header,
    md5: Option<Md5>,
    limits: Limits,
}

impl<const H: usize, const MD5: bool> Default for FrameDecoder<H, MD5> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const H: usize, const MD5: bool> FrameDecoder<H, MD5> {
    /// A decoder with default limits (header limit = `H`).
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A decoder with explicit limits; `max_header` is capped at `H`.
    pub fn with_limits(mut limits: Limits) -> Self {
        limits.max_header = limits.max_header.min(u32::try_from(H).unwrap_or(u32::MAX));
        FrameDecoder {
            state: State::Prefix,
            prefix: PrefixReader::default(),
            buf: Vec::new(),
            header: Header::default(),
            md5: None,
            limits,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The header of the frame being decoded (or the last one).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// True between frames: nothing of a next frame has arrived yet.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Prefix) && self.prefix.pending() == 0
    }

    /// Decodes from `input`. Returns the bytes consumed and the next event;
    /// `None` means all of `input` was consumed and more is needed. Call
    /// again with the rest of the input until it returns `None`.
    pub fn decode<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<Event<'a>>), FrameError> {
        match self.state {
            State::Failed(e) => Err(e),
            State::Prefix => self.decode_prefix(input),
            State::Header { len } => self.decode_header(input, len),
            State::Body { remaining: 0 } => self.end_frame().map(|v| (0, Some(Event::End(v)))),
            State::Body { remaining } => Ok(self.decode_body(input, remaining)),
        }
    }

    /// Checks the stream may end here: between frames.
    pub fn finish(&self) -> Result<(), FrameError> {
        let (part, missing) = match &self.state {
            State::Failed(e) => return Err(*e),
            State::Prefix if self.prefix.pending() == 0 => return Ok(()),
            State::Prefix => (Part::Prefix, 4 - self.prefix.pending() as u64),
            State::Header { len } => (Part::Header, (len - self.buf.len()) as u64),
            State::Body { remaining: 0 } => return Ok(()),
            State::Body { remaining } => (Part::Body, *remaining),
        };
        Err(FrameError::Truncated { part, missing })
    }

    fn fail(&mut self, e: FrameError) -> FrameError {
        self.state = State::Failed(e);
        e
    }

    fn decode_prefix<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<Event<'a>>), FrameError> {
        if input.is_empty() {
            return Ok((0, None));
        }
        let (used, res) = self.prefix.feed(input, u32::MAX);
        let len = match res {
            None => return Ok((used, None)),
            Some(Ok(len)) => len,
            Some(Err(PrefixError::Negative { value })) => {
                return Err(self.fail(FrameError::NegativeHeaderLength { value }))
            }
            Some(Err(_)) => return Err(self.fail(FrameError::EmptyHeader)),
        };
        if len > self.limits.max_header {
            let limit = self.limits.max_header;
            return Err(self.fail(FrameError::HeaderTooLarge { len, limit }));
        }
        if len == 0 {
            return Err(self.fail(FrameError::EmptyHeader));
        }
        self.buf.clear();
        self.state = State::Header { len: len as usize };
        let rest = &input[used..];
        let (more, ev) = self.decode_header(rest, len as usize)?;
        Ok((used + more, ev))
    }

    fn decode_header<'a>(
        &'a mut self,
        input: &'a [u8],
        len: usize,
    ) -> Result<(usize, Option<Event<'a>>), FrameError> {
        let strict = self.limits.strict_md5;
        let (used, parsed) = if self.buf.is_empty() && input.len() >= len {
            // Fast path: the whole header is in this chunk, parse in place.
            (len, self.header.parse_into(&input[..len], strict))
        } else {
            let take = (len - self.buf.len()).min(input.len());
            // len <= max_header <= H, so this cannot overflow the buffer.
            if self.buf.extend_from_slice(&input[..take]).is_err() {
                let limit = self.limits.max_header;
                return Err(self.fail(FrameError::HeaderTooLarge {
                    len: len as u32,
                    limit,
                }));
            }
            if self.buf.len() < len {
                return Ok((take, None));
            }
            (take, self.header.parse_into(&self.buf, strict))
        };
        parsed.map_err(|e| self.fail(FrameError::Header(e)))?;
        let header = &self.header;
        if header.total_size > self.limits.max_body {
            let (total_size, limit) = (header.total_size, self.limits.max_body);
            return Err(self.fail(FrameError::BodyTooLarge { total_size, limit }));
        }
        self.md5 = header.md5.filter(|_| MD5).map(|_| Md5::new());
        self.state = State::Body {
            remaining: header.total_size,
        };
        Ok((used, Some(Event::Header(&self.header))))
    }

    fn decode_body<'a>(&mut self, input: &'a [u8], remaining: u64) -> (usize, Option<Event<'a>>) {
        let take = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
        if take == 0 {
            return (0, None);
        }
        let chunk = &input[..take];
        if let (true, Some(md5)) = (MD5, &mut self.md5) {
            md5.update(chunk);
        }
        self.state = State::Body {
            remaining: remaining - take as u64,
        };
        (take, Some(Event::Body(chunk)))
    }

    fn end_frame(&mut self) -> Result<Md5Verdict, FrameError> {
        self.state = State::Prefix;
        // A constant `None` without MD5: the hashing below is dead code.
        let hashed = if MD5 { self.md5.take() } else { None };
        let verdict = match (self.header.md5, hashed) {
            (Some(expected), Some(md5)) => {
                let actual = Digest(md5.finalize().into());
                if actual == expected {
                    Md5Verdict::Match(actual)
                } else {
                    Md5Verdict::Mismatch { expected, actual }
                }
            }
            (Some(_), None) if !MD5 => Md5Verdict::Unverifiable,
            _ if self.header.md5_malformed => Md5Verdict::Unverifiable,
            _ => Md5Verdict::Absent,
        };
        match verdict {
            Md5Verdict::Mismatch { expected, actual } if self.limits.reject_mismatch => {
                Err(FrameError::Md5Mismatch { expected, actual })
            }
            v => Ok(v),
        }
    }
}

#[cfg(test)]
mod tests;
