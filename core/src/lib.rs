//! `wirekit-core`: the sans-I/O protocol core shared by the wirekit host
//! services and the firmware example.
//!
//! Bytes go in, events come out; this crate never owns a socket, a clock or
//! an allocator. Every buffer has a fixed capacity chosen by the caller
//! through const generics, and every length read from the wire is checked
//! against a limit before anything is buffered.
//!
//! - [`wire`]: the frame format (4-byte little-endian header length, JSON
//!   header, streamed body): a zero-copy view over the prefix, the parsed
//!   [`wire::Header`] representation, and the encoder.
//! - [`codec`]: incremental decoders (JSON-headed frames, plain
//!   length-prefixed messages, delimited lines).
//! - [`service`]: the per-service message types and state machines.
//! - [`strftime`]: a Python-compatible `time.strftime` formatter.
//!
//! Cargo features: one per service (`echo`, `time`, `rfc`, `chat`, `files`,
//! `exec`), `frame` (JSON-headed frames; the only user of serde and
//! serde-json-core), `blocking` (the embedded-io driver) and `unicode-case`;
//! all on by default. `files` and `exec` pull in `frame` and sha2 (`exec`
//! also hmac), so an echo/time image built with `default-features = false,
//! features = ["echo", "time"]` links none of them.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "blocking")]
pub mod blocking;
pub mod codec;
pub mod service;
pub mod size;
pub mod strftime;
pub mod wire;
