//! The output side of [`strftime`](super::strftime): writes into the
//! caller's buffer while counting what *would* have been written, so one
//! pass yields both the result and, on overflow, the length Python's size
//! rule is judged by.

/// How a piece of text is case-mapped on its way out (glibc's
/// `to_uppcase` / `to_lowcase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Case {
    /// Copied as is.
    Keep,
    /// Mapped with `towupper`.
    Upper,
    /// Mapped with `towlower` (wins over `Upper`, as in glibc).
    Lower,
}

/// A bounded writer that keeps counting past the end of its buffer.
pub(super) struct Sink<'a> {
    buf: &'a mut [u8],
    /// Bytes produced so far (written or not).
    bytes: u64,
    /// Characters produced so far (Python measures in characters).
    chars: u64,
    /// Set once something did not fit; nothing is written after that.
    overflow: bool,
    /// Upper-case everything (glibc's post-pass over `%^c` and friends).
    pub(super) upper: bool,
}

impl<'a> Sink<'a> {
    /// A sink writing into `buf`.
    pub(super) fn new(buf: &'a mut [u8]) -> Self {
        Sink {
            buf,
            bytes: 0,
            chars: 0,
            overflow: false,
            upper: false,
        }
    }

    /// Characters produced so far, including those that did not fit.
    pub(super) fn chars(&self) -> u64 {
        self.chars
    }

    /// The number of bytes written, or `None` if the output overflowed.
    pub(super) fn written(&self) -> Option<usize> {
        if self.overflow {
            None
        } else {
            usize::try_from(self.bytes).ok()
        }
    }

    /// Appends `n` copies of the ASCII byte `b` (padding).
    pub(super) fn fill(&mut self, b: u8, n: u64) {
        let start = self.bytes;
        self.bytes = self.bytes.saturating_add(n);
        self.chars = self.chars.saturating_add(n);
        match self.room(start, self.bytes) {
            Some(dst) => dst.fill(b),
            None => self.overflow = true,
        }
    }

    /// Appends `s`, mapping the case of each character.
    pub(super) fn text(&mut self, s: &str, case: Case) {
        if case == Case::Keep && !self.upper {
            return self.raw(s);
        }
        for c in s.chars() {
            let mut c = map_case(c, case);
            if self.upper {
                c = map_case(c, Case::Upper);
            }
            let mut tmp = [0u8; 4];
            self.raw(c.encode_utf8(&mut tmp));
        }
    }

    fn raw(&mut self, s: &str) {
        let start = self.bytes;
        self.bytes = self.bytes.saturating_add(s.len() as u64);
        self.chars = self.chars.saturating_add(char_count(s));
        match self.room(start, self.bytes) {
            Some(dst) => dst.copy_from_slice(s.as_bytes()),
            None => self.overflow = true,
        }
    }

    /// The buffer slice for bytes `start..end`, if everything so far fit.
    fn room(&mut self, start: u64, end: u64) -> Option<&mut [u8]> {
        if self.overflow {
            return None;
        }
        let start = usize::try_from(start).ok()?;
        let end = usize::try_from(end).ok()?;
        self.buf.get_mut(start..end)
    }
}

/// Characters in `s`; the pieces are nearly always short ASCII, for which
/// the length is the count.
pub(super) fn char_count(s: &str) -> u64 {
    if s.is_ascii() {
        s.len() as u64
    } else {
        s.chars().count() as u64
    }
}

/// One-character case mapping like glibc's `towupper`/`towlower` (checked
/// for every code point against Python on glibc 2.36): a character whose
/// full Unicode mapping is longer than one character (`ß` → `SS`) stays as
/// it is, except where glibc uses the simple mapping instead.
///
/// Without the `unicode-case` feature only ASCII letters change case, which
/// drops core's Unicode case tables (about 24 KiB) from a firmware image.
fn map_case(c: char, case: Case) -> char {
    if !cfg!(feature = "unicode-case") {
        return match case {
            Case::Keep => c,
            Case::Upper => c.to_ascii_uppercase(),
            Case::Lower => c.to_ascii_lowercase(),
        };
    }
    if GLIBC_UNMAPPED.iter().any(|r| r.contains(&u32::from(c))) {
        return c;
    }
    match case {
        Case::Keep => c,
        Case::Upper => greek_iota_upper(c)
            .or_else(|| single(c.to_uppercase()))
            .unwrap_or(c),
        Case::Lower if c == '\u{130}' => 'i',
        Case::Lower => single(c.to_lowercase()).unwrap_or(c),
    }
}

/// Letters whose case pairs arrived in Unicode 16, after the tables of
/// glibc 2.36, which therefore leaves them alone.
const GLIBC_UNMAPPED: [core::ops::RangeInclusive<u32>; 12] = [
    0x19B..=0x19B,
    0x264..=0x264,
    0x1C89..=0x1C8A,
    0xA7CB..=0xA7CD,
    0xA7CE..=0xA7CF,
    0xA7D2..=0xA7D3,
    0xA7D4..=0xA7D5,
    0xA7DA..=0xA7DB,
    0xA7DC..=0xA7DC,
    0x10D50..=0x10D65,
    0x10D70..=0x10D85,
    0x16EA0..=0x16ED3,
];

/// Greek letters with iota subscript: their full upper case is two
/// letters, but `towupper` uses the simple mapping to the title-case form.
fn greek_iota_upper(c: char) -> Option<char> {
    let cp = u32::from(c);
    let upper = match cp {
        0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => cp + 8,
        0x1FB3 | 0x1FC3 | 0x1FF3 => cp + 9,
        _ => return None,
    };
    char::from_u32(upper)
}

fn single(mut it: impl Iterator<Item = char>) -> Option<char> {
    let first = it.next()?;
    match it.next() {
        Some(_) => None,
        None => Some(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_past_the_end_without_writing_a_partial_piece() {
        let mut buf = [b'x'; 4];
        let mut s = Sink::new(&mut buf);
        s.text("ab", Case::Keep);
        s.text("cde", Case::Keep);
        s.fill(b' ', 10);
        assert_eq!(s.chars(), 15);
        assert_eq!(s.written(), None);
        assert_eq!(&buf, b"abxx");
    }

    #[test]
    fn case_mapping_is_one_to_one_like_towupper() {
        let mut buf = [0u8; 32];
        let mut s = Sink::new(&mut buf);
        s.text("ßıǆé", Case::Upper);
        s.text("ABC", Case::Lower);
        let n = s.written().unwrap();
        assert_eq!(core::str::from_utf8(&buf[..n]).unwrap(), "ßIǄÉabc");
    }
}
