//! Why a files client session failed. The texts are the ones `wirekit
//! get`, `put` and `ls` print, so a host can show them as they are.

use heapless::String;

use crate::codec::frame::FrameError;
use crate::service::file::name::NameError;
use crate::service::file::native::{SegmentError, TransferError};
use crate::wire::{Digest, TEXT_CAP};

/// A failed exchange; the session is over unless the variant says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The call does not fit the session's state (a driver bug); names
    /// the call.
    OutOfOrder(&'static str),
    /// A request did not fit the output buffer.
    Encode,
    /// The name cannot be put in a request.
    Name(NameError),
    /// The server refused, in its words.
    Refused(String<TEXT_CAP>),
    /// The server said it is shutting down (a partial is worth keeping).
    ShuttingDown,
    /// The server closed the connection (`without answering`,
    /// `mid-transfer`, `mid-listing`).
    Closed(&'static str),
    /// A reply frame is malformed.
    Frame(FrameError),
    /// A plain get's transfer is malformed.
    Transfer(TransferError),
    /// A segmented get's transfer is malformed.
    Segment(SegmentError),
    /// The get reply is for another offset than the one asked for.
    Offset {
        /// The offset asked for.
        asked: u64,
        /// The reply's.
        got: Option<u64>,
    },
    /// A reply that makes no sense here (what was wrong).
    BadReply(&'static str),
    /// The server stored an upload with another md5 than the one sent.
    StoredDifferent(Option<Digest>),
    /// A download's bytes do not have the server's md5. The session is
    /// idle again (the connection is intact); the data is not.
    Md5Mismatch {
        /// The server's md5.
        expected: Digest,
        /// The md5 of the bytes received.
        actual: Digest,
    },
    /// The upload's body is longer or shorter than announced (`left`:
    /// bytes still owed when the end was asked for; 0 for too many).
    BodyLength {
        /// Bytes still owed.
        left: u64,
    },
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OutOfOrder(call) => write!(f, "{call} does not fit the session's state"),
            Self::Encode => f.write_str("request does not fit the output buffer"),
            Self::Name(e) => write!(f, "{e}"),
            Self::Refused(m) => write!(f, "server refused: {m}"),
            Self::ShuttingDown => f.write_str("the server is shutting down"),
            Self::Closed(when) => write!(f, "server closed the connection {when}"),
            Self::Frame(e) => write!(f, "{e}"),
            Self::Transfer(e) => write!(f, "{e}"),
            Self::Segment(e) => write!(f, "{e}"),
            Self::Offset { asked, got } => {
                write!(f, "server answered for offset {got:?}, asked {asked}")
            }
            Self::BadReply(what) => write!(f, "bad reply from the server: {what}"),
            Self::StoredDifferent(md5) => write!(f, "server stored a different md5 ({md5:?})"),
            Self::Md5Mismatch { expected, actual } => {
                write!(
                    f,
                    "md5 mismatch: server says {expected}, received data is {actual}"
                )
            }
            Self::BodyLength { left: 0 } => f.write_str("more bytes than the upload announced"),
            Self::BodyLength { left } => {
                write!(f, "the upload ended with {left} bytes not sent")
            }
        }
    }
}

impl core::error::Error for ClientError {}
