//! The exec conversation as sessions: [`ExecClient`] is `wirekit exec`'s
//! side of it, [`ExecServer`] holds everything a
//! `wirekit serve` exec listener says and decides, for every dialect it
//! speaks (native frames with challenge-response authentication, and the
//! seeds' text dialects: JSON header, 4-byte length, size text + ack).
//!
//! Running a command is I/O, so the session reports [`Event::Run`] and the
//! driver feeds what the command produced back in
//! ([`ExecServer::handle_child_output`], [`ExecServer::handle_child_exit`]);
//! the session frames it into [`ExecServer::poll_output`]. Policy that
//! needs host state stays with the driver, told by events: the nonce's
//! randomness and the failed-proof throttle ([`Event::NeedChallenge`],
//! [`Event::AuthFailed`]), the concurrency limit and the spawn itself
//! ([`ExecServer::refuse_command`]), the `--exec-allow` verdict
//! ([`Config::allowed`]).
//!
//! The seed dialects must announce the output's size (and md5) before it,
//! so their output cannot stream through a session without allocation:
//! the driver keeps it (a host spools it to a file), tells the session its
//! size and md5 at the exit ([`Held`]), and hands it over again when the
//! session asks for it ([`ExecServer::output_wanted`]).
//!
//! The session keeps no clock: the exec listeners' only timers (the
//! command's timeout, the connection's idle limit) belong to the command
//! runner and the transport.

mod client;
mod outbox;
mod server;

pub use client::{
    ClientError, ClientEvent, ExecClient, Framing, CLIENT_OUTBOX, MAX_SEED_REPLY, REFUSAL_PEEK,
};
pub use outbox::Outbox;
pub use server::{Config, Event, ExecServer, Flavor};

use crate::wire::Digest;

/// The default capacity of a server session's output buffer: a chunk of
/// command output plus the room of its frame header. Every connection
/// holds one, idle or not, so it is kept small.
pub const DEFAULT_OUTBOX: usize = CHUNK + HEADER_ROOM;

/// Largest piece of command output put in one native frame by default
/// (a larger read from the command goes out as several frames).
pub const CHUNK: usize = 8 * 1024;

/// Room kept for a frame header in front of a chunk of output (the
/// longest exec header, an error or exit note of [`crate::wire::TEXT_CAP`]
/// bytes with every byte JSON-escaped, stays below it).
pub const HEADER_ROOM: usize = 2048;

/// Which output stream of a command a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// The output a driver kept for a seed-dialect reply (stdout then stderr,
/// the marker included): what its header announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// Bytes in all.
    pub len: u64,
    /// Their md5.
    pub md5: Digest,
}

impl Held {
    /// Nothing held: what the native dialect passes (its output went out
    /// as it came).
    pub const NONE: Held = Held {
        len: 0,
        md5: Digest([0; 16]),
    };
}

/// A call the session cannot take now; the driver closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The call does not fit the conversation's state (a driver bug, e.g.
    /// output fed while no command runs); names the call.
    OutOfOrder(&'static str),
    /// A reply header did not fit the output buffer.
    Encode,
    /// The reply is longer than the dialect can announce (the 4-byte
    /// length's 2^31 - 1).
    TooLong,
    /// The client closed the connection before acknowledging the output's
    /// size (seed 004's dialect).
    NoAck,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OutOfOrder(call) => write!(f, "{call} does not fit the session's state"),
            Self::Encode => f.write_str("reply header does not fit the output buffer"),
            Self::TooLong => f.write_str("reply too long"),
            Self::NoAck => f.write_str("client closed before acknowledging the size"),
        }
    }
}

impl core::error::Error for Error {}

#[cfg(test)]
mod tests;
