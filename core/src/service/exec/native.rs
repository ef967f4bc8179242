//! The native exec protocol: JSON-headed frames (see [`crate::wire`]) both
//! ways, in the spirit of SSH's session channel: output streams as it is
//! produced, stderr apart from stdout, and the exit status comes last.
//!
//! ```text
//! client                                   server
//! {"op":"hello"}                     ->
//!                                    <-    {"op":"ready"}            (no token)
//!                                    <-    {"op":"challenge","nonce":N}
//! {"op":"auth","token":HMAC(N)}      ->
//!                                    <-    {"op":"ready"} | {"op":"error",...}
//! {"op":"exec","total_size":n} + cmd ->
//!                                    <-    {"op":"stdout","total_size":k} + k bytes  (0..n times)
//!                                    <-    {"op":"stderr","total_size":k} + k bytes  (0..n times)
//!                                    <-    {"op":"exit","exit_code":c} | {"op":"error","error":...}
//! ```

use crate::wire::{short_string, Header};

/// Largest body of a server frame a client accepts.
pub const MAX_CHUNK: u64 = 1024 * 1024;

/// A message from client to server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMsg<'a> {
    /// Opens the session; the server answers `ready` or `challenge`.
    Hello,
    /// The proof of the token for the last challenge (hex HMAC-SHA256).
    Auth(&'a str),
    /// Run a command of this many bytes, which follow as the body.
    Exec(u64),
}

/// A message from server to client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerMsg<'a> {
    /// Commands may be sent.
    Ready,
    /// Prove the token for this nonce (hex).
    Challenge(&'a str),
    /// This many bytes of the command's stdout follow.
    Stdout(u64),
    /// This many bytes of the command's stderr follow.
    Stderr(u64),
    /// The command ended; the last frame of its reply.
    Exit {
        /// Its exit code, see [`super::Ending::exit_code`].
        code: i32,
        /// Output was cut at the cap.
        truncated: bool,
        /// Why wirekit ended it early, if it did.
        note: Option<&'a str>,
    },
    /// The request was refused or failed; ends the reply (and, for
    /// authentication and protocol errors, the connection).
    Error(&'a str),
}

/// Why a frame is not a valid message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeError {
    /// `op` is missing or unknown for this direction.
    UnknownOp,
    /// A required field is missing.
    MissingField(&'static str),
    /// A frame that must have no body has one.
    UnexpectedBody,
    /// The body is larger than allowed.
    TooLarge {
        /// Its declared size.
        len: u64,
        /// The limit.
        limit: u64,
    },
}

impl core::fmt::Display for NativeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::UnknownOp => f.write_str("missing or unknown op"),
            Self::MissingField(name) => write!(f, "missing field {name}"),
            Self::UnexpectedBody => f.write_str("unexpected frame body"),
            Self::TooLarge { len, limit } => {
                write!(f, "frame body of {len} bytes exceeds the limit of {limit}")
            }
        }
    }
}

impl core::error::Error for NativeError {}

fn no_body(h: &Header) -> Result<(), NativeError> {
    if h.total_size == 0 {
        Ok(())
    } else {
        Err(NativeError::UnexpectedBody)
    }
}

fn limited(len: u64, limit: u64) -> Result<u64, NativeError> {
    if len > limit {
        Err(NativeError::TooLarge { len, limit })
    } else {
        Ok(len)
    }
}

impl<'a> ClientMsg<'a> {
    /// Reads a client frame's header; a command may be at most
    /// `max_command` bytes.
    pub fn parse(h: &'a Header, max_command: u64) -> Result<Self, NativeError> {
        match h.op.as_deref() {
            Some("hello") => no_body(h).map(|()| ClientMsg::Hello),
            Some("auth") => {
                no_body(h)?;
                let token = h
                    .token
                    .as_deref()
                    .ok_or(NativeError::MissingField("token"))?;
                Ok(ClientMsg::Auth(token))
            }
            Some("exec") => limited(h.total_size, max_command).map(ClientMsg::Exec),
            _ => Err(NativeError::UnknownOp),
        }
    }

    /// The frame header carrying this message.
    pub fn header(&self) -> Header {
        match *self {
            ClientMsg::Hello => Header::with_op("hello"),
            ClientMsg::Auth(proof) => Header {
                token: short_string(proof),
                ..Header::with_op("auth")
            },
            ClientMsg::Exec(len) => Header {
                total_size: len,
                ..Header::with_op("exec")
            },
        }
    }
}

impl<'a> ServerMsg<'a> {
    /// Reads a server frame's header (client side).
    pub fn parse(h: &'a Header) -> Result<Self, NativeError> {
        match h.op.as_deref() {
            Some("ready") => no_body(h).map(|()| ServerMsg::Ready),
            Some("challenge") => {
                no_body(h)?;
                let nonce = h
                    .nonce
                    .as_deref()
                    .ok_or(NativeError::MissingField("nonce"))?;
                Ok(ServerMsg::Challenge(nonce))
            }
            Some("stdout") => limited(h.total_size, MAX_CHUNK).map(ServerMsg::Stdout),
            Some("stderr") => limited(h.total_size, MAX_CHUNK).map(ServerMsg::Stderr),
            Some("exit") => {
                no_body(h)?;
                let code = h.exit_code.ok_or(NativeError::MissingField("exit_code"))?;
                Ok(ServerMsg::Exit {
                    code,
                    truncated: h.truncated == Some(true),
                    note: h.error.as_deref(),
                })
            }
            Some("error") => {
                no_body(h)?;
                Ok(ServerMsg::Error(h.error.as_deref().unwrap_or("error")))
            }
            _ => Err(NativeError::UnknownOp),
        }
    }

    /// The frame header carrying this message; texts longer than the
    /// header's capacity are shortened.
    pub fn header(&self) -> Header {
        match *self {
            ServerMsg::Ready => Header::with_op("ready"),
            ServerMsg::Challenge(nonce) => Header {
                nonce: short_string(nonce),
                ..Header::with_op("challenge")
            },
            ServerMsg::Stdout(len) => Header {
                total_size: len,
                ..Header::with_op("stdout")
            },
            ServerMsg::Stderr(len) => Header {
                total_size: len,
                ..Header::with_op("stderr")
            },
            ServerMsg::Exit {
                code,
                truncated,
                note,
            } => Header {
                exit_code: Some(code),
                truncated: truncated.then_some(true),
                error: note.and_then(short_string),
                ..Header::with_op("exit")
            },
            ServerMsg::Error(msg) => Header {
                error: short_string(msg),
                ..Header::with_op("error")
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip_server(m: ServerMsg<'_>) {
        let mut buf = [0u8; 512];
        let n = m.header().emit(&mut buf).unwrap();
        let h = Header::parse(&buf[..n], true).unwrap();
        assert_eq!(ServerMsg::parse(&h).unwrap(), m);
    }

    #[test]
    fn server_messages_round_trip() {
        round_trip_server(ServerMsg::Ready);
        round_trip_server(ServerMsg::Challenge("00ff"));
        round_trip_server(ServerMsg::Stdout(7));
        round_trip_server(ServerMsg::Stderr(0));
        round_trip_server(ServerMsg::Exit {
            code: -1,
            truncated: true,
            note: Some("timed out"),
        });
        round_trip_server(ServerMsg::Exit {
            code: 3,
            truncated: false,
            note: None,
        });
        round_trip_server(ServerMsg::Error("too many commands"));
    }

    #[test]
    fn client_messages_round_trip_and_limits() {
        for m in [
            ClientMsg::Hello,
            ClientMsg::Auth("abcd"),
            ClientMsg::Exec(5),
        ] {
            let mut buf = [0u8; 256];
            let n = m.header().emit(&mut buf).unwrap();
            let h = Header::parse(&buf[..n], true).unwrap();
            assert_eq!(ClientMsg::parse(&h, 10).unwrap(), m);
        }
        let h = ClientMsg::Exec(11).header();
        assert_eq!(
            ClientMsg::parse(&h, 10),
            Err(NativeError::TooLarge { len: 11, limit: 10 })
        );
        let mut h = Header::with_op("hello");
        h.total_size = 1;
        assert_eq!(ClientMsg::parse(&h, 10), Err(NativeError::UnexpectedBody));
        let h = Header::with_op("auth");
        assert_eq!(
            ClientMsg::parse(&h, 10),
            Err(NativeError::MissingField("token"))
        );
        assert_eq!(
            ClientMsg::parse(&Header::with_op("rm"), 10),
            Err(NativeError::UnknownOp)
        );
        assert_eq!(
            ServerMsg::parse(&ClientMsg::Exec(1).header()),
            Err(NativeError::UnknownOp)
        );
        let mut h = Header::with_op("stdout");
        h.total_size = MAX_CHUNK + 1;
        assert!(matches!(
            ServerMsg::parse(&h),
            Err(NativeError::TooLarge { .. })
        ));
    }
}
