//! The frame format: the seeds' "ultimate" fix for sticky packets, made safe.
//!
//! ```text
//! | header_len: u32 LE | JSON header, header_len bytes | body, total_size bytes |
//! ```
//!
//! [`Prefix`] is a zero-copy view over the length prefix, [`Header`] the
//! parsed representation of the JSON header, and [`emit_frame_header`] /
//! [`BodyEncoder`] write frames. Decoding incrementally is
//! [`crate::codec::frame`]'s job. See `docs/PROTOCOL.md` for a hex dump.

#[cfg(feature = "frame")]
mod digest;
#[cfg(feature = "frame")]
mod encode;
#[cfg(feature = "frame")]
mod header;
mod prefix;

#[cfg(feature = "frame")]
pub use digest::Digest;
#[cfg(feature = "frame")]
pub use encode::{emit_frame_header, BodyEncoder, EncodeError};
#[cfg(feature = "frame")]
pub use header::{
    short_string, Fields, Header, HeaderError, NAME_CAP, SECRET_CAP, TEXT_CAP, WORD_CAP,
};
pub use prefix::{emit_prefix, Prefix, PrefixError, PREFIX_LEN};
