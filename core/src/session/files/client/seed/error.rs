//! Why a seed dialect's exchange failed; the texts `wirekit get` and
//! `wirekit put --dialect seed…` print.

use heapless::String;

use crate::codec::frame::FrameError;
use crate::wire::PrefixError;

/// Most of a server's text answer kept for the error.
pub const ANSWER_CAP: usize = 256;

/// A failed seed exchange; the session is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedError {
    /// The call does not fit the session's state or dialect (names it).
    OutOfOrder(&'static str),
    /// The request does not fit the dialect (name too long for its
    /// `recv(1024)`).
    TooLong,
    /// A seed 002 upload of this size: its size field is a 32-bit int.
    TooBig {
        /// The file's size.
        size: u64,
    },
    /// Seed 000 answered `{}`.
    NoSuchFile,
    /// Seed 000's header length is not usable.
    HeaderLength(PrefixError),
    /// Seed 000's header is not what the seed sends (what is wrong).
    BadHeader(&'static str),
    /// Seed 002's size is not usable.
    BadSize(PrefixError),
    /// Seed 002 closed before the size: a missing file, or one of 2 GiB
    /// or more (the dialect has no error message).
    NoSize,
    /// A seed 002 chunk frame is malformed (or its md5 is wrong).
    Frame(FrameError),
    /// A seed 002 chunk without md5.
    NoChunkMd5,
    /// More bytes than the announced size.
    TooMany {
        /// The announced size.
        size: u64,
    },
    /// Seed 004's md5 is not 32 hex digits.
    BadMd5,
    /// The server answered with this text instead of a size (seed 004)
    /// or the upload's success line (seed 002).
    Answered(String<ANSWER_CAP>),
    /// The server closed the connection too early (what was being read).
    Cut(&'static str),
    /// The server closed the connection with `left` bytes of the file
    /// missing.
    Missing {
        /// Bytes not received.
        left: u64,
    },
    /// An upload chunk of the wrong length (every chunk but the last is
    /// `seed002::CHUNK` bytes; they add up to the size).
    ChunkLength,
}

impl core::fmt::Display for SeedError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OutOfOrder(call) => write!(f, "{call} does not fit the session's state"),
            Self::TooLong => f.write_str("the request is longer than the seed server reads"),
            Self::TooBig { size } => write!(
                f,
                "{size} bytes cannot be sent to a seed 002 server (its size field is a 32-bit int)"
            ),
            Self::NoSuchFile => f.write_str("no such file on the server (文件不存在)"),
            Self::HeaderLength(e) => write!(f, "bad header length: {e}"),
            Self::BadHeader(what) => f.write_str(what),
            Self::BadSize(e) => write!(f, "bad size: {e}"),
            Self::NoSize => f.write_str(
                "the server closed the connection: no such file, or one of 2 GiB or more, \
                 which the seed 002 dialect cannot send",
            ),
            Self::Frame(e) => write!(f, "{e}"),
            Self::NoChunkMd5 => f.write_str("chunk without md5"),
            Self::TooMany { size } => {
                write!(f, "server sent more than the announced {size} bytes")
            }
            Self::BadMd5 => f.write_str("server sent a malformed md5"),
            Self::Answered(text) => write!(f, "server answered: {text}"),
            Self::Cut(what) => write!(f, "{what}: the server closed the connection"),
            Self::Missing { left } => {
                write!(f, "server closed the connection with {left} bytes missing")
            }
            Self::ChunkLength => f.write_str("upload chunk of the wrong length"),
        }
    }
}

impl core::error::Error for SeedError {}
