//! The 4-byte length prefix that starts every frame: a zero-copy view over
//! a buffer, in the style of `smoltcp::wire`.
//!
//! The seeds write it with Python's `struct.pack('i', n)`: a native-endian
//! signed 32-bit integer, which is little-endian on the x86 machines their
//! programs run on. A value with the top bit set is a negative `i` and is
//! never a valid length.

use nom::number::complete::le_i32;

/// Length of the prefix in bytes.
pub const PREFIX_LEN: usize = 4;

/// A checked view over a buffer that starts with a length prefix.
#[derive(Debug, Clone, Copy)]
pub struct Prefix<T: AsRef<[u8]>> {
    buffer: T,
}

/// Why a prefix is not a usable length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixError {
    /// Fewer than [`PREFIX_LEN`] bytes.
    Truncated,
    /// The signed value is negative (top bit set).
    Negative {
        /// The value as Python's `struct.unpack('i')` would read it.
        value: i32,
    },
    /// The length exceeds the configured limit.
    TooLarge {
        /// The length on the wire.
        len: u32,
        /// The configured limit.
        limit: u32,
    },
}

impl core::fmt::Display for PrefixError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated => f.write_str("length prefix truncated"),
            Self::Negative { value } => write!(f, "negative length prefix {value}"),
            Self::TooLarge { len, limit } => {
                write!(f, "length {len} exceeds the limit of {limit} bytes")
            }
        }
    }
}

impl core::error::Error for PrefixError {}

impl<T: AsRef<[u8]>> Prefix<T> {
    /// Wraps `buffer` after checking it holds a whole prefix.
    pub fn new_checked(buffer: T) -> Result<Prefix<T>, PrefixError> {
        if buffer.as_ref().len() < PREFIX_LEN {
            return Err(PrefixError::Truncated);
        }
        Ok(Prefix { buffer })
    }

    /// The raw signed value, as `struct.unpack('i')` reads it.
    pub fn raw(&self) -> i32 {
        // new_checked guaranteed 4 bytes, so the parser cannot fail; the
        // fallback keeps this total without a panic path.
        le_i32::<_, nom::error::Error<&[u8]>>(self.buffer.as_ref())
            .map(|(_, v)| v)
            .unwrap_or(-1)
    }

    /// The length, checked to be non-negative and at most `limit`.
    pub fn len_checked(&self, limit: u32) -> Result<u32, PrefixError> {
        let value = self.raw();
        let len = u32::try_from(value).map_err(|_| PrefixError::Negative { value })?;
        if len > limit {
            return Err(PrefixError::TooLarge { len, limit });
        }
        Ok(len)
    }

    /// The bytes after the prefix.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[PREFIX_LEN..]
    }
}

/// Writes `len` as a prefix (`struct.pack('i', len)`); `None` if `len`
/// cannot be expressed as a non-negative `i` or `out` is too short.
pub fn emit_prefix(len: u64, out: &mut [u8]) -> Option<usize> {
    let v = i32::try_from(len).ok()?;
    out.get_mut(..PREFIX_LEN)?.copy_from_slice(&v.to_le_bytes());
    Some(PREFIX_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_struct_unpack_i() {
        // struct.pack('i', 401) == b'\x91\x01\x00\x00'
        let p = Prefix::new_checked(&[0x91, 0x01, 0, 0, b'x'][..]).unwrap();
        assert_eq!(p.raw(), 401);
        assert_eq!(p.len_checked(8192), Ok(401));
        assert_eq!(p.payload(), b"x");
        let neg = Prefix::new_checked(&[0, 0, 0, 0x80][..]).unwrap();
        assert_eq!(
            neg.len_checked(8192),
            Err(PrefixError::Negative { value: i32::MIN })
        );
        assert_eq!(
            p.len_checked(100),
            Err(PrefixError::TooLarge {
                len: 401,
                limit: 100
            })
        );
        assert_eq!(
            Prefix::new_checked(&[1, 2][..]).err(),
            Some(PrefixError::Truncated)
        );
    }

    #[test]
    fn emit_refuses_what_i_cannot_hold() {
        let mut b = [0u8; 4];
        assert_eq!(emit_prefix(401, &mut b), Some(4));
        assert_eq!(b, [0x91, 1, 0, 0]);
        assert_eq!(emit_prefix(1 << 31, &mut b), None);
    }
}
