//! Seed 000's download: the client sends a bare file name; the server
//! answers `struct.pack('i', len(json))`, the JSON
//! `{"lenth": N, "md5": "...", "size(MB)": X}` as Python's `json.dumps`
//! writes it, then the N bytes; `{}` when the file does not exist.

use core::fmt::Write as _;

use super::text::{json_string, SliceWriter};
use crate::wire::{Digest, PREFIX_LEN};

/// Most bytes the seed reads for a file name (`conn.recv(1024)`).
pub const MAX_REQUEST: usize = 1024;

/// Room needed for any seed 000 header.
pub const HEADER_CAP: usize = 128;

/// The file name in a seed 000 request: the bytes as UTF-8, without a
/// trailing line end (a typed name may carry one). `None` if not UTF-8.
pub fn request_name(bytes: &[u8]) -> Option<&str> {
    let s = core::str::from_utf8(bytes).ok()?;
    Some(s.trim_end_matches(['\r', '\n']))
}

/// Writes the prefix and JSON header into `out` (at least
/// [`HEADER_CAP`] bytes): the file's length and md5, or `{}` when `file`
/// is `None`. Returns the bytes written, or `None` if `out` is too small.
///
/// ```
/// use wirekit_core::service::file::seed000::header;
/// use wirekit_core::wire::Digest;
/// let mut out = [0u8; 128];
/// let n = header(Some((12, Digest::of(b"hello world\n"))), &mut out).unwrap();
/// assert_eq!(&out[4..n], br#"{"lenth": 12, "md5": "6f5902ac237024bdd0c176cb93063dc4", "size(MB)": 0.0}"#);
/// assert_eq!(header(None, &mut out), Some(6));
/// assert_eq!(&out[..6], b"\x02\x00\x00\x00{}");
/// ```
pub fn header(file: Option<(u64, Digest)>, out: &mut [u8]) -> Option<usize> {
    let body = out.get_mut(PREFIX_LEN..)?;
    let mut w = SliceWriter::new(body);
    let r = match file {
        None => w.write_str("{}"),
        Some((len, md5)) => {
            let hex = md5.to_hex();
            (|| {
                write!(w, "{{\"lenth\": {len}, \"md5\": ")?;
                json_string(
                    &mut w,
                    core::str::from_utf8(&hex).map_err(|_| core::fmt::Error)?,
                )?;
                w.write_str(", \"size(MB)\": ")?;
                size_mb(len, &mut w)?;
                w.write_str("}")
            })()
        }
    };
    r.ok()?;
    let n = w.len();
    out[..PREFIX_LEN].copy_from_slice(&u32::try_from(n).ok()?.to_le_bytes());
    Some(PREFIX_LEN + n)
}

/// Writes `round(len / 1048576, 2)` as Python's `repr` of that float: at
/// least one decimal, trailing zeros dropped (`0.0`, `1.5`, `2.25`).
/// Python rounds the exact binary value half to even; `len / 2^20` is
/// exact, so integer arithmetic gives the same digits.
pub fn size_mb(len: u64, w: &mut impl core::fmt::Write) -> core::fmt::Result {
    let num = u128::from(len) * 100;
    let den: u128 = 1 << 20;
    let (mut k, r) = (num / den, num % den);
    if 2 * r > den || (2 * r == den && k % 2 == 1) {
        k += 1;
    }
    let (int, frac) = (k / 100, k % 100);
    if frac % 10 == 0 {
        write!(w, "{int}.{}", frac / 10)
    } else {
        write!(w, "{int}.{frac:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::String;

    fn mb(len: u64) -> String {
        let mut s = String::new();
        size_mb(len, &mut s).unwrap();
        s
    }

    #[test]
    fn size_mb_matches_python_round() {
        // Values checked with python3: repr(round(n / float(1024*1024), 2)).
        assert_eq!(mb(0), "0.0");
        assert_eq!(mb(12), "0.0");
        assert_eq!(mb(1 << 20), "1.0");
        assert_eq!(mb(3 << 19), "1.5");
        assert_eq!(mb(1_310_720), "1.25");
        assert_eq!(mb(131_072), "0.12"); // 0.125 exactly: half to even
        assert_eq!(mb(393_216), "0.38"); // 0.375 exactly: half to even
        assert_eq!(mb(10_485), "0.01");
        assert_eq!(mb(5 << 30), "5120.0");
    }

    #[test]
    fn request_names() {
        assert_eq!(request_name(b"a.txt\r\n"), Some("a.txt"));
        assert_eq!(request_name(b"\xff"), None);
    }

    #[test]
    fn small_buffer_is_none() {
        let mut out = [0u8; 20];
        assert_eq!(header(Some((1, Digest::of(b"x"))), &mut out), None);
    }
}
