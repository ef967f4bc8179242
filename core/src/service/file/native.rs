//! wirekit's own files protocol: requests and replies are frames (see
//! [`crate::wire`]); `docs/PROTOCOL.md` ("files") has the exchanges.
//!
//! In every frame `total_size` is the length of that frame's body; the
//! whole file's size travels in `size`. A file's md5 always covers the
//! whole file and comes in a trailing `end` frame, so neither side has to
//! read a file twice: the sender hashes while it sends.
//!
//! - `get {filename, offset?}` → `get {status: ok, size, offset, mtime,
//!   total_size: size - offset}` + the bytes from `offset`, then
//!   `end {md5}` (or `end {status: error}` if the file changed meanwhile).
//! - `get-segmented {filename, offset?}`: the same, the bytes in `data`
//!   frames ([`segments`]), so the server can end early with an error.
//! - `put {filename, size, force?, resume?}` → `put {status: ready,
//!   offset, md5?}` (`offset` bytes of an earlier partial upload are kept;
//!   `md5` is theirs so the client can check its prefix matches) → client
//!   sends `data {offset, total_size}` + bytes (offset is the offered one,
//!   or 0 to start over), then `end {md5}` → `put {status: ok, size, md5}`.
//! - `stat {filename}` → `stat {status: ok, size, mtime, md5}`.
//! - `list {filename?}` → `list {status: ok, total_size, truncated?}` +
//!   one JSON object per line.
//!
//! - `challenge` → `challenge {status: ok, nonce}`, then `auth {token:
//!   proof}` → `auth {status: ok}`: proves the upload token (see
//!   [`super::access`]); a wrong proof is refused and the connection
//!   closed.
//!
//! Any refusal is `{op, status: error, error: "reason"}`.

use heapless::String;

use super::name::{self, NameError};
use crate::wire::{Digest, Fields, Header, NAME_CAP};

/// Header capacity for the files protocol's frames (names fit easily).
pub const HEADER_CAP: usize = 2048;

/// A client request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'h> {
    /// Download `name` from byte `offset`.
    Get {
        /// File name under the root.
        name: &'h str,
        /// Where to start.
        offset: u64,
        /// The bytes in `data` frames ([`segments`]), so the server can
        /// stop between two with an error frame.
        segmented: bool,
    },
    /// Upload `size` bytes to `name`.
    Put {
        /// File name under the root.
        name: &'h str,
        /// The whole file's size.
        size: u64,
        /// Replace an existing file.
        force: bool,
        /// Keep an earlier partial upload.
        resume: bool,
    },
    /// Size, mtime and md5 of `name`.
    Stat {
        /// File name under the root.
        name: &'h str,
    },
    /// Entries of directory `dir` (empty: the root).
    List {
        /// Directory under the root.
        dir: &'h str,
    },
    /// Asks for a nonce to prove the upload token with.
    Challenge,
    /// The proof of the token for the last challenge (checked by the
    /// server: [`super::access`]).
    Auth {
        /// Hex HMAC, at most [`crate::wire::SECRET_CAP`] bytes.
        proof: &'h str,
    },
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// `op` is missing or not a files operation.
    UnknownOp,
    /// No `filename`.
    NoName,
    /// The name is not acceptable.
    Name(NameError),
    /// `put` without `size`.
    NoSize,
    /// A request frame carried a body.
    UnexpectedBody,
    /// `auth` without `token`.
    NoProof,
}

impl core::fmt::Display for RequestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RequestError {
    /// The text (no `core::fmt` needed: the files session sends it in
    /// refusals, also on firmware).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::UnknownOp => "unknown operation (get, put, stat, list, challenge, auth)",
            Self::NoName => "missing filename",
            Self::Name(e) => e.as_str(),
            Self::NoSize => "put without size",
            Self::UnexpectedBody => "request frames carry no body",
            Self::NoProof => "auth without token",
        }
    }
}

/// Reads a request from its header, checking the name.
pub fn parse_request(h: &Header) -> Result<Request<'_>, RequestError> {
    if h.total_size != 0 {
        return Err(RequestError::UnexpectedBody);
    }
    let op = h.op.as_deref().ok_or(RequestError::UnknownOp)?;
    let file = || -> Result<&str, RequestError> {
        let n = h.filename.as_deref().ok_or(RequestError::NoName)?;
        name::check(n, false).map_err(RequestError::Name)?;
        Ok(n)
    };
    Ok(match op {
        "get" | segments::OP => Request::Get {
            name: file()?,
            offset: h.offset.unwrap_or(0),
            segmented: op == segments::OP,
        },
        "put" => Request::Put {
            name: file()?,
            size: h.size.ok_or(RequestError::NoSize)?,
            force: h.force.unwrap_or(false),
            resume: h.resume.unwrap_or(false),
        },
        "stat" => Request::Stat { name: file()? },
        "list" => {
            let dir = h.filename.as_deref().unwrap_or("");
            name::check(dir, true).map_err(RequestError::Name)?;
            Request::List { dir }
        }
        "challenge" => Request::Challenge,
        "auth" => Request::Auth {
            proof: h.token.as_deref().ok_or(RequestError::NoProof)?,
        },
        _ => return Err(RequestError::UnknownOp),
    })
}

/// A name as a header string, refusing (not cutting) long names.
pub fn name_string(name: &str) -> Result<String<NAME_CAP>, NameError> {
    String::try_from(name).map_err(|_| NameError::TooLong)
}

/// A refusal: `{op, status: error, error}`.
pub fn error_reply<'a>(op: &'a str, msg: &'a str) -> Fields<'a> {
    Fields {
        error: Some(msg),
        ..Fields::with_status(op, "error")
    }
}

/// The header before a `get`'s bytes.
pub fn get_reply(size: u64, offset: u64, mtime: u64) -> Fields<'static> {
    Fields {
        size: Some(size),
        offset: Some(offset),
        mtime: Some(mtime),
        total_size: size.saturating_sub(offset),
        ..Fields::with_status("get", "ok")
    }
}

/// The server is ready for a `put`'s bytes from `offset`; `prefix` is the
/// md5 of the kept partial's first `offset` bytes.
pub fn ready_reply(offset: u64, prefix: Option<Digest>) -> Fields<'static> {
    Fields {
        offset: Some(offset),
        md5: prefix,
        ..Fields::with_status("put", "ready")
    }
}

/// The header before a `put`'s bytes.
pub fn data_header(offset: u64, len: u64) -> Fields<'static> {
    Fields {
        op: Some("data"),
        offset: Some(offset),
        total_size: len,
        ..Fields::default()
    }
}

/// The trailer after a file's bytes: the whole file's md5.
pub fn end_header(md5: Digest) -> Fields<'static> {
    Fields {
        md5: Some(md5),
        ..Fields::with_status("end", "ok")
    }
}

/// A finished `put` or a `stat` answer.
pub fn file_reply(op: &str, size: u64, md5: Digest, mtime: Option<u64>) -> Fields<'_> {
    Fields {
        size: Some(size),
        md5: Some(md5),
        mtime,
        ..Fields::with_status(op, "ok")
    }
}

/// The header before a listing of `len` bytes.
pub fn list_reply(len: u64, truncated: bool) -> Fields<'static> {
    Fields {
        total_size: len,
        truncated: truncated.then_some(true),
        ..Fields::with_status("list", "ok")
    }
}

/// A request header (client side); `name` must pass [`name::check`].
pub fn request(op: &str, name: &str) -> Result<Header, NameError> {
    let mut h = Header::with_op(op);
    h.filename = Some(name_string(name)?);
    Ok(h)
}

/// The peer's refusal, if the header is one: its message.
pub fn refusal(h: &Header) -> Option<&str> {
    (h.status.as_deref() == Some("error"))
        .then(|| h.error.as_deref().unwrap_or("unspecified error"))
}

pub mod segments;
mod transfer;
pub use segments::SegmentError;
pub use transfer::{Transfer, TransferError, TransferEvent};

#[cfg(test)]
mod tests;
