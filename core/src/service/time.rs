//! Time services: the seeds' UDP strftime server and the RFC 868 time
//! protocol (both used by the host and the firmware).

use crate::decimal::Decimal;
use crate::strftime::{strftime, StrftimeError, Tm};

/// The format the seeds' server uses for an empty datagram.
pub const DEFAULT_FORMAT: &[u8] = b"%Y-%m-%d %X";

/// Largest format a request may carry (the seeds' server reads 1024 bytes).
pub const MAX_FORMAT_LEN: usize = 1024;

/// Largest answer the time service sends: the seeds' client reads 1024
/// bytes, and a cap keeps a 6-byte request such as `%2047Y` from turning
/// into a 2 KiB reply (a UDP amplifier). Longer results get an error text.
pub const MAX_ANSWER_LEN: usize = 1024;

/// Seconds between 1900-01-01 (RFC 868's epoch) and 1970-01-01.
pub const RFC868_EPOCH_OFFSET: i64 = 2_208_988_800;

/// Answers one time-service datagram: the formatted time, or a readable
/// error text (starting with `error: `) when the format is bad or the result
/// does not fit in `out` or in [`MAX_ANSWER_LEN`]. Returns the number of
/// bytes written to `out`.
pub fn answer(request: &[u8], now: &Tm, out: &mut [u8]) -> usize {
    let cap = out.len().min(MAX_ANSWER_LEN);
    let out = out.get_mut(..cap).unwrap_or_default();
    let fmt = if request.is_empty() {
        DEFAULT_FORMAT
    } else {
        request
    };
    let result = if fmt.len() > MAX_FORMAT_LEN {
        Err(None)
    } else {
        strftime(fmt, now, out).map_err(Some)
    };
    match result {
        Ok(n) => n,
        Err(e) => write_error(e, out),
    }
}

/// Writes `error: ` and the reason, cut to `out`. Piece by piece rather
/// than with `write!`: the firmware images format nothing else with
/// `core::fmt`, whose machinery costs them KiBs of flash. The words are
/// [`StrftimeError`]'s `Display` (a test holds them to it).
fn write_error(e: Option<StrftimeError>, out: &mut [u8]) -> usize {
    let (text, number, tail) = match e {
        Some(StrftimeError::OutputTooLong { limit }) => {
            ("formatted time longer than ", Some(limit), " bytes")
        }
        Some(StrftimeError::InvalidUtf8) => ("format is not valid UTF-8", None, ""),
        Some(StrftimeError::EmbeddedNul) => ("format contains a NUL byte", None, ""),
        None => ("format longer than ", Some(MAX_FORMAT_LEN), " bytes"),
    };
    let digits = number.map(|n| Decimal::unsigned(n as u64));
    let pieces = [
        b"error: ".as_slice(),
        text.as_bytes(),
        digits.as_ref().map_or(&[], Decimal::as_bytes),
        tail.as_bytes(),
    ];
    let bytes = pieces.into_iter().flatten();
    // Iterators, not indexing: no panic path.
    let mut n = 0;
    for (dst, src) in out.iter_mut().zip(bytes) {
        *dst = *src;
        n += 1;
    }
    n
}

/// RFC 868: the time as 32-bit big-endian seconds since 1900-01-01 UTC
/// (wrapping in 2036 as the RFC's counter does).
pub fn rfc868(unix: i64) -> [u8; 4] {
    ((unix + RFC868_EPOCH_OFFSET) as u32).to_be_bytes()
}

/// Inverse of [`rfc868`] for a time after 1970, taking the era that puts the
/// result nearest to `reference_unix` (so it keeps working after 2036).
pub fn unix_from_rfc868(bytes: [u8; 4], reference_unix: i64) -> i64 {
    let raw = i64::from(u32::from_be_bytes(bytes)) - RFC868_EPOCH_OFFSET;
    let era = 1i64 << 32;
    let k = (reference_unix - raw + era / 2).div_euclid(era);
    raw + k * era
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_request_uses_default_format() {
        let tm = Tm::from_unix(1_700_000_000, 0, "UTC");
        let mut out = [0u8; 64];
        let n = answer(b"", &tm, &mut out);
        assert_eq!(&out[..n], b"2023-11-14 22:13:20");
    }

    #[test]
    fn oversized_format_gets_error_text() {
        let tm = Tm::from_unix(0, 0, "UTC");
        let mut out = [0u8; 64];
        let n = answer(&[b'a'; 2000], &tm, &mut out);
        assert!(out[..n].starts_with(b"error: "));
    }

    #[test]
    fn error_texts_are_the_display_texts_cut_to_the_buffer() {
        extern crate std;
        use std::format;
        let cases = [
            (Some(StrftimeError::OutputTooLong { limit: 7 }), None),
            (Some(StrftimeError::InvalidUtf8), None),
            (Some(StrftimeError::EmbeddedNul), None),
            (
                None,
                Some(format!("error: format longer than {MAX_FORMAT_LEN} bytes")),
            ),
        ];
        for (e, text) in cases {
            let want = text.unwrap_or_else(|| format!("error: {}", e.unwrap()));
            for room in [0, 5, 30, 200] {
                let mut out = [0u8; 200];
                let n = write_error(e, &mut out[..room]);
                assert_eq!(&out[..n], &want.as_bytes()[..want.len().min(room)]);
            }
        }
    }

    #[test]
    fn answers_are_capped_at_1024_bytes() {
        let tm = Tm::from_unix(1_700_000_000, 0, "UTC");
        let mut out = [0u8; 4096];
        let n = answer(b"%1024Y", &tm, &mut out);
        assert_eq!(n, MAX_ANSWER_LEN);
        assert!(out[..n].ends_with(b"2023"));
        for req in [&b"%1025Y"[..], b"%2047Y", b"%1000Y%1000Y"] {
            let n = answer(req, &tm, &mut out);
            assert_eq!(
                &out[..n],
                b"error: formatted time longer than 1024 bytes",
                "{req:?}"
            );
        }
        // A smaller buffer is its own, lower cap.
        let mut small = [0u8; 8];
        let n = answer(b"%Y-%m-%d", &tm, &mut small);
        assert!(small[..n].starts_with(b"error: "));
    }

    proptest::proptest! {
        /// Any request, any buffer: no panic, never more than the cap.
        #[test]
        fn any_request_is_answered_within_the_cap(
            req in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1500),
            room in 0usize..3000,
        ) {
            let tm = Tm::from_unix(1_700_000_000, 0, "UTC");
            let mut out = [0u8; 3000];
            let n = answer(&req, &tm, &mut out[..room]);
            proptest::prop_assert!(n <= room.min(MAX_ANSWER_LEN));
        }
    }

    #[test]
    fn rfc868_round_trip_and_known_value() {
        // 1970-01-01 is 2,208,988,800 s after 1900-01-01 (RFC 868 text).
        assert_eq!(rfc868(0), 2_208_988_800u32.to_be_bytes());
        for t in [
            0i64,
            1_700_000_000,
            2_085_978_495,
            2_085_978_497,
            4_000_000_000,
        ] {
            assert_eq!(unix_from_rfc868(rfc868(t), t + 1000), t);
        }
    }
}
