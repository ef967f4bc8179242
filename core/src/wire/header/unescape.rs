//! JSON string unescaping into bounded strings. Unlike serde-json-core's
//! own unescaper, it joins UTF-16 surrogate pairs (`\ud83d\ude00`), which
//! Python's `json.dumps` writes for every character outside the BMP.

use heapless::String;

use super::HeaderError;

/// Appends the unescaped form of `raw` (a JSON string body) to `out`.
pub(super) fn unescape<const N: usize>(raw: &str, out: &mut String<N>) -> Result<(), HeaderError> {
    let too_long = HeaderError::StringTooLong { limit: N };
    let mut rest = raw;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]).map_err(|_| too_long)?;
        let (c, after) = unescape_one(&rest[pos + 1..])?;
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
    let hex4 = |s: &str| -> Result<u32, HeaderError> {
        let h = s.get(..4).ok_or(bad)?;
        u32::from_str_radix(h, 16).map_err(|_| bad)
    };
    let hi = hex4(s)?;
    let rest = &s[4..];
    if !(0xD800..0xDC00).contains(&hi) {
        return Ok((char::from_u32(hi).ok_or(bad)?, rest));
    }
    let lo = rest.strip_prefix("\\u").map(hex4).ok_or(bad)??;
    if !(0xDC00..0xE000).contains(&lo) {
        return Err(bad);
    }
    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    Ok((char::from_u32(c).ok_or(bad)?, &rest[6..]))
}
