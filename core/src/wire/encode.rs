//! Writing frames: the prefix and header into a caller buffer, then the
//! body streamed in any number of chunks while its size is enforced and
//! its MD5 computed.

use md5::{Digest as _, Md5};

use super::digest::Digest;
use super::header::{Fields, HeaderError};
use super::prefix::PREFIX_LEN;

/// Why a frame could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The header could not be serialized into the buffer.
    Header(HeaderError),
    /// A chunk would make the body longer than the header's `total_size`.
    BodyTooLong {
        /// The declared size.
        total_size: u64,
    },
    /// The body ended before `total_size` bytes were written.
    BodyTooShort {
        /// Bytes still owed.
        missing: u64,
    },
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Header(e) => write!(f, "{e}"),
            Self::BodyTooLong { total_size } => {
                write!(f, "body longer than its declared {total_size} bytes")
            }
            Self::BodyTooShort { missing } => write!(f, "body {missing} bytes short"),
        }
    }
}

impl core::error::Error for EncodeError {}

/// Writes `[header_len: u32 LE][JSON header]` into `out`; returns the
/// number of bytes written. The body follows separately. The header is a
/// `&Header` or a [`Fields`] (a reply that borrows its strings).
///
/// ```
/// use wirekit_core::wire::{emit_frame_header, Fields, Header};
/// let mut h = Header::default();
/// h.total_size = 3;
/// let mut buf = [0u8; 64];
/// let n = emit_frame_header(&h, &mut buf).unwrap();
/// assert_eq!(&buf[..n], b"\x10\x00\x00\x00{\"total_size\":3}");
/// let f = Fields { total_size: 3, ..Fields::default() };
/// assert_eq!(emit_frame_header(f, &mut buf), Ok(n));
/// ```
pub fn emit_frame_header<'a>(
    header: impl Into<Fields<'a>>,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    emit_fields(&header.into(), out)
}

/// [`emit_frame_header`]'s work, one copy whatever the header's type.
fn emit_fields(header: &Fields<'_>, out: &mut [u8]) -> Result<usize, EncodeError> {
    let limit = out.len();
    let too_small = EncodeError::Header(HeaderError::BufferTooSmall { limit });
    let (prefix, body) = out.split_first_chunk_mut::<PREFIX_LEN>().ok_or(too_small)?;
    let n = header.emit(body).map_err(EncodeError::Header)?;
    // n fits the buffer, and buffers beyond 2 GiB are not a use case, but
    // check instead of truncating.
    let len = i32::try_from(n).map_err(|_| too_small)?;
    *prefix = len.to_le_bytes();
    Ok(PREFIX_LEN + n)
}

/// Tracks a body being sent: refuses to exceed the declared size and
/// computes the MD5 of what was actually sent, so a file that changed while
/// being read is caught by comparing with the announced digest.
#[derive(Clone)]
pub struct BodyEncoder {
    remaining: u64,
    total_size: u64,
    md5: Md5,
}

impl BodyEncoder {
    /// Starts a body of `total_size` bytes.
    pub fn new(total_size: u64) -> BodyEncoder {
        BodyEncoder {
            remaining: total_size,
            total_size,
            md5: Md5::new(),
        }
    }

    /// Accounts for `chunk` (which the caller then sends).
    pub fn update(&mut self, chunk: &[u8]) -> Result<(), EncodeError> {
        let n = chunk.len() as u64;
        if n > self.remaining {
            return Err(EncodeError::BodyTooLong {
                total_size: self.total_size,
            });
        }
        self.remaining -= n;
        self.md5.update(chunk);
        Ok(())
    }

    /// Bytes still to send.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Ends the body, returning the MD5 of everything sent.
    pub fn finish(self) -> Result<Digest, EncodeError> {
        if self.remaining != 0 {
            return Err(EncodeError::BodyTooShort {
                missing: self.remaining,
            });
        }
        Ok(Digest(self.md5.finalize().into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_encoder_enforces_size() {
        let mut b = BodyEncoder::new(5);
        b.update(b"ab").unwrap();
        assert_eq!(
            b.update(b"cdef"),
            Err(EncodeError::BodyTooLong { total_size: 5 })
        );
        assert_eq!(
            b.clone().finish().err(),
            Some(EncodeError::BodyTooShort { missing: 3 })
        );
        b.update(b"cde").unwrap();
        assert_eq!(b.finish().unwrap(), Digest::of(b"abcde"));
    }
}
