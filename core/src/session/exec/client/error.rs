//! Why a client session cannot go on, worded as `wirekit exec` reports it.

use core::fmt;

use heapless::String;

use crate::codec::frame::FrameError;
use crate::codec::length::LengthError;
use crate::service::exec::ack::SizeError;
use crate::service::exec::native::NativeError;
use crate::service::exec::CommandError;
use crate::wire::TEXT_CAP;

/// A client session's error; all but [`ClientError::Command`] end it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The server refused the session (its words).
    Server(String<TEXT_CAP>),
    /// The first answer is not an exec server's (what it said, if any).
    BadFirstReply {
        /// Why.
        error: NativeError,
        /// The frame's `error` text.
        said: Option<String<TEXT_CAP>>,
    },
    /// A frame is not a valid server message.
    BadMessage(NativeError),
    /// The frames are broken.
    BadFrame(FrameError),
    /// A length-prefixed reply is broken.
    BadLength(LengthError),
    /// Seed 004's size text is unusable.
    BadSize(SizeError),
    /// A message that does not belong here (its op).
    Unexpected(String<TEXT_CAP>),
    /// The server closed the connection in the middle of an exchange.
    Closed,
    /// The command was refused before sending; the session goes on.
    Command(CommandError),
    /// A frame did not fit the output buffer.
    Encode,
    /// A call the session's state does not allow (names it).
    OutOfOrder(&'static str),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Server(e) => write!(f, "server: {e}"),
            Self::BadFirstReply { error, said } => {
                write!(f, "bad reply: {error}")?;
                if let Some(s) = said {
                    write!(f, " (it said: {s})")?;
                }
                f.write_str("; is this a wirekit `exec` listener?")
            }
            Self::BadMessage(e) => write!(f, "bad reply: {e}"),
            Self::BadFrame(e) => write!(f, "bad reply: {e}"),
            Self::BadLength(e) => write!(f, "bad reply: {e}"),
            Self::BadSize(e) => write!(f, "bad size from server: {e}"),
            Self::Unexpected(op) => write!(f, "unexpected reply {op}"),
            Self::Closed => f.write_str("server closed the connection"),
            Self::Command(e) => write!(f, "{e}"),
            Self::Encode => f.write_str("request does not fit the output buffer"),
            Self::OutOfOrder(call) => write!(f, "{call} does not fit the session's state"),
        }
    }
}

impl core::error::Error for ClientError {}
