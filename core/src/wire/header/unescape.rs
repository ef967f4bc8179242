//! JSON string unescaping into bounded strings. Unlike serde-json-core's
//! own unescaper, it joins UTF-16 surrogate pairs (`\ud83d\ude00`), which
//! Python's `json.dumps` writes for every character outside the BMP.

use heapless::string::StringView;

use super::HeaderError;

/// Appends the unescaped form of `raw` (a JSON string body) to `out`.
pub(super) fn unescape(raw: &str, out: &mut StringView) -> Result<(), HeaderError> {
    let too_long = HeaderError::StringTooLong {
        limit: out.capacity(),
    };
    let mut rest = raw;
    // `split_once` and `get`, never `str` range indexing: its panic path
    // links ~3 KiB of Debug code into a firmware image.
    while let Some((plain, escape)) = rest.split_once('\\') {
        out.push_str(plain).map_err(|_| too_long)?;
        let (c, after) = unescape_one(escape)?;
        out.push(c).map_err(|_| too_long)?;
        rest = after;
    }
    out.push_str(rest).map_err(|_| too_long)
}

/// Decodes the escape after a backslash; returns the char and the rest.
fn unescape_one(s: &str) -> Result<(char, &str), HeaderError> {
    let bad = HeaderError::InvalidField;
    let mut chars = s.chars();
    let c = match chars.next().ok_or(bad)? {
        '"' => '"',
        '\\' => '\\',
        '/' => '/',
        'b' => '\u{8}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'u' => return unescape_u(chars.as_str()),
        _ => return Err(bad),
    };
    Ok((c, chars.as_str()))
}

fn unescape_u(s: &str) -> Result<(char, &str), HeaderError> {
    let bad = HeaderError::InvalidField;
    // Exactly four hex digits, as JSON says (`from_str_radix` would also
    // take a sign: `\u+041`).
    let hex4 = |s: &str| -> Result<u32, HeaderError> {
        let mut be = [0u8; 2];
        hex::decode_to_slice(s.get(..4).ok_or(bad)?, &mut be).map_err(|_| bad)?;
        Ok(u32::from(u16::from_be_bytes(be)))
    };
    let hi = hex4(s)?;
    let rest = s.get(4..).ok_or(bad)?;
    if !(0xD800..0xDC00).contains(&hi) {
        return Ok((char::from_u32(hi).ok_or(bad)?, rest));
    }
    let low = rest.strip_prefix("\\u").ok_or(bad)?;
    let lo = hex4(low)?;
    if !(0xDC00..0xE000).contains(&lo) {
        return Err(bad);
    }
    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    Ok((char::from_u32(c).ok_or(bad)?, low.get(4..).ok_or(bad)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unescaped(raw: &str) -> Result<heapless::String<16>, HeaderError> {
        let mut out = heapless::String::new();
        unescape(raw, out.as_mut_view()).map(|()| out)
    }

    #[test]
    fn u_escapes_take_exactly_four_hex_digits() {
        assert_eq!(unescaped(r"a\u0041\u00e9").unwrap(), "aAé");
        assert_eq!(unescaped(r"\ud83d\ude00").unwrap(), "😀");
        // Python's json.loads refuses these; a sign is not a hex digit.
        for bad in [r"\u+041", r"\u-041", r"\u004", r"\u00g1", r"\ud83d\u+e00"] {
            assert_eq!(unescaped(bad), Err(HeaderError::InvalidField), "{bad}");
        }
    }
}
