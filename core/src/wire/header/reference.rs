//! The reference header parser, serde-json-core: the host's answer for
//! every header outside the scanner's subset, and the oracle the tests and
//! fuzz targets hold the scanner to. Only with the `json-reference`
//! feature; firmware images leave it (and serde) out.

use serde::Deserialize;
use serde_json_core::str::EscapedStr;

use super::{HeaderError, WireIn, NAME_CAP};

/// The wire shape as serde sees it; strings borrowed and escaped.
#[derive(Deserialize, Default)]
struct SerdeWire<'a> {
    #[serde(borrow)]
    op: Option<EscapedStr<'a>>,
    #[serde(default, alias = "file_size", alias = "lenth")]
    total_size: u64,
    #[serde(borrow)]
    md5: Option<EscapedStr<'a>>,
    #[serde(borrow, alias = "file_name")]
    filename: Option<EscapedStr<'a>>,
    offset: Option<u64>,
    #[serde(borrow)]
    status: Option<EscapedStr<'a>>,
    #[serde(borrow)]
    error: Option<EscapedStr<'a>>,
    exit_code: Option<i32>,
    #[serde(borrow)]
    token: Option<EscapedStr<'a>>,
    #[serde(borrow)]
    nonce: Option<EscapedStr<'a>>,
    force: Option<bool>,
    mtime: Option<u64>,
    truncated: Option<bool>,
    size: Option<u64>,
    resume: Option<bool>,
}

/// Parses `json` with serde-json-core.
pub(super) fn wire(json: &[u8]) -> Result<WireIn<'_>, HeaderError> {
    // serde-json-core reports a non-object as a type error; say what it is.
    if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(HeaderError::NotJson);
    }
    let (w, _) = serde_json_core::from_slice::<SerdeWire<'_>>(json).map_err(map_de_error)?;
    Ok(WireIn {
        op: raw(w.op),
        total_size: w.total_size,
        md5: raw(w.md5),
        filename: raw(w.filename),
        offset: w.offset,
        status: raw(w.status),
        error: raw(w.error),
        exit_code: w.exit_code,
        token: raw(w.token),
        nonce: raw(w.nonce),
        force: w.force,
        mtime: w.mtime,
        truncated: w.truncated,
        size: w.size,
        resume: w.resume,
        plain: false,
    })
}

fn raw(s: Option<EscapedStr<'_>>) -> Option<&str> {
    s.map(|s| s.0)
}

fn map_de_error(e: serde_json_core::de::Error) -> HeaderError {
    use serde_json_core::de::Error as E;
    match e {
        E::EscapedStringIsTooLong => HeaderError::StringTooLong { limit: NAME_CAP },
        E::InvalidType | E::InvalidNumber | E::CustomError | E::InvalidUnicodeCodePoint => {
            HeaderError::InvalidField
        }
        _ => HeaderError::NotJson,
    }
}
