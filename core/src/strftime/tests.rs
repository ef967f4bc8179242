//! Unit tests for the tricky corners (expected values taken from Python
//! 3.11 on glibc 2.36); the full cross-check against Python lives in
//! `core/tests/strftime_python.rs`.

extern crate std;

use std::string::String as StdString;
use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use super::*;

fn fmt(f: &str, tm: &Tm) -> StdString {
    let mut out = vec![0u8; 1 << 16];
    let n = strftime(f.as_bytes(), tm, &mut out).unwrap();
    StdString::from_utf8(out[..n].to_vec()).unwrap()
}

/// 2024-02-29 00:07:09 Thursday at UTC+05:45, zone "ABC".
fn leap_day() -> Tm {
    Tm::from_unix(1_709_144_529, 20_700, "ABC")
}

fn year(y: i32) -> Tm {
    let mut tm = Tm::from_unix(0, 0, "X");
    tm.year = y;
    tm.weekday = 1;
    tm
}

#[test]
fn minus_flag_drops_number_padding_but_not_the_width() {
    let tm = leap_day();
    assert_eq!(
        fmt("%-5d|%_5d|%05d|%5d|%-d", &tm),
        "   29|   29|00029|00029|29"
    );
    assert_eq!(
        fmt("%10a|%010a|%-10a", &tm),
        "       Thu|0000000Thu|       Thu"
    );
}

#[test]
fn offset_pads_sign_and_number_separately() {
    let tm = leap_day();
    assert_eq!(fmt("%z", &tm), "+0545");
    assert_eq!(fmt("%10z", &tm), "         +0000000545");
    assert_eq!(fmt("%_10z", &tm), "         +       545");
    assert_eq!(fmt("%010z", &tm), "000000000+0000000545");
    assert_eq!(fmt("%-z", &tm), "+545");
    let mut odd = tm.clone();
    odd.utc_offset = -3599;
    assert_eq!(fmt("%z|%_z|%-9z", &odd), "-0059|-  59|        -       59");
    odd.utc_offset = i32::MIN;
    assert_eq!(fmt("%z", &odd), "-59652314");
    odd.isdst = -1;
    assert_eq!(fmt("[%z]", &odd), "[]");
}

#[test]
fn case_flags() {
    let tm = leap_day();
    assert_eq!(
        fmt("%^a|%#a|%#Z|%^Z|%^P|%#p|%^#p", &tm),
        "THU|THU|abc|ABC|am|am|am"
    );
    assert_eq!(fmt("%^c", &tm), "THU FEB 29 00:07:09 2024");
    assert_eq!(
        fmt("%^q|%^10q|%^é|%^ß|%#Eh", &tm),
        "%^Q|     %^10Q|%^É|%^ß|%#EH"
    );
}

#[test]
fn unknown_and_trailing_specifications_are_copied() {
    let tm = leap_day();
    assert_eq!(fmt("%q|%é|%+4Y|%Oc|%OY|%Eb", &tm), "%q|%é|%+4Y|%Oc|%OY|%Eb");
    assert_eq!(fmt("%", &tm), "%");
    assert_eq!(fmt("%%%", &tm), "%%");
    assert_eq!(fmt("%5", &tm), "   %5");
    assert_eq!(fmt("%-", &tm), "%-");
    assert_eq!(fmt("%5E", &tm), "  %5E");
    assert_eq!(fmt("%E%|%5%|%En|%Ep", &tm), "%|    %|\n|AM");
}

#[test]
fn subformats_pad_as_one_field() {
    let tm = leap_day();
    assert_eq!(
        fmt("%10D|%010T|%_10R", &tm),
        "  02/29/24|0000:07:09|     00:07"
    );
    assert_eq!(
        fmt("%c|%x|%X|%r", &tm),
        "Thu Feb 29 00:07:09 2024|02/29/24|00:07:09|12:07:09 AM"
    );
}

#[test]
fn negative_and_large_years() {
    let f = "%Y|%C|%y|%_5Y|%05Y|%05C|%_3y";
    assert_eq!(fmt(f, &year(-12)), "-12|-1|88|  -12|-0012|-0001| 88");
    assert_eq!(fmt(f, &year(-100)), "-100|-1|00| -100|-0100|-0001|  0");
    assert_eq!(fmt(f, &year(-101)), "-101|-2|99| -101|-0101|-0002| 99");
    assert_eq!(
        fmt(f, &year(123_456)),
        "123456|1234|56|123456|123456|01234| 56"
    );
    assert_eq!(fmt("%c", &year(-12)), "Mon Jan  1 00:00:00 -12");
}

#[test]
fn iso_weeks_at_year_boundaries() {
    // 2008-12-31 is in 2009-W01; 2005-01-01 in 2004-W53; 2010-01-03 in 2009-W53.
    let t = |unix| fmt("%G-W%V-%u %g %U %W", &Tm::from_unix(unix, 0, "UTC"));
    assert_eq!(t(1_230_681_600), "2009-W01-3 09 52 52");
    assert_eq!(t(1_104_537_600), "2004-W53-6 04 00 00");
    assert_eq!(t(1_262_476_800), "2009-W53-7 09 01 00");
}

#[test]
fn twelve_hour_clock_and_leap_second() {
    let mut tm = Tm::from_unix(43_200, 0, "UTC");
    assert_eq!(fmt("%I %l %p %k", &tm), "12 12 PM 12");
    tm.hour = 0;
    tm.second = 60;
    assert_eq!(fmt("%I %l %p %k %S %T", &tm), "12 12 AM  0 60 00:00:60");
}

#[test]
fn seconds_since_epoch_uses_the_width_only() {
    let mut tm = Tm::from_unix(-5, 0, "UTC");
    assert_eq!(fmt("%s|%5s|%05s|%-5s", &tm), "-5|   -5|000-5|   -5");
    tm.unix = i64::MIN;
    assert_eq!(fmt("%s", &tm), "-9223372036854775808");
}

#[test]
fn python_gives_up_on_results_256_times_the_format() {
    let tm = leap_day();
    assert_eq!(fmt("%2047Y", &tm).len(), 2047);
    assert_eq!(fmt("%2048Y", &tm), "");
    assert_eq!(fmt("%2046Ya", &tm).len(), 2047);
    assert_eq!(fmt("%2047Ya", &tm), "");
    let mut small = [0u8; 8];
    assert_eq!(strftime(b"%2147483647Y", &tm, &mut small), Ok(0));
}

#[test]
fn errors() {
    let tm = leap_day();
    let mut out = [0u8; 4];
    assert_eq!(
        strftime(b"%Y-%m", &tm, &mut out),
        Err(StrftimeError::OutputTooLong { limit: 4 })
    );
    assert_eq!(strftime(b"%Y", &tm, &mut out), Ok(4));
    assert_eq!(
        strftime(b"a\xffb", &tm, &mut out),
        Err(StrftimeError::InvalidUtf8)
    );
    assert_eq!(
        strftime(b"a\0b", &tm, &mut out),
        Err(StrftimeError::EmbeddedNul)
    );
}

#[test]
fn out_of_range_fields_print_question_marks() {
    let mut tm = leap_day();
    tm.month = 13;
    tm.weekday = 9;
    assert_eq!(fmt("%a %A %b %B %m", &tm), "? ? ? ? 13");
}

#[test]
fn from_unix_extremes_do_not_overflow() {
    for t in [i64::MIN, i64::MAX, -1, 0] {
        for off in [i32::MIN, i32::MAX, 0] {
            let tm = Tm::from_unix(t, off, "a zone name longer than sixteen");
            assert!(tm.month >= 1 && tm.month <= 12 && tm.weekday < 7);
            assert_eq!(tm.zone.as_str(), "a zone name long");
        }
    }
}

fn any_tm() -> impl Strategy<Value = Tm> {
    (
        (
            any::<i32>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
        ),
        (
            any::<u8>(),
            any::<u8>(),
            any::<u16>(),
            any::<i32>(),
            any::<i8>(),
        ),
        ("[a-zA-Zé+-]{0,5}", any::<i64>()),
    )
        .prop_map(|((year, month, day, hour, minute), rest, (zone, unix))| {
            let (second, weekday, yday, utc_offset, isdst) = rest;
            let mut tm = Tm::from_unix(unix, 0, &zone);
            (tm.year, tm.month, tm.day, tm.hour, tm.minute) = (year, month, day, hour, minute);
            (tm.second, tm.weekday, tm.yday) = (second, weekday, yday);
            (tm.utc_offset, tm.isdst) = (utc_offset, isdst);
            tm
        })
}

proptest! {
    /// Random bytes and random (even nonsensical) fields never panic, and
    /// a result is either complete or an error: the exact-size buffer
    /// gives the same bytes, one byte less gives `OutputTooLong`.
    #[test]
    fn never_panics_never_truncates(
        fmt in proptest::collection::vec(
            prop_oneof![Just(b'%'), any::<u8>(), Just(b'-'), Just(b'9')], 0..48),
        tm in any_tm(),
    ) {
        let mut big = vec![0u8; 1 << 14];
        let Ok(n) = strftime(&fmt, &tm, &mut big) else { return Ok(()) };
        let mut exact: Vec<u8> = vec![0u8; n];
        prop_assert_eq!(strftime(&fmt, &tm, &mut exact), Ok(n));
        prop_assert_eq!(&exact[..], &big[..n]);
        if n > 0 {
            let mut short = vec![0u8; n - 1];
            prop_assert_eq!(
                strftime(&fmt, &tm, &mut short),
                Err(StrftimeError::OutputTooLong { limit: n - 1 })
            );
        }
    }
}

proptest! {
    #[test]
    fn div_floor_is_div_euclid(a in any::<i64>(), b in prop_oneof![
        Just(7u32), Just(400), Just(86_400), Just(146_097), 1u32..,
    ]) {
        let want = (a.div_euclid(i64::from(b)), a.rem_euclid(i64::from(b)) as u32);
        prop_assert_eq!(div_floor(a, b), want);
    }

    /// The civil conversions round-trip over ±2^40 days (far beyond any
    /// `i32` year a `Tm` holds), and day 0 is 1970-01-01.
    #[test]
    fn civil_days_round_trip(days in -(1i64 << 40)..(1i64 << 40)) {
        let (y, m, d) = civil_from_days(days);
        prop_assert!((1..=12).contains(&m) && (1..=31).contains(&d));
        prop_assert_eq!(days_from_civil(y, m, d), days);
    }
}

#[test]
fn civil_edges() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(-1), (1969, 12, 31));
    assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    assert_eq!(div_floor(i64::MIN, 1), (i64::MIN, 0));
    assert_eq!(div_floor(-1, 7), (-1, 6));
}
