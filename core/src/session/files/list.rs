//! The lines of a `list` reply, byte for byte as the host's server writes
//! them (`serde_json::json!` with its sorted keys):
//! `{"dir":false,"mtime":1700000000,"name":"a.txt","size":5}\n`.
//!
//! A line is never buffered whole: it is formatted again for each piece of
//! output ([`Window`] keeps the bytes that fit), so a listing streams
//! through an output buffer of any size.

use core::fmt::{self, Write};

use crate::decimal::write_unsigned;

/// One directory entry, as a [`super::FileStore`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The entry's name within its directory.
    pub name: &'a str,
    /// Whether it is a directory.
    pub dir: bool,
    /// Size in bytes (0 for a directory, as the host reports it).
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: u64,
}

/// Writes `e`'s listing line, newline included.
// One copy for every writer (`dyn`, never inlined): the counting and the
// windowed writes each carried their own before, ~1 KiB of firmware flash.
#[inline(never)]
pub fn write_line(e: &Entry<'_>, w: &mut dyn Write) -> fmt::Result {
    // Pieces, not write!: no core::fmt machinery on firmware.
    w.write_str(if e.dir {
        "{\"dir\":true,\"mtime\":"
    } else {
        "{\"dir\":false,\"mtime\":"
    })?;
    write_unsigned(w, e.mtime)?;
    w.write_str(",\"name\":\"")?;
    write_json_str(e.name, w)?;
    w.write_str("\",\"size\":")?;
    write_unsigned(w, e.size)?;
    w.write_str("}\n")
}

/// The length of `e`'s listing line.
pub fn line_len(e: &Entry<'_>) -> usize {
    let mut c = Count(0);
    // Counting cannot fail.
    let _ = write_line(e, &mut c);
    c.0
}

/// A JSON string body escaped as serde_json escapes it: `"` and `\`,
/// the short forms `\b \t \n \f \r`, other C0 controls as `\u00XX`;
/// everything else (DEL and non-ASCII included) as it is.
fn write_json_str(s: &str, w: &mut dyn Write) -> fmt::Result {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            0x0c => "\\f",
            b'\r' => "\\r",
            0..=0x1f => "",
            _ => continue,
        };
        // `get`, not `str` indexing (whose panic path links Debug code
        // into a firmware image); `i` is at an ASCII byte, a boundary.
        w.write_str(s.get(start..i).unwrap_or_default())?;
        if short.is_empty() {
            const HEX: &str = "0123456789abcdef";
            let digit = |n: u8| HEX.get(usize::from(n)..usize::from(n) + 1).unwrap_or("0");
            // A C0 control: `\u00` and two lower-case hex digits.
            w.write_str("\\u00")?;
            w.write_str(digit(b >> 4))?;
            w.write_str(digit(b & 15))?;
        } else {
            w.write_str(short)?;
        }
        start = i + 1;
    }
    w.write_str(s.get(start..).unwrap_or_default())
}

/// Counts bytes written.
struct Count(usize);

impl Write for Count {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// Keeps bytes `skip..skip + out.len()` of what is written into `out`.
pub struct Window<'a> {
    out: &'a mut [u8],
    skip: usize,
    /// Bytes seen so far (kept or not).
    pub seen: usize,
    /// Bytes kept in `out`.
    pub kept: usize,
}

impl<'a> Window<'a> {
    /// A window over `out` that starts `skip` bytes into the text.
    pub fn new(out: &'a mut [u8], skip: usize) -> Self {
        Window {
            out,
            skip,
            seen: 0,
            kept: 0,
        }
    }
}

impl Write for Window<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let b = s.as_bytes();
        let from = self.skip.saturating_sub(self.seen).min(b.len());
        let n = (b.len() - from).min(self.out.len() - self.kept);
        let dst = self.out.get_mut(self.kept..self.kept + n);
        if let (Some(dst), Some(src)) = (dst, b.get(from..from + n)) {
            dst.copy_from_slice(src);
        }
        self.kept += n;
        self.seen += b.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::{String, ToString};

    use proptest::prelude::*;

    use super::*;

    fn line(e: &Entry<'_>) -> String {
        let mut s = String::new();
        write_line(e, &mut s).unwrap();
        s
    }

    fn serde_line(e: &Entry<'_>) -> String {
        let v = serde_json::json!({"name": e.name, "dir": e.dir, "size": e.size, "mtime": e.mtime});
        v.to_string() + "\n"
    }

    #[test]
    fn matches_the_host_bytes() {
        let e = Entry {
            name: "a \"q\"\\\u{1}\u{1f}\u{7f}é.txt",
            dir: false,
            size: 5,
            mtime: 1_700_000_000,
        };
        assert_eq!(line(&e), serde_line(&e));
        assert_eq!(line_len(&e), serde_line(&e).len());
        let d = Entry {
            name: "\u{8}\t\n\u{c}\r\u{b}",
            dir: true,
            size: u64::MAX,
            mtime: 0,
        };
        assert_eq!(line(&d), serde_line(&d));
    }

    proptest! {
        #[test]
        fn any_name_matches_serde_json(name in ".{0,40}", dir: bool, size: u64, mtime: u64) {
            let e = Entry { name: &name, dir, size, mtime };
            prop_assert_eq!(line(&e), serde_line(&e));
            prop_assert_eq!(line_len(&e), line(&e).len());
        }

        #[test]
        fn windows_put_together_give_the_line(name in ".{0,30}", step in 1usize..20) {
            let e = Entry { name: &name, dir: true, size: 0, mtime: 7 };
            let whole = line(&e).into_bytes();
            let mut got = std::vec::Vec::new();
            while got.len() < whole.len() {
                let mut buf = [0u8; 20];
                let mut w = Window::new(&mut buf[..step], got.len());
                write_line(&e, &mut w).unwrap();
                let kept = w.kept;
                prop_assert!(kept > 0);
                got.extend_from_slice(&buf[..kept]);
            }
            prop_assert_eq!(got, whole);
        }
    }
}
