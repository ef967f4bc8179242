//! Decimal digits of integers without `core::fmt`.
//!
//! Why: an integer written through `Display` links the formatter machinery
//! (`core::fmt::write`, `Formatter::pad_integral`, the Debug code its panic
//! paths keep alive), several KiB that a firmware image which formats
//! nothing else can do without. The digits are the same bytes `Display`
//! writes (the unit tests use it as the oracle).

// Each service uses a part of this (time: unsigned; headers: signed too;
// chat: as text), so a firmware image with only some of them leaves the
// rest unused.
#![cfg_attr(not(all(feature = "frame", feature = "chat")), allow(dead_code))]

/// The digits of one integer, at most 20 of them plus a sign.
pub(crate) struct Decimal {
    buf: [u8; 21],
    start: usize,
}

impl Decimal {
    /// `n` in decimal, as `u64`'s `Display` writes it.
    // One copy, not one per caller: at opt-level "z" the firmware images
    // otherwise inline it (with its 64-bit division call) at every use.
    #[inline(never)]
    pub(crate) fn unsigned(mut n: u64) -> Decimal {
        // Zeros, not b'0': only `start..` is ever read, and a zero fill
        // reuses the memclr routine the image has anyway (a '0' fill
        // linked a memset of its own, 184 B).
        let mut buf = [0u8; 21];
        let mut start = buf.len();
        // Iterators, not indexing: no bounds-check panic (and the Display
        // code its message would link) on the firmware.
        for slot in buf.iter_mut().rev() {
            // On a 32-bit CPU this calls the 64-bit division routine,
            // which the firmware links for its own clocks anyway.
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
            start -= 1;
            if n == 0 {
                break;
            }
        }
        Decimal { buf, start }
    }

    /// `n` in decimal, as `i64`'s `Display` writes it.
    pub(crate) fn signed(n: i64) -> Decimal {
        let mut d = Decimal::unsigned(n.unsigned_abs());
        if n < 0 {
            // 20 digits at most, so the sign's slot exists.
            if let Some(slot) = d.buf.get_mut(d.start.wrapping_sub(1)) {
                *slot = b'-';
                d.start -= 1;
            }
        }
        d
    }

    /// The digits as text.
    pub(crate) fn as_str(&self) -> &str {
        // ASCII digits, always UTF-8.
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The ASCII digits (and sign).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }
}

/// Writes `n` to `w` as `Display` would, without `core::fmt::write`.
pub(crate) fn write_unsigned(
    w: &mut (impl core::fmt::Write + ?Sized),
    n: u64,
) -> core::fmt::Result {
    w.write_str(Decimal::unsigned(n).as_str())
}

/// Writes `n` to `w` as `Display` would, without `core::fmt::write`.
pub(crate) fn write_signed(w: &mut (impl core::fmt::Write + ?Sized), n: i64) -> core::fmt::Result {
    w.write_str(Decimal::signed(n).as_str())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use proptest::prelude::*;
    use std::string::ToString;

    use super::Decimal;

    #[test]
    fn extremes_match_display() {
        for n in [0, 1, 9, 10, 99, 100, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(Decimal::unsigned(n).as_bytes(), n.to_string().as_bytes());
        }
        for n in [0, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(Decimal::signed(n).as_bytes(), n.to_string().as_bytes());
        }
    }

    proptest! {
        #[test]
        fn any_integer_matches_display(u: u64, i: i64) {
            let (du, di) = (Decimal::unsigned(u), Decimal::signed(i));
            prop_assert_eq!(du.as_bytes(), u.to_string().into_bytes());
            prop_assert_eq!(di.as_bytes(), i.to_string().into_bytes());
        }
    }
}
