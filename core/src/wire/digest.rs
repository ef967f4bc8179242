//! MD5 digests as they travel in headers: 32 lowercase hex digits.

use core::fmt;

/// A 16-byte MD5 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest(pub [u8; 16]);

impl Digest {
    /// Parses 32 hex digits (either case). Returns `None` for anything else.
    ///
    /// ```
    /// use wirekit_core::wire::Digest;
    /// let d = Digest::from_hex(b"d41d8cd98f00b204e9800998ecf8427e").unwrap();
    /// assert_eq!(&d.to_hex(), b"d41d8cd98f00b204e9800998ecf8427e");
    /// assert!(Digest::from_hex(b"12387459560yhsdjsncvnchfuuiokwjdndb").is_none());
    /// ```
    pub fn from_hex(hex: &[u8]) -> Option<Digest> {
        if hex.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
            *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(Digest(out))
    }

    /// The digest as 32 lowercase hex digits (Python's `hexdigest()`).
    pub fn to_hex(&self) -> [u8; 32] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 32];
        for (pair, byte) in out.chunks_exact_mut(2).zip(self.0) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0xf)];
        }
        out
    }

    /// MD5 of `data` in one call.
    pub fn of(data: &[u8]) -> Digest {
        use md5::Digest as _;
        Digest(md5::Md5::digest(data).into())
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex();
        // to_hex only produces ASCII hex digits.
        f.write_str(core::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}
