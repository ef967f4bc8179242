//! Delimiter framing: a line decoder with a maximum line length.
//!
//! The delimiter is configurable (default `\n`; up to 8 bytes, e.g. `\r\n`
//! or an end marker such as `<END>`), which covers the seeds' start/end
//! marker idea. Lines are returned without the delimiter, borrowed from the
//! input when a whole line is in one chunk and from the fixed `N`-byte
//! buffer otherwise. An over-long line is reported once as
//! [`LineEvent::Rejected`] and then skipped up to its delimiter, so the
//! stream stays usable (the chat service rejects the line and keeps the
//! connection).
//!
//! ```
//! use wirekit_core::codec::line::LineDecoder;
//! let mut dec: LineDecoder = LineDecoder::new();
//! use wirekit_core::codec::line::LineEvent;
//! assert_eq!(dec.decode(b"hel"), (3, None));
//! assert_eq!(dec.decode(b"lo\nrest"), (3, Some(LineEvent::Line(b"hello"))));
//! ```

use heapless::Vec;

/// Default maximum line length, also the default buffer capacity.
pub const DEFAULT_LINE_CAP: usize = 1024;

/// Longest supported delimiter.
pub const MAX_DELIMITER: usize = 8;

/// Why a line could not be produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// A line exceeded the limit; the decoder skips it up to its
    /// delimiter and carries on with the next line.
    TooLong {
        /// The maximum line length.
        limit: usize,
    },
    /// The stream ended with bytes after the last delimiter.
    TrailingBytes {
        /// How many bytes (capped at the buffer size).
        len: usize,
    },
    /// The delimiter is empty, longer than [`MAX_DELIMITER`], or leaves
    /// no room for a line in the buffer.
    BadDelimiter,
}

impl core::fmt::Display for LineError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooLong { limit } => write!(f, "line longer than {limit} bytes"),
            Self::TrailingBytes { len } => {
                write!(f, "stream ended with {len} bytes after the last line")
            }
            Self::BadDelimiter => f.write_str("delimiter must be 1 to 8 bytes"),
        }
    }
}

impl core::error::Error for LineError {}

/// A step of a delimited stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEvent<'a> {
    /// A complete line, without its delimiter.
    Line(&'a [u8]),
    /// A line was over the limit ([`LineError::TooLong`]); it is dropped and
    /// decoding continues after its delimiter. Recoverable, so it is an
    /// event rather than an `Err`.
    Rejected(LineError),
}

/// Incremental line decoder buffering at most `N` bytes.
#[derive(Debug, Clone)]
pub struct LineDecoder<const N: usize = DEFAULT_LINE_CAP> {
    buf: Vec<u8, N>,
    delim: Vec<u8, MAX_DELIMITER>,
    max_line: usize,
    /// Skipping the rest of an over-long line.
    discarding: bool,
    /// Bytes of the delimiter matched so far while skipping.
    partial_delim: usize,
    /// The next call must drop the buffered line it returned last time.
    consumed_buffer: bool,
}

impl<const N: usize> Default for LineDecoder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LineDecoder<N> {
    /// A `\n` decoder; the maximum line length is `N - 1` (the buffer
    /// also holds the delimiter).
    pub fn new() -> Self {
        let mut delim = Vec::new();
        // Capacity 8 > 1: cannot fail.
        let _ = delim.push(b'\n');
        LineDecoder {
            buf: Vec::new(),
            delim,
            max_line: N.saturating_sub(1),
            discarding: false,
            partial_delim: 0,
            consumed_buffer: false,
        }
    }

    /// A decoder with another delimiter and a maximum line length, capped
    /// at `N - delimiter.len()`.
    pub fn with_delimiter(delimiter: &[u8], max_line: usize) -> Result<Self, LineError> {
        let delim = Vec::from_slice(delimiter).map_err(|_| LineError::BadDelimiter)?;
        if delim.is_empty() || delim.len() >= N {
            return Err(LineError::BadDelimiter);
        }
        let mut dec = Self::new();
        dec.max_line = max_line.min(N - delim.len());
        dec.delim = delim;
        Ok(dec)
    }

    /// The maximum line length in force.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Decodes from `input`: bytes consumed and the next event; `None`
    /// means all of `input` was consumed and more is needed.
    // Slices here are taken with `get` (their bounds hold by construction):
    // an indexing panic site costs a firmware image its location and code.
    pub fn decode<'a>(&'a mut self, input: &'a [u8]) -> (usize, Option<LineEvent<'a>>) {
        if self.consumed_buffer {
            self.buf.clear();
            self.consumed_buffer = false;
        }
        if self.discarding {
            let skipped = self.skip(input);
            if self.discarding || skipped == input.len() {
                return (skipped, None);
            }
            let (used, ev) = self.decode(input.get(skipped..).unwrap_or_default());
            return (skipped + used, ev);
        }
        if self.buf.is_empty() {
            if let Some(end) = find(input, &self.delim) {
                // Fast path: a whole line in the input, no copy.
                let used = end + self.delim.len();
                if end > self.max_line {
                    return (used, Some(self.rejected()));
                }
                return (
                    used,
                    Some(LineEvent::Line(input.get(..end).unwrap_or_default())),
                );
            }
        }
        self.buffered(input)
    }

    fn buffered<'a>(&'a mut self, input: &[u8]) -> (usize, Option<LineEvent<'a>>) {
        let dl = self.delim.len();
        // Re-scan the tail of the buffer so a delimiter split across
        // chunks is found.
        let start = self.buf.len().saturating_sub(dl - 1);
        let before = self.buf.len();
        let take = input.len().min(N - before);
        // take <= N - len: cannot overflow.
        let _ = self
            .buf
            .extend_from_slice(input.get(..take).unwrap_or_default());
        if let Some(pos) = find(self.buf.get(start..).unwrap_or_default(), &self.delim) {
            let end = start + pos;
            let used = end + dl - before;
            if end > self.max_line {
                self.buf.clear();
                return (used, Some(self.rejected()));
            }
            self.buf.truncate(end);
            self.consumed_buffer = true;
            return (used, Some(LineEvent::Line(&self.buf[..])));
        }
        if self.buf.len() > self.max_line + dl - 1 {
            // No delimiter yet and already too long: skip to the next one,
            // remembering a delimiter prefix at the end of the buffer.
            self.partial_delim = (1..dl)
                .rev()
                .find(|&k| self.buf.ends_with(self.delim.get(..k).unwrap_or_default()))
                .unwrap_or(0);
            self.buf.clear();
            self.discarding = true;
            return (take, Some(self.rejected()));
        }
        (take, None)
    }

    fn rejected<'a>(&self) -> LineEvent<'a> {
        LineEvent::Rejected(LineError::TooLong {
            limit: self.max_line,
        })
    }

    /// Skips input up to and including the next delimiter.
    fn skip(&mut self, input: &[u8]) -> usize {
        for (i, &b) in input.iter().enumerate() {
            self.partial_delim = self.matched_after(b);
            if self.partial_delim == self.delim.len() {
                self.discarding = false;
                self.partial_delim = 0;
                return i + 1;
            }
        }
        input.len()
    }

    /// How much of the delimiter is matched once `b` follows the
    /// `partial_delim` bytes matched so far: the longest delimiter prefix
    /// that ends the text seen. Restarting from zero (or one) on a mismatch
    /// would miss a delimiter overlapping itself (`==END` inside `===END`)
    /// and swallow the next line. Delimiters are at most 8 bytes, so the
    /// direct search is cheaper than keeping a KMP table.
    fn matched_after(&self, b: u8) -> usize {
        let d = &self.delim[..];
        let seen = self.partial_delim;
        (1..=seen + 1)
            .rev()
            .find(|&k| d.get(k - 1) == Some(&b) && d.get(..k - 1) == d.get(seen + 1 - k..seen))
            .unwrap_or(0)
    }

    /// Bytes received after the last complete line.
    pub fn pending(&self) -> &[u8] {
        if self.consumed_buffer {
            &[]
        } else {
            &self.buf
        }
    }

    /// Checks the stream may end here: nothing after the last delimiter.
    pub fn finish(&self) -> Result<(), LineError> {
        match self.pending().len() {
            0 if !self.discarding => Ok(()),
            len => Err(LineError::TrailingBytes { len }),
        }
    }
}

/// Where `needle` starts in `haystack`. By hand, not nom's `take_until`:
/// a byte loop is a tenth of its code in a firmware image (-0.5 KB), and
/// lines are short enough that its word-at-a-time search gains nothing.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [] => Some(0),
        [b] => haystack.iter().position(|c| c == b),
        _ => haystack.windows(needle.len()).position(|w| w == needle),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use proptest::prelude::*;
    use std::vec::Vec;

    #[derive(Debug, PartialEq, Eq)]
    enum Out {
        Line(Vec<u8>),
        TooLong,
    }

    fn run<const N: usize>(dec: &mut LineDecoder<N>, chunks: &[&[u8]]) -> Vec<Out> {
        let mut out = Vec::new();
        for chunk in chunks {
            let mut input = *chunk;
            loop {
                let (used, ev) = dec.decode(input);
                input = &input[used..];
                match ev {
                    None => break,
                    Some(LineEvent::Line(l)) => out.push(Out::Line(l.to_vec())),
                    Some(LineEvent::Rejected(_)) => out.push(Out::TooLong),
                }
            }
            assert!(input.is_empty());
        }
        out
    }

    #[test]
    fn over_long_lines_are_rejected_and_skipped() {
        let mut dec: LineDecoder<8> = LineDecoder::new();
        let out = run(&mut dec, &[b"short\n0123456789abcdef", b"ghij\nnext\n"]);
        assert_eq!(
            out,
            [
                Out::Line(b"short".to_vec()),
                Out::TooLong,
                Out::Line(b"next".to_vec())
            ]
        );
        assert_eq!(dec.finish(), Ok(()));
    }

    #[test]
    fn multi_byte_delimiter_split_across_chunks() {
        let mut dec: LineDecoder<64> = LineDecoder::with_delimiter(b"<END>", 32).unwrap();
        let out = run(&mut dec, &[b"a<E", b"N", b"D>b<END><EN"]);
        assert_eq!(out, [Out::Line(b"a".to_vec()), Out::Line(b"b".to_vec())]);
        assert_eq!(dec.pending(), b"<EN");
        assert_eq!(dec.finish(), Err(LineError::TrailingBytes { len: 3 }));
        assert!(LineDecoder::<64>::with_delimiter(b"", 3).is_err());
    }

    #[test]
    fn self_overlapping_delimiter_while_skipping_keeps_the_next_line() {
        // Skipping the over-long line sees `===END`: after `==` a third `=`
        // still leaves `==` matched, so the delimiter ends at `END`.
        let mut dec: LineDecoder<16> = LineDecoder::with_delimiter(b"==END", 8).unwrap();
        let out = run(&mut dec, &[b"0123456789abcdefghij", b"===ENDnext==END"]);
        assert_eq!(out, [Out::TooLong, Out::Line(b"next".to_vec())]);
        assert_eq!(dec.finish(), Ok(()));
    }

    #[test]
    fn exactly_max_line_is_accepted() {
        let mut dec: LineDecoder<8> = LineDecoder::new();
        assert_eq!(dec.max_line(), 7);
        let out = run(&mut dec, &[b"1234", b"567\n12345678\n"]);
        assert_eq!(out, [Out::Line(b"1234567".to_vec()), Out::TooLong]);
    }

    fn lines() -> impl Strategy<Value = Vec<Vec<u8>>> {
        prop::collection::vec(
            prop::collection::vec(
                any::<u8>().prop_filter("no delimiter", |b| *b != b'\n'),
                0..40,
            ),
            0..8,
        )
    }

    /// The reference: split at the first delimiter after the previous
    /// one. An unterminated tail longer than the limit plus a partial
    /// delimiter is already known to be too long, so it is rejected too.
    fn naive_split(stream: &[u8], delim: &[u8], max_line: usize) -> (Vec<Out>, Option<Vec<u8>>) {
        let max_line = max_line.min(16 - delim.len());
        let mut out = Vec::new();
        let mut rest = stream;
        loop {
            match rest.windows(delim.len()).position(|w| w == delim) {
                Some(end) => {
                    out.push(if end > max_line {
                        Out::TooLong
                    } else {
                        Out::Line(rest[..end].to_vec())
                    });
                    rest = &rest[end + delim.len()..];
                }
                None if rest.is_empty() => return (out, None),
                None => {
                    if rest.len() > max_line + delim.len() - 1 {
                        out.push(Out::TooLong);
                    }
                    return (out, Some(rest.to_vec()));
                }
            }
        }
    }

    proptest! {
        #[test]
        fn any_chunking_decodes_the_same(ls in lines(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
            let mut stream = Vec::new();
            for l in &ls { stream.extend_from_slice(l); stream.push(b'\n'); }
            let whole = run(&mut LineDecoder::<32>::new(), &[&stream]);
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut last = 0;
            for p in points { chunks.push(&stream[last..p]); last = p; }
            chunks.push(&stream[last..]);
            let mut dec = LineDecoder::<32>::new();
            prop_assert_eq!(&run(&mut dec, &chunks), &whole);
            let expect: Vec<Out> = ls.iter().map(|l| if l.len() > 31 { Out::TooLong } else { Out::Line(l.clone()) }).collect();
            prop_assert_eq!(whole, expect);
            prop_assert_eq!(dec.finish(), Ok(()));
        }

        /// Oracle: any delimiter (self-overlapping ones are likely with a
        /// three-letter alphabet), any limit, any chunking decodes like a
        /// naive split of the whole stream at each first delimiter.
        #[test]
        fn matches_a_naive_splitter(
            delim in prop::collection::vec(prop::sample::select(&b"=EN"[..]), 1..5),
            stream in prop::collection::vec(prop::sample::select(&b"=ENx"[..]), 0..120),
            max_line in 0usize..16,
            cuts in crate::codec::chunking::cuts(),
        ) {
            let (expect, tail) = naive_split(&stream, &delim, max_line);
            let mut dec = LineDecoder::<16>::with_delimiter(&delim, max_line).unwrap();
            let max_line = dec.max_line();
            let chunks = crate::codec::chunking::split(&stream, &cuts);
            prop_assert_eq!(run(&mut dec, &chunks), expect);
            match tail {
                Some(t) if t.len() > max_line + delim.len() - 1 => {
                    prop_assert_eq!(dec.finish(), Err(LineError::TrailingBytes { len: 0 }));
                }
                Some(t) => prop_assert_eq!(dec.pending(), &t[..]),
                None => prop_assert_eq!(dec.finish(), Ok(())),
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), delim in prop::collection::vec(any::<u8>(), 1..4)) {
            let mut dec = LineDecoder::<16>::with_delimiter(&delim, 10).unwrap();
            let _ = run(&mut dec, &[&bytes]);
            let _ = dec.finish();
        }
    }
}
