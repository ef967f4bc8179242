//! Byte sizes as people write them on a command line: `1048576`, `64K`,
//! `16M`, `256M`, `64G`, `1T` (powers of 1024; `KiB`/`KB`/`k` forms and a
//! space before the unit are accepted too). Used by the size options of
//! `wirekit serve` (`--files-max-size 64G`).

/// Why a size was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeError {
    /// Not digits followed by an optional unit.
    Malformed,
    /// The unit is none of B, K, M, G, T (optionally with `iB`/`B`).
    UnknownUnit,
    /// The value does not fit in 64 bits.
    TooLarge,
}

impl core::fmt::Display for SizeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Malformed => "not a size: want bytes, or a number with K, M, G or T",
            Self::UnknownUnit => "unknown unit: use K, M, G or T (powers of 1024)",
            Self::TooLarge => "size too large",
        })
    }
}

impl core::error::Error for SizeError {}

/// Parses `s` as a number of bytes with an optional binary unit.
pub fn parse_size(s: &str) -> Result<u64, SizeError> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(SizeError::Malformed);
    }
    let (num, unit) = s.split_at(digits);
    let shift = unit_shift(unit.trim_start()).ok_or(SizeError::UnknownUnit)?;
    let mut value: u64 = 0;
    for d in num.bytes() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(SizeError::TooLarge)?;
    }
    value.checked_mul(1u64 << shift).ok_or(SizeError::TooLarge)
}

/// The power of two a unit stands for: `B` or nothing 0, `K`/`KB`/`KiB`
/// 10, and so on up to `T` (any case).
fn unit_shift(unit: &str) -> Option<u32> {
    let Some((letter, rest)) = unit.as_bytes().split_first() else {
        return Some(0);
    };
    let shift = match letter.to_ascii_uppercase() {
        b'B' if rest.is_empty() => return Some(0),
        b'K' => 10,
        b'M' => 20,
        b'G' => 30,
        b'T' => 40,
        _ => return None,
    };
    let tail_ok =
        rest.is_empty() || rest.eq_ignore_ascii_case(b"B") || rest.eq_ignore_ascii_case(b"iB");
    tail_ok.then_some(shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("64G"), Ok(64 << 30));
        assert_eq!(parse_size("16M"), Ok(16 << 20));
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("1 k"), Ok(1024));
        assert_eq!(parse_size("2TB"), Ok(2 << 40));
        assert_eq!(parse_size("7b"), Ok(7));
        assert_eq!(parse_size(""), Err(SizeError::Malformed));
        assert_eq!(parse_size("-1"), Err(SizeError::Malformed));
        assert_eq!(parse_size("1.5G"), Err(SizeError::UnknownUnit));
        assert_eq!(parse_size("3X"), Err(SizeError::UnknownUnit));
        assert_eq!(parse_size("1Gx"), Err(SizeError::UnknownUnit));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_size("18446744073709551616"), Err(SizeError::TooLarge));
        assert_eq!(parse_size("16777216T"), Err(SizeError::TooLarge));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,24}") {
            let _ = parse_size(&s);
        }

        #[test]
        fn units_scale_plain_bytes(n in 0u64..1 << 20, u in 0usize..5) {
            let (suffix, shift) = [("", 0), ("K", 10), ("M", 20), ("G", 30), ("T", 40)][u];
            let text = alloc_free_format(n, suffix);
            proptest::prop_assert_eq!(parse_size(text.as_str()), Ok(n << shift));
        }
    }

    /// `n` followed by `suffix`, in a fixed buffer (no alloc in core).
    fn alloc_free_format(n: u64, suffix: &str) -> heapless::String<32> {
        use core::fmt::Write;
        let mut s = heapless::String::new();
        write!(s, "{n}{suffix}").unwrap();
        s
    }
}
