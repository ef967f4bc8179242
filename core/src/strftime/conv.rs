//! The conversion engine: parses each `%` specification the way glibc's
//! `__strftime_internal` does (flags, width, `E`/`O` modifier, conversion
//! character) and produces its text in the C locale.
//!
//! The padding rules are glibc's, odd corners included, because Python
//! clients see them: the width also pads text and unknown conversions,
//! `-` only suppresses the *number* padding (so `%-5d` is still five
//! columns wide), `%z` pads its sign and its number separately, and `%s`
//! is padded by the field width rather than by a digit count.

use super::sink::{char_count, Case, Sink};
use super::Tm;

/// The C locale's `D_T_FMT`, `D_FMT`, `T_FMT` and `T_FMT_AMPM`.
const C_DATE_TIME: &str = "%a %b %e %H:%M:%S %Y";
const C_DATE: &str = "%m/%d/%y";
const C_TIME: &str = "%H:%M:%S";
const C_TIME_AMPM: &str = "%I:%M:%S %p";

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Formats all of `fmt` into `out`.
pub(super) fn run(fmt: &str, tm: &Tm, out: &mut Sink<'_>) {
    let mut rest = fmt;
    while let Some((literal, after)) = rest.split_once('%') {
        out.text(literal, Case::Keep);
        rest = conversion(after, tm, out);
    }
    out.text(rest, Case::Keep);
}

/// The state glibc keeps for one conversion specification.
struct Spec {
    /// `0` (none), `b'_'`, `b'-'` or `b'0'`: the last padding flag.
    pad: u8,
    upper: bool,
    lower: bool,
    /// The `#` flag: swap the case (meaning depends on the conversion).
    change_case: bool,
    /// Field width, -1 when none was given.
    width: i32,
    /// `0`, `b'E'` or `b'O'`.
    modifier: u8,
}

/// Handles the specification starting right after a `%`; returns the rest
/// of the format.
fn conversion<'f>(after: &'f str, tm: &Tm, out: &mut Sink<'_>) -> &'f str {
    let (mut spec, used) = parse_prefix(after);
    let tail = after.get(used..).unwrap_or("");
    let Some(ch) = tail.chars().next() else {
        // A `%` (with flags) at the very end is copied as is.
        spec.bad_format(after, out);
        return "";
    };
    let end = used + ch.len_utf8();
    if !spec.modifier_allowed(ch) {
        // glibc applies `#` to `%b`/`%h` before it rejects `%Eb`.
        spec.upper |= spec.change_case && matches!(ch, 'b' | 'h');
        spec.bad_format(after.get(..end).unwrap_or(after), out);
    } else if !spec.dispatch(ch, tm, out) {
        spec.bad_format(after.get(..end).unwrap_or(after), out);
    }
    after.get(end..).unwrap_or("")
}

/// Parses flags, width and modifier; returns them and the bytes used.
fn parse_prefix(s: &str) -> (Spec, usize) {
    let mut spec = Spec {
        pad: 0,
        upper: false,
        lower: false,
        change_case: false,
        width: -1,
        modifier: 0,
    };
    let bytes = s.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'_' | b'-' | b'0' => spec.pad = b,
            b'^' => spec.upper = true,
            b'#' => spec.change_case = true,
            _ => break,
        }
        i += 1;
    }
    while let Some(&b) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
        // glibc saturates an overlong width at INT_MAX.
        let digit = i32::from(b - b'0');
        spec.width = spec.width.max(0).saturating_mul(10).saturating_add(digit);
        i += 1;
    }
    if let Some(&b @ (b'E' | b'O')) = bytes.get(i) {
        spec.modifier = b;
        i += 1;
    }
    (spec, i)
}

impl Spec {
    /// Which conversions reject which modifier (glibc's `bad_format`
    /// jumps); a rejected one is printed literally.
    fn modifier_allowed(&self, ch: char) -> bool {
        match self.modifier {
            b'E' => !matches!(
                ch,
                'a' | 'A'
                    | 'D'
                    | 'F'
                    | 'b'
                    | 'h'
                    | 'B'
                    | 'd'
                    | 'e'
                    | 'H'
                    | 'I'
                    | 'k'
                    | 'l'
                    | 'j'
                    | 'M'
                    | 'm'
                    | 'S'
                    | 'U'
                    | 'V'
                    | 'g'
                    | 'G'
                    | 'W'
                    | 'w'
            ),
            b'O' => !matches!(ch, 'a' | 'A' | 'D' | 'F' | 'c' | 'x' | 'X' | 'Y'),
            _ => true,
        }
    }

    /// Produces conversion `ch`; false if glibc does not know it.
    fn dispatch(&mut self, ch: char, tm: &Tm, out: &mut Sink<'_>) -> bool {
        match ch {
            'c' => self.subformat(C_DATE_TIME, tm, out),
            'x' | 'D' => self.subformat(C_DATE, tm, out),
            'X' | 'T' => self.subformat(C_TIME, tm, out),
            'r' => self.subformat(C_TIME_AMPM, tm, out),
            'R' => self.subformat("%H:%M", tm, out),
            'F' => self.subformat("%Y-%m-%d", tm, out),
            '%' => self.cpy(out, &["%"]),
            'n' => self.cpy(out, &["\n"]),
            't' => self.cpy(out, &["\t"]),
            's' => self.signed(out, 1, tm.unix),
            'z' => self.offset(tm, out),
            _ => return self.text_conv(ch, tm, out) || self.numeric(ch, tm, out),
        }
        true
    }

    /// The name-like conversions; false if `ch` is not one of them.
    fn text_conv(&mut self, ch: char, tm: &Tm, out: &mut Sink<'_>) -> bool {
        let weekday = WEEKDAYS.get(usize::from(tm.weekday)).copied();
        let month = MONTHS.get(usize::from(tm.month).wrapping_sub(1)).copied();
        let (text, hash_upper) = match ch {
            'a' => (weekday.map_or("?", abbreviate), true),
            'A' => (weekday.unwrap_or("?"), true),
            'b' | 'h' => (month.map_or("?", abbreviate), true),
            'B' => (month.unwrap_or("?"), true),
            'p' | 'P' => (if tm.hour > 11 { "PM" } else { "AM" }, false),
            'Z' => (tm.zone.as_str(), false),
            _ => return false,
        };
        self.lower |= ch == 'P';
        if self.change_case {
            // `#` upper-cases names but lower-cases AM/PM and zones.
            self.upper = hash_upper;
            self.lower = !hash_upper;
        }
        self.cpy(out, &[text]);
        true
    }

    /// The numeric conversions; false if `ch` is not one of them.
    fn numeric(&mut self, ch: char, tm: &Tm, out: &mut Sink<'_>) -> bool {
        let year = tm.year;
        let tm_year = year.wrapping_sub(1900);
        let yday = i32::from(tm.yday);
        let wday = i32::from(tm.weekday);
        let hour12 = match tm.hour {
            0 => 12,
            h if h > 12 => h - 12,
            h => h,
        };
        let (digits, value, space) = match ch {
            'C' => (1, year / 100 - i32::from(year % 100 < 0), false),
            'd' => (2, i32::from(tm.day), false),
            'e' => (2, i32::from(tm.day), true),
            'H' => (2, i32::from(tm.hour), false),
            'k' => (2, i32::from(tm.hour), true),
            'I' => (2, i32::from(hour12), false),
            'l' => (2, i32::from(hour12), true),
            'j' => (3, 1 + yday, false),
            'M' => (2, i32::from(tm.minute), false),
            'm' => (2, i32::from(tm.month), false),
            'S' => (2, i32::from(tm.second), false),
            'u' => (1, (wday - 1 + 7) % 7 + 1, false),
            'U' => (2, (yday - wday + 7) / 7, false),
            'W' => (2, (yday - (wday - 1 + 7) % 7 + 7) / 7, false),
            'w' => (1, wday, false),
            'Y' => (1, year, false),
            'y' => (2, (tm_year % 100 + 100) % 100, false),
            'G' => (1, iso_week(year, yday, wday).0, false),
            'g' => (2, (iso_week(year, yday, wday).0 % 100 + 100) % 100, false),
            'V' => (2, iso_week(year, yday, wday).1 / 7 + 1, false),
            _ => return false,
        };
        self.number(out, digits, value, space);
        true
    }

    /// `%z`: `+hhmm`, nothing when DST is unknown. glibc pads the sign as
    /// a one-character field and then the number as a four-digit field,
    /// both with the same width, and drops leftover seconds.
    fn offset(&mut self, tm: &Tm, out: &mut Sink<'_>) {
        if tm.isdst < 0 {
            return;
        }
        let sign = if tm.utc_offset < 0 { "-" } else { "+" };
        self.cpy(out, &[sign]);
        let minutes = tm.utc_offset.unsigned_abs() / 60;
        let hhmm = (minutes / 60) * 100 + minutes % 60;
        self.number(out, 4, i32::try_from(hhmm).unwrap_or(i32::MAX), false);
    }

    /// glibc's `DO_NUMBER` / `DO_NUMBER_SPACEPAD`. The `O` modifier
    /// would pick the locale's alternative digits; the C locale has none.
    fn number(&mut self, out: &mut Sink<'_>, min_digits: i32, value: i32, space: bool) {
        if space && self.pad != b'0' && self.pad != b'-' {
            self.pad = b'_';
        }
        let digits = min_digits.max(self.width);
        self.signed(out, digits, i64::from(value));
    }

    /// Prints `value` padded to `digits` (glibc's
    /// `do_number_sign_and_padding`), then through the field width.
    fn signed(&mut self, out: &mut Sink<'_>, digits: i32, value: i64) {
        let mut buf = [0u8; 20];
        let text = decimal(value.unsigned_abs(), &mut buf);
        let mut negative = value < 0;
        let len = text.len() as i64 + i64::from(negative);
        let padding = i64::from(digits) - len;
        if self.pad != b'-' && padding > 0 {
            if self.pad == b'_' {
                out.fill(b' ', padding as u64);
                self.width = (i64::from(self.width) - padding).max(0) as i32;
            } else {
                if negative {
                    out.text("-", Case::Keep);
                    negative = false;
                }
                out.fill(b'0', padding as u64);
                self.width = 0;
            }
        }
        let sign = if negative { "-" } else { "" };
        self.cpy(out, &[sign, text]);
    }

    /// A C-locale sub-format such as `%c`: padded as one field, then
    /// upper-cased as a whole by `^`.
    fn subformat(&mut self, sub: &str, tm: &Tm, out: &mut Sink<'_>) {
        // Only a field width needs the length first (a dry run); without
        // one, as in nearly every real format, nothing is padded.
        if self.width > 0 {
            let mut counter = Sink::new(&mut []);
            run(sub, tm, &mut counter);
            self.pad_to(out, counter.chars());
        }
        let outer = out.upper;
        out.upper |= self.upper;
        run(sub, tm, out);
        out.upper = outer;
    }

    /// An unknown or rejected specification: glibc copies it from the `%`
    /// on, still honouring width, padding and case flags.
    fn bad_format(&mut self, spec_after_percent: &str, out: &mut Sink<'_>) {
        self.cpy(out, &["%", spec_after_percent]);
    }

    /// glibc's `cpy`: pads `parts` to the field width, then copies them
    /// with the requested case mapping.
    fn cpy(&mut self, out: &mut Sink<'_>, parts: &[&str]) {
        if self.width > 0 {
            let n: u64 = parts.iter().map(|p| char_count(p)).sum();
            self.pad_to(out, n);
        }
        let case = if self.lower {
            Case::Lower
        } else if self.upper {
            Case::Upper
        } else {
            Case::Keep
        };
        for part in parts {
            out.text(part, case);
        }
    }

    /// Pads a field of `n` characters to the width: zeros with the `0`
    /// flag, spaces otherwise (even with `-`).
    fn pad_to(&self, out: &mut Sink<'_>, n: u64) {
        let delta = i64::from(self.width) - n.min(i64::MAX as u64) as i64;
        if delta > 0 {
            out.fill(if self.pad == b'0' { b'0' } else { b' ' }, delta as u64);
        }
    }
}

fn abbreviate(name: &str) -> &str {
    name.get(..3).unwrap_or(name)
}

/// The decimal digits of `v`, written into the end of `buf`.
fn decimal(mut v: u64, buf: &mut [u8; 20]) -> &str {
    let mut start = buf.len();
    loop {
        start -= 1;
        if let Some(slot) = buf.get_mut(start) {
            *slot = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 || start == 0 {
            break;
        }
    }
    core::str::from_utf8(buf.get(start..).unwrap_or(&[])).unwrap_or("")
}

fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days from the Monday of ISO week 1 to the day `yday` (glibc's
/// `iso_week_days`); negative before week 1.
fn iso_week_days(yday: i32, wday: i32) -> i32 {
    const BIG_ENOUGH_MULTIPLE_OF_7: i32 = (366 / 7 + 2) * 7;
    yday - (yday - wday + 4 + BIG_ENOUGH_MULTIPLE_OF_7) % 7 + 3
}

/// The ISO 8601 week-based year and the day offset within it (week =
/// offset / 7 + 1), moving to the neighbouring year where needed.
fn iso_week(year: i32, yday: i32, wday: i32) -> (i32, i32) {
    let days = iso_week_days(yday, wday);
    if days < 0 {
        let prev = year.wrapping_sub(1);
        let len = 365 + i32::from(is_leap(prev));
        return (prev, iso_week_days(yday + len, wday));
    }
    let len = 365 + i32::from(is_leap(year));
    let next = iso_week_days(yday - len, wday);
    if next >= 0 {
        (year.wrapping_add(1), next)
    } else {
        (year, days)
    }
}
