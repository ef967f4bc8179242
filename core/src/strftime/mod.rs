//! A Python-compatible `time.strftime` formatter: no_std, no alloc.
//!
//! The seeds' UDP time server answers each datagram with
//! `time.strftime(datagram)`, which on Linux is glibc's `strftime` in the C
//! locale. [`strftime`] formats a broken-down [`Tm`] the same way into a
//! caller buffer, so the host and the firmware answer identically.
//!
//! ```
//! use wirekit_core::strftime::{strftime, Tm};
//! let tm = Tm::from_unix(0, 0, "UTC");
//! let mut out = [0u8; 64];
//! let n = strftime(b"%Y-%m-%d %X", &tm, &mut out).unwrap();
//! assert_eq!(&out[..n], b"1970-01-01 00:00:00");
//! ```
//!
//! `conv` holds glibc's conversion state machine, `sink` the counting
//! output writer. `core/tests/strftime_python.rs` checks both against
//! real Python 3.11 on glibc for ~116 000 format/instant pairs and every
//! character's case mapping. Fields outside their documented ranges are
//! formatted as glibc would (`?` for names, raw numbers) where Python
//! would raise `ValueError` before formatting.

mod conv;
mod sink;
#[cfg(test)]
mod tests;

use heapless::String;
use sink::Sink;

/// A broken-down calendar time, the fields of C's `struct tm` in natural
/// units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tm {
    /// Full year, e.g. 2026.
    pub year: i32,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of the month, 1..=31.
    pub day: u8,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=60 (60 for a leap second).
    pub second: u8,
    /// Day of the week, 0 = Sunday (C's `tm_wday`).
    pub weekday: u8,
    /// Day of the year, 0..=365 (C's `tm_yday`).
    pub yday: u16,
    /// Offset from UTC in seconds east (C's `tm_gmtoff`).
    pub utc_offset: i32,
    /// Daylight saving time flag (C's `tm_isdst`): 1, 0, or -1 if unknown.
    pub isdst: i8,
    /// Time zone abbreviation for `%Z`, e.g. `UTC` or `CET` (an empty one
    /// prints nothing; glibc would fall back to the `TZ` names).
    pub zone: String<16>,
    /// Seconds since the Unix epoch of this instant, printed by `%s`
    /// (glibc recomputes it with `mktime`, which gives the same value when
    /// the fields and the process time zone agree, as they do in Python).
    pub unix: i64,
}

/// Why a format could not be produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrftimeError {
    /// The output did not fit into the caller's buffer (its length).
    OutputTooLong {
        /// The buffer capacity that was exceeded.
        limit: usize,
    },
    /// The format is not valid UTF-8 (Python decodes it as UTF-8 first).
    InvalidUtf8,
    /// The format contains a NUL byte (Python refuses it).
    EmbeddedNul,
}

impl core::fmt::Display for StrftimeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OutputTooLong { limit } => {
                write!(f, "formatted time longer than {limit} bytes")
            }
            Self::InvalidUtf8 => f.write_str("format is not valid UTF-8"),
            Self::EmbeddedNul => f.write_str("format contains a NUL byte"),
        }
    }
}

impl core::error::Error for StrftimeError {}

impl Tm {
    /// Breaks down `unix` seconds, shifted by `utc_offset` seconds east,
    /// into calendar fields (proleptic Gregorian calendar).
    pub fn from_unix(unix: i64, utc_offset: i32, zone: &str) -> Tm {
        let local = unix.saturating_add(i64::from(utc_offset));
        let (days, secs) = div_floor(local, 86_400);
        let (year, month, day) = civil_from_days(days);
        let yday = days - days_from_civil(year, 1, 1);
        let mut z = String::new();
        for c in zone.chars() {
            if z.push(c).is_err() {
                break;
            }
        }
        Tm {
            year: clamp_i32(year),
            month: month as u8,
            day: day as u8,
            hour: (secs / 3600) as u8,
            minute: (secs / 60 % 60) as u8,
            second: (secs % 60) as u8,
            weekday: div_floor(days.saturating_add(4), 7).1 as u8,
            yday: yday as u16,
            utc_offset,
            isdst: 0,
            zone: z,
            unix,
        }
    }
}

fn clamp_i32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Days since 1970-01-01 → (year, month 1..=12, day 1..=31).
/// Howard Hinnant's `civil_from_days`, which is exact for every i64 day
/// count that does not overflow the era arithmetic.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days.saturating_add(719_468);
    let (era, doe) = div_floor(z, 146_097);
    // Within an era everything is below 146,097: 32-bit arithmetic.
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = i64::from(yoe) + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month 1..=12, day 1..=31) → days since 1970-01-01; the inverse
/// of [`civil_from_days`].
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let (era, yoe) = div_floor(y, 400);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + i64::from(doe) - 719_468
}

/// `(a.div_euclid(b), a.rem_euclid(b))` for `b > 0`, through unsigned
/// division: a 32-bit board then links one 64-bit division routine (the
/// unsigned one, which its clocks need anyway), not the signed one too.
fn div_floor(a: i64, b: u32) -> (i64, u32) {
    let m = a.unsigned_abs();
    let (q, r) = (m / u64::from(b), (m % u64::from(b)) as u32);
    // q <= 2^63 / b: as i64 it only wraps for b == 1, a == i64::MIN, where
    // the wrapped value is the quotient.
    let q = q as i64;
    match (a >= 0, r) {
        (true, _) => (q, r),
        (false, 0) => (q.wrapping_neg(), 0),
        (false, _) => (-q - 1, b - r),
    }
}

/// Formats `tm` with the Python/glibc `strftime` format `fmt` into `out`,
/// returning the number of bytes written.
///
/// Every glibc conversion, flag (`-` `_` `0` `^` `#`), field width and
/// `E`/`O` modifier is handled as glibc does in the C locale, quirks
/// included (unknown conversions are copied through, padded like a field).
///
/// Two places follow Python rather than plain glibc:
/// - Python retries with a buffer of up to 256 characters per format
///   character and then gives up, returning `''`. A result of that many
///   characters or more (only reachable with huge field widths) is
///   therefore `Ok(0)`, exactly like Python.
/// - `%Z` with an empty [`Tm::zone`] prints nothing, where glibc would
///   fall back to the process's `TZ` names.
///
/// Otherwise the output is never truncated: if it does not fit into
/// `out`, the result is [`StrftimeError::OutputTooLong`].
pub fn strftime(fmt: &[u8], tm: &Tm, out: &mut [u8]) -> Result<usize, StrftimeError> {
    let fmt = core::str::from_utf8(fmt).map_err(|_| StrftimeError::InvalidUtf8)?;
    if fmt.contains('\0') {
        return Err(StrftimeError::EmbeddedNul);
    }
    let limit = out.len();
    let mut sink = Sink::new(out);
    conv::run(fmt, tm, &mut sink);
    // Python's smallest buffer is 1024 characters, so shorter results
    // never need the format's length.
    if sink.chars() >= 1024 && sink.chars() >= python_char_limit(fmt.chars().count()) {
        return Ok(0);
    }
    sink.written().ok_or(StrftimeError::OutputTooLong { limit })
}

/// The largest buffer (in characters, terminator included) Python 3.11's
/// `time.strftime` tries for a format of `fmt_chars` characters: it starts
/// at 1024 and doubles until the buffer is at least 256 times the format.
fn python_char_limit(fmt_chars: usize) -> u64 {
    let need = (fmt_chars as u64).saturating_mul(256);
    let mut size: u64 = 1024;
    while size < need {
        size = size.saturating_mul(2);
    }
    size
}
