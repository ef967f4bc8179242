//! Incremental decoders: feed any chunking of a byte stream, get the same
//! events. Each reports how many bytes it consumed, returns `None` when it
//! needs more input (never an error), buffers at most a fixed capacity
//! chosen by a const generic, and never reads past what it was given.
//!
//! - [`frame`]: JSON-headed frames with streamed, MD5-verified bodies.
//! - [`length`]: plain 4-byte length + message (the seeds' first fix).
//! - [`line`](mod@line): delimiter framing with a maximum line length.

#[cfg(test)]
mod chunking;
#[cfg(feature = "frame")]
pub mod frame;
pub mod length;
pub mod line;
mod prefix;
