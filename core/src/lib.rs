// The crate documentation is the README, so its two examples (sans-I/O
// the smoltcp way, blocking over embedded-io) run as doctests. They use the
// `time` and `blocking` features, which `cargo test` has by default.
#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "blocking")]
pub mod blocking;
pub mod codec;
#[cfg(any(feature = "frame", feature = "chat", feature = "time"))]
mod decimal;
pub mod service;
pub mod session;
pub mod size;
pub mod strftime;
pub mod wire;
