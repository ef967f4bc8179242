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
    pub fn from_hex(text: &[u8]) -> Option<Digest> {
        let mut out = [0u8; 16];
        // Refuses any length but 32 and any non-hex digit.
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(Digest(out))
    }

    /// The digest as 32 lowercase hex digits (Python's `hexdigest()`).
    pub fn to_hex(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        // 32 = 2 * 16 bytes: cannot fail.
        let _ = hex::encode_to_slice(self.0, &mut out);
        out
    }

    /// MD5 of `data` in one call.
    pub fn of(data: &[u8]) -> Digest {
        use md5::Digest as _;
        Digest(md5::Md5::digest(data).into())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_hex(f)
    }
}

impl Digest {
    /// Writes the 32 hex digits (what `Display` shows) with `write_str`.
    pub(crate) fn write_hex(&self, w: &mut (impl fmt::Write + ?Sized)) -> fmt::Result {
        let hex = self.to_hex();
        // to_hex only produces ASCII hex digits.
        w.write_str(core::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}
