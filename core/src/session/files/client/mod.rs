//! The files clients' side of the native protocol as a session: what
//! `wirekit get`, `put`, `ls` (and a stat) say and check, one exchange at
//! a time on one connection, with no I/O, clock or allocation. The seeds'
//! dialects have their own client sessions ([`seed`]).
//!
//! The driver starts an exchange ([`FilesClient::get`], [`FilesClient::put`],
//! [`FilesClient::list`], [`FilesClient::stat`], [`FilesClient::login`]),
//! sends what [`FilesClient::poll_output`] gives, and feeds the server's
//! bytes to [`FilesClient::handle_input`], which reports [`ClientEvent`]s:
//! what to write to the local file, where a transfer starts, the md5 to
//! check. What needs the driver's resources is asked for by an event and
//! answered by a call: the md5 of the bytes it wrote
//! ([`FilesClient::finish_get`]), whether its local file matches the
//! server's partial upload ([`FilesClient::send_from`]), the token's proof
//! ([`FilesClient::authenticate`]). A put's body goes from the local file
//! straight to the stream; the session only counts it
//! ([`FilesClient::send_body`]), so a transfer is never copied through it.
//!
//! A get asks for segments (`get-segmented`, so a server shutting down
//! can say so between two) and falls back to a plain `get` by itself when
//! an older server does not know the op.

// A [`ClientError`] carries the server's refusal inline (no allocation in
// core): a few hundred bytes, returned once per failed exchange, which is
// cheaper than a second lookup API for the text (as `session::exec`).
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

use core::ops::Range;

use heapless::String;

use crate::codec::frame::{FrameDecoder, Limits};
use crate::service::auth;
use crate::service::file::access::{self, DOMAIN};
use crate::service::file::native::segments::{self, Segments};
use crate::service::file::native::{self, Transfer, HEADER_CAP};
use crate::wire::{emit_frame_header, Digest, Fields, Header, NAME_CAP, SECRET_CAP};

mod error;
mod event;
pub use error::ClientError;
pub use event::{ClientEvent, FileInfo};

/// The default output buffer: one request header of the largest size.
pub const CLIENT_OUTBOX: usize = HEADER_CAP;

/// Largest listing accepted (the JSON lines of one directory).
pub const MAX_LISTING: u64 = 64 << 20;

/// What a server that does not know `get-segmented` answers (the start of
/// its refusal text).
const UNKNOWN_OP: &str = "unknown operation";

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Idle,
    /// `challenge` sent.
    Challenging,
    /// The nonce arrived; the proof is the driver's call.
    Challenged(String<SECRET_CAP>),
    /// The proof is out.
    Authing,
    /// A get's reply and bytes are coming.
    Get {
        offset: u64,
        segmented: bool,
        started: bool,
    },
    /// All bytes of a get arrived: waiting for the driver's md5.
    Verify {
        md5: Digest,
    },
    /// `put` sent, the ready reply awaited.
    PutAsked {
        size: u64,
    },
    /// Ready came: waiting for the driver's offset.
    PutReady {
        size: u64,
        offered: u64,
    },
    /// The driver sends the body.
    PutBody {
        left: u64,
    },
    /// `end` sent: the stored reply awaited.
    PutEnd {
        md5: Digest,
    },
    /// `list` sent.
    List,
    /// `stat` sent.
    Stat,
    /// An error ended the session.
    Failed,
}

/// The decoder of the reply being read.
enum Reply {
    /// Frames: a bodiless reply, or a listing.
    Frames(FrameDecoder<HEADER_CAP>),
    /// A segmented get.
    Segments(Segments),
    /// A plain get.
    Whole(Transfer),
}

/// What a step found, without borrowing the session.
enum Step {
    None,
    Event(ClientEvent<'static>),
    Data(Range<usize>),
    ListData(Range<usize>),
}

/// Request headers waiting to be sent; `O` bytes (one request at a time
/// is queued, and a request is at most a header).
struct Outbox<const O: usize> {
    buf: [u8; O],
    start: usize,
    end: usize,
}

impl<const O: usize> Outbox<O> {
    fn push_header<'a>(&mut self, h: impl Into<Fields<'a>>) -> Result<(), ClientError> {
        let n = emit_frame_header(h, &mut self.buf[self.end..]).map_err(|_| ClientError::Encode)?;
        self.end += n;
        Ok(())
    }

    fn pop(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        n
    }
}

/// One connection's files client session; `O` bytes of output buffer.
///
/// A get, with the server's bytes in hand:
///
/// ```
/// use wirekit_core::service::file::native::{end_header, segments};
/// use wirekit_core::session::files::client::{ClientEvent, FilesClient};
/// use wirekit_core::wire::{emit_frame_header, Digest};
///
/// let mut client: FilesClient = FilesClient::new();
/// client.get("a.txt", 0).unwrap();
/// let mut request = [0u8; 256];
/// let n = client.poll_output(&mut request);
/// assert!(request[..n].ends_with(br#""op":"get-segmented","total_size":0,"filename":"a.txt"}"#));
///
/// // The server's answer: the reply, one data segment, the md5 trailer.
/// let mut wire = [0u8; 512];
/// let mut len = 0;
/// for (h, body) in [
///     (segments::reply(3, 0, 1_700_000_000), &b""[..]),
///     (segments::segment_header(3), b"hi\n"),
///     (end_header(Digest::of(b"hi\n")), b""),
/// ] {
///     len += emit_frame_header(&h, &mut wire[len..]).unwrap();
///     wire[len..len + body.len()].copy_from_slice(body);
///     len += body.len();
/// }
///
/// let (mut input, mut file, mut expected) = (&wire[..len], [0u8; 3], None);
/// loop {
///     let (used, event) = client.handle_input(input).unwrap();
///     match event {
///         Some(ClientEvent::Started { size, .. }) => assert_eq!(size, 3),
///         Some(ClientEvent::Data(b)) => file.copy_from_slice(b),
///         Some(ClientEvent::Received { md5 }) => expected = Some(md5),
///         _ => {}
///     }
///     input = &input[used..];
///     if expected.is_some() {
///         break;
///     }
/// }
/// // The driver hashed what it wrote; the session compares.
/// assert_eq!(client.finish_get(Digest::of(&file)), Ok(Digest::of(b"hi\n")));
/// assert!(client.is_idle());
/// ```
pub struct FilesClient<const O: usize = CLIENT_OUTBOX> {
    state: State,
    reply: Reply,
    /// The file of the running get (asked again on a fallback).
    name: String<NAME_CAP>,
    out: Outbox<O>,
}

impl<const O: usize> Default for FilesClient<O> {
    fn default() -> Self {
        Self::new()
    }
}

fn frames(max_body: u64) -> Reply {
    Reply::Frames(FrameDecoder::with_limits(Limits {
        max_header: HEADER_CAP as u32,
        max_body,
        // A reply's md5 is a file's, never its (empty) body's.
        reject_mismatch: false,
        ..Limits::default()
    }))
}

impl<const O: usize> FilesClient<O> {
    /// A session on a new connection, idle.
    pub fn new() -> Self {
        FilesClient {
            state: State::Idle,
            reply: frames(0),
            name: String::new(),
            out: Outbox {
                buf: [0; O],
                start: 0,
                end: 0,
            },
        }
    }

    /// True when an exchange may start.
    pub fn is_idle(&self) -> bool {
        self.state == State::Idle
    }

    /// Moves the next bytes to send into `buf`; 0 when there are none.
    pub fn poll_output(&mut self, buf: &mut [u8]) -> usize {
        self.out.pop(buf)
    }

    fn idle(&self, call: &'static str) -> Result<(), ClientError> {
        match self.state {
            State::Idle => Ok(()),
            _ => Err(ClientError::OutOfOrder(call)),
        }
    }

    fn start(&mut self, call: &'static str, h: &Header, reply: Reply) -> Result<(), ClientError> {
        self.idle(call)?;
        self.out.push_header(h)?;
        self.reply = reply;
        Ok(())
    }

    /// Asks for `name` from byte `offset` (the bytes kept from an
    /// earlier download), in segments.
    pub fn get(&mut self, name: &str, offset: u64) -> Result<(), ClientError> {
        self.idle("get")?;
        let mut h = native::request(segments::OP, name).map_err(ClientError::Name)?;
        h.offset = (offset > 0).then_some(offset);
        self.start("get", &h, Reply::Segments(Segments::new()))?;
        self.name = h.filename.unwrap_or_default();
        self.state = State::Get {
            offset,
            segmented: true,
            started: false,
        };
        Ok(())
    }

    /// After [`ClientEvent::Received`]: `actual` is the md5 of the bytes
    /// the driver wrote (the kept ones included). Returns the verified
    /// md5, or [`ClientError::Md5Mismatch`]; either way the session is
    /// idle again.
    pub fn finish_get(&mut self, actual: Digest) -> Result<Digest, ClientError> {
        let State::Verify { md5 } = self.state else {
            return Err(ClientError::OutOfOrder("finish_get"));
        };
        self.state = State::Idle;
        if md5 != actual {
            return Err(ClientError::Md5Mismatch {
                expected: md5,
                actual,
            });
        }
        Ok(md5)
    }

    /// Asks for a challenge to prove the upload token with (before a
    /// put, on a server with `--files-token-file`).
    pub fn login(&mut self) -> Result<(), ClientError> {
        self.start("login", &access::challenge_request(), frames(0))?;
        self.state = State::Challenging;
        Ok(())
    }

    /// Answers [`ClientEvent::Challenge`] with the token's proof, bound to
    /// `binding` (the TLS exporter value; empty in clear text).
    pub fn authenticate(&mut self, token: &[u8], binding: &[u8]) -> Result<(), ClientError> {
        let State::Challenged(nonce) = &self.state else {
            return Err(ClientError::OutOfOrder("authenticate"));
        };
        let proof = auth::proof_in(DOMAIN, token, nonce, binding);
        let proof = core::str::from_utf8(&proof).unwrap_or("");
        self.out.push_header(&access::auth_request(proof))?;
        self.reply = frames(0);
        self.state = State::Authing;
        Ok(())
    }

    /// Offers an upload of `size` bytes to `name`; `force` replaces an
    /// existing file, `resume` asks the server to keep a partial upload.
    pub fn put(
        &mut self,
        name: &str,
        size: u64,
        force: bool,
        resume: bool,
    ) -> Result<(), ClientError> {
        self.idle("put")?;
        let mut h = native::request("put", name).map_err(ClientError::Name)?;
        h.size = Some(size);
        h.force = force.then_some(true);
        h.resume = resume.then_some(true);
        self.start("put", &h, frames(0))?;
        self.state = State::PutAsked { size };
        Ok(())
    }

    /// After [`ClientEvent::Ready`]: the body is sent from `offset` (the
    /// server's offer, or 0 to send it all); queues the `data` header.
    /// Then the driver sends the bytes ([`FilesClient::send_body`]).
    pub fn send_from(&mut self, offset: u64) -> Result<(), ClientError> {
        let State::PutReady { size, offered } = self.state else {
            return Err(ClientError::OutOfOrder("send_from"));
        };
        if offset != 0 && offset != offered {
            return Err(ClientError::OutOfOrder(
                "send_from (not the offered offset)",
            ));
        }
        self.out
            .push_header(native::data_header(offset, size - offset))?;
        self.state = State::PutBody {
            left: size - offset,
        };
        Ok(())
    }

    /// The driver is about to write `n` more body bytes (after sending
    /// what [`FilesClient::poll_output`] holds); refuses more than
    /// announced.
    pub fn send_body(&mut self, n: usize) -> Result<(), ClientError> {
        let State::PutBody { left } = &mut self.state else {
            return Err(ClientError::OutOfOrder("send_body"));
        };
        *left = left
            .checked_sub(n as u64)
            .ok_or(ClientError::BodyLength { left: 0 })?;
        Ok(())
    }

    /// All body bytes are sent; `md5` is the whole file's. Queues the
    /// trailer; [`ClientEvent::Stored`] follows.
    pub fn end_body(&mut self, md5: Digest) -> Result<(), ClientError> {
        let State::PutBody { left } = self.state else {
            return Err(ClientError::OutOfOrder("end_body"));
        };
        if left > 0 {
            return Err(ClientError::BodyLength { left });
        }
        self.out.push_header(native::end_header(md5))?;
        self.reply = frames(0);
        self.state = State::PutEnd { md5 };
        Ok(())
    }

    /// Asks for the entries of `dir` (`None`: the root).
    pub fn list(&mut self, dir: Option<&str>) -> Result<(), ClientError> {
        self.idle("list")?;
        let mut h = Header::with_op("list");
        if let Some(d) = dir {
            h.filename = Some(native::name_string(d).map_err(ClientError::Name)?);
        }
        self.start("list", &h, frames(MAX_LISTING))?;
        self.state = State::List;
        Ok(())
    }

    /// Asks for `name`'s size, mtime and md5.
    pub fn stat(&mut self, name: &str) -> Result<(), ClientError> {
        self.idle("stat")?;
        let h = native::request("stat", name).map_err(ClientError::Name)?;
        self.start("stat", &h, frames(0))?;
        self.state = State::Stat;
        Ok(())
    }

    /// Consumes the server's bytes up to the next event. Call again (also
    /// with no input) while it consumes bytes or reports an event.
    pub fn handle_input<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<ClientEvent<'a>>), ClientError> {
        let (used, step) = self
            .step(input)
            .inspect_err(|_| self.state = State::Failed)?;
        Ok((
            used,
            match step {
                Step::None => None,
                Step::Event(e) => Some(e),
                Step::Data(r) => Some(ClientEvent::Data(&input[r])),
                Step::ListData(r) => Some(ClientEvent::ListData(&input[r])),
            },
        ))
    }

    /// The server closed the connection: fine only between exchanges.
    pub fn handle_eof(&mut self) -> Result<(), ClientError> {
        let when = match self.state {
            State::Idle | State::Failed => return Ok(()),
            State::Get { .. } => "mid-transfer",
            State::List => "mid-listing",
            _ => "without answering",
        };
        self.state = State::Failed;
        Err(ClientError::Closed(when))
    }

    fn step(&mut self, input: &[u8]) -> Result<(usize, Step), ClientError> {
        match self.state {
            State::Get { .. } => self.transfer(input),
            State::List => self.listing(input),
            State::Challenging
            | State::Authing
            | State::PutAsked { .. }
            | State::PutBody { .. }
            | State::PutEnd { .. }
            | State::Stat => self.bodiless(input),
            State::Failed => Err(ClientError::OutOfOrder("handle_input")),
            // Waiting for a call, or for nothing: the bytes wait.
            State::Idle | State::Challenged(_) | State::Verify { .. } | State::PutReady { .. } => {
                Ok((0, Step::None))
            }
        }
    }
}

mod reply;
#[cfg(feature = "json-reference")]
pub mod seed;

impl<const O: usize> crate::session::Session for FilesClient<O> {
    type Event<'a> = ClientEvent<'a>;
    type Error = ClientError;

    fn handle_input<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<ClientEvent<'a>>), ClientError> {
        FilesClient::handle_input(self, input)
    }

    fn poll_output(&mut self, buf: &mut [u8]) -> usize {
        FilesClient::poll_output(self, buf)
    }

    fn handle_eof(&mut self) -> Result<(), ClientError> {
        FilesClient::handle_eof(self)
    }
}

#[cfg(test)]
mod tests;
