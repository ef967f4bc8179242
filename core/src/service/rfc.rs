//! The classic "simple services" of the early Internet, as pure byte
//! producers: RFC 864 character generator and RFC 867 daytime. (RFC 862 echo
//! and RFC 863 discard need no logic; RFC 868 time is in
//! [`super::time::rfc868`].)

use crate::strftime::Tm;

/// Characters in one RFC 864 line, not counting the CR LF.
pub const CHARGEN_LINE: usize = 72;

/// The printable ASCII characters the RFC 864 pattern rotates through
/// (space 0x20 to tilde 0x7E).
const PRINTABLE: u8 = 95;

/// Bytes per chargen line including CR LF.
const LINE_BYTES: usize = CHARGEN_LINE + 2;

/// Largest UDP chargen answer: RFC 864 says "between 0 and 512" characters.
pub const CHARGEN_UDP_MAX: usize = 512;

/// The RFC 864 character generator as an endless stream: line `n` holds 72
/// consecutive printable characters starting at the `n`-th one (wrapping),
/// followed by CR LF. [`Chargen::fill`] continues exactly where the last
/// call stopped, so a TCP server can write whatever its socket accepts.
#[derive(Debug, Clone, Default)]
pub struct Chargen {
    /// Position in the whole stream, modulo one full cycle of lines.
    pos: usize,
}

impl Chargen {
    /// A generator at the start of the pattern (the line beginning with
    /// space).
    pub fn new() -> Self {
        Self::default()
    }

    /// Fills all of `out` with the next bytes of the stream; returns
    /// `out.len()`.
    pub fn fill(&mut self, out: &mut [u8]) -> usize {
        // The pattern repeats after PRINTABLE lines.
        const CYCLE: usize = PRINTABLE as usize * LINE_BYTES;
        for b in out.iter_mut() {
            let line = self.pos / LINE_BYTES;
            let col = self.pos % LINE_BYTES;
            *b = match col {
                CHARGEN_LINE => b'\r',
                c if c == CHARGEN_LINE + 1 => b'\n',
                c => b' ' + ((line + c) % PRINTABLE as usize) as u8,
            };
            self.pos = (self.pos + 1) % CYCLE;
        }
        out.len()
    }

    /// One UDP answer: as many whole lines as fit in 512 bytes (and in
    /// `out`), continuing the pattern from the previous answer. Returns the
    /// number of bytes written.
    pub fn datagram(&mut self, out: &mut [u8]) -> usize {
        let lines = out.len().min(CHARGEN_UDP_MAX) / LINE_BYTES;
        // Start each datagram on a line boundary so it reads as whole lines.
        let rem = self.pos % LINE_BYTES;
        if rem != 0 {
            let mut skip = [0u8; LINE_BYTES];
            self.fill(&mut skip[..LINE_BYTES - rem]);
        }
        self.fill(&mut out[..lines * LINE_BYTES])
    }
}

/// Largest RFC 867 daytime answer [`daytime`] produces.
pub const DAYTIME_MAX: usize = 64;

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// RFC 867 daytime: the local time as readable ASCII text and CR LF, in the
/// `ctime(3)` layout inetd uses (`Sun Nov 22 08:50:57 2026`) followed by
/// the zone abbreviation. Returns the bytes written into `out`, truncated
/// to `out.len()` (a [`DAYTIME_MAX`] buffer always fits).
pub fn daytime(tm: &Tm, out: &mut [u8]) -> usize {
    use core::fmt::Write;
    let mut w = Cursor { buf: out, len: 0 };
    let day = DAYS.get(usize::from(tm.weekday)).copied().unwrap_or("???");
    let month = MONTHS
        .get(usize::from(tm.month.wrapping_sub(1)))
        .copied()
        .unwrap_or("???");
    let _ = write!(
        w,
        "{day} {month} {:2} {:02}:{:02}:{:02} {} {}\r\n",
        tm.day,
        tm.hour,
        tm.minute,
        tm.second,
        tm.year,
        tm.zone.as_str()
    );
    w.len
}

/// A `fmt::Write` into a byte slice that truncates instead of failing.
struct Cursor<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.buf.len() - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chargen_lines_rotate() {
        let mut g = Chargen::new();
        let mut buf = [0u8; 2 * LINE_BYTES];
        g.fill(&mut buf);
        assert!(buf[..72]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == b' ' + i as u8 % 95));
        assert_eq!(&buf[72..74], b"\r\n");
        assert_eq!(buf[74], b'!');
        assert_eq!(buf[74 + 71], b' ' + 72);
    }

    #[test]
    fn chargen_is_continuous_across_calls_and_cycles() {
        let mut a = Chargen::new();
        let mut whole = [0u8; 95 * LINE_BYTES + 500];
        a.fill(&mut whole);
        let mut b = Chargen::new();
        let mut parts = [0u8; 95 * LINE_BYTES + 500];
        for chunk in parts.chunks_mut(37) {
            b.fill(chunk);
        }
        assert_eq!(whole, parts);
        // The pattern repeats after 95 lines.
        assert_eq!(whole[..500], whole[95 * LINE_BYTES..]);
    }

    #[test]
    fn chargen_datagram_is_whole_lines_within_512() {
        let mut g = Chargen::new();
        let mut out = [0u8; 2048];
        let n = g.datagram(&mut out);
        assert_eq!(n, 6 * LINE_BYTES);
        assert!(n <= CHARGEN_UDP_MAX);
        assert_eq!(out[0], b' ');
        let n2 = g.datagram(&mut out);
        assert_eq!(n2, n);
        assert_eq!(out[0], b' ' + 6);
    }

    #[test]
    fn daytime_layout() {
        let tm = Tm::from_unix(1_700_000_000, 0, "UTC");
        let mut out = [0u8; DAYTIME_MAX];
        let n = daytime(&tm, &mut out);
        assert_eq!(&out[..n], b"Tue Nov 14 22:13:20 2023 UTC\r\n");
        let tm = Tm::from_unix(0, 3600, "CET");
        let n = daytime(&tm, &mut out);
        assert_eq!(&out[..n], b"Thu Jan  1 01:00:00 1970 CET\r\n");
    }
}
