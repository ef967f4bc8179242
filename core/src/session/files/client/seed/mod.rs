//! The client side of the seeds' files dialects, for talking to the
//! seeds' own Python servers (`wirekit get|put --dialect seed…`), as
//! sessions without I/O, clock or allocation:
//!
//! - seed 000: the bare name → `pack('i', len)` + JSON `{lenth, md5,
//!   size(MB)}` (`{}`: no such file) + the bytes;
//! - seed 002: `get NAME` → `pack('i', size)` + one md5-checked frame per
//!   chunk; `put NAME`, the size, the chunk frames → `NAME 上传成功`;
//! - seed 004: `get NAME` → the size as text, our ack, the bytes, the md5
//!   as 32 hex digits.
//!
//! The events are the native client's, in short ([`SeedEvent`]): where
//! a download starts, its bytes, its end with the server's md5 (seed 002
//! sends none: each chunk is checked instead), and a stored upload.
//!
//! Seed 002's server reads each message with `recv(1024)`, so an upload
//! must pause after its command and after each chunk or the server takes
//! the next message into the current one. The pause is time, which the
//! session does not keep: the driver waits [`SEED002_PAUSE_MS`] after
//! sending what [`SeedClient::poll_output`] gave it (and a chunk's bytes).
//!
//! ```
//! use wirekit_core::session::files::client::seed::{SeedClient, SeedDialect, SeedEvent};
//! use wirekit_core::wire::Digest;
//!
//! let mut c = SeedClient::get(SeedDialect::Seed004, "a.txt").unwrap();
//! let mut out = [0u8; 64];
//! let n = c.poll_output(&mut out);
//! assert_eq!(&out[..n], b"get a.txt");
//! // The size comes alone (the server waits for the ack).
//! assert_eq!(c.handle_input(b"3").unwrap(), (1, Some(SeedEvent::Started { size: 3 })));
//! let n = c.poll_output(&mut out);
//! assert_eq!(&out[..n], b"ready to recv file");
//! let md5 = Digest::of(b"hi\n");
//! let mut rest = [0u8; 35];
//! rest[..3].copy_from_slice(b"hi\n");
//! rest[3..].copy_from_slice(&md5.to_hex());
//! assert_eq!(c.handle_input(&rest).unwrap(), (3, Some(SeedEvent::Data(b"hi\n"))));
//! assert_eq!(c.handle_input(&rest[3..]).unwrap(), (32, Some(SeedEvent::Received { md5: Some(md5) })));
//! assert_eq!(c.finish_get(Digest::of(b"hi\n")), Ok(md5));
//! ```

// As the native session: the server's words travel inline in the error.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

use core::fmt::Write as _;

use heapless::{String, Vec};

use super::ClientError;
use crate::codec::frame::{FrameDecoder, Limits};
use crate::service::file::{seed000, seed002};
use crate::wire::{Digest, PREFIX_LEN};

mod error;
mod reply;
pub use error::{SeedError, ANSWER_CAP};

/// How long the driver waits after a seed 002 upload's command and after
/// each chunk (the seed server itself sleeps 10 ms per line; wirekit's
/// own server reads whole messages and does not need it).
pub const SEED002_PAUSE_MS: u64 = 50;

/// Largest JSON header accepted from a seed 000 server.
pub const SEED000_MAX_HEADER: usize = 8192;

/// Output buffer: a chunk header with its size preamble.
const OUT_CAP: usize = seed002::CHUNK_HEADER_CAP + PREFIX_LEN;

/// Longest seed 002 upload answer: the name (at most a command's length)
/// and the success words.
const DONE_CAP: usize = seed002::MAX_COMMAND + 32;

/// Which seed server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedDialect {
    /// Seed 000's download server.
    Seed000,
    /// Seed 002's FTP server.
    Seed002,
    /// Seed 004's FTP server.
    Seed004,
}

/// What the server said, and what the driver must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedEvent<'a> {
    /// The file's bytes start; `size` of them.
    Started {
        /// The file's size.
        size: u64,
    },
    /// The next bytes of the file.
    Data(&'a [u8]),
    /// All bytes arrived. Seeds 000 and 004 send the file's md5: call
    /// [`SeedClient::finish_get`] with the md5 of what was written.
    Received {
        /// The server's md5, if the dialect has one.
        md5: Option<Digest>,
    },
    /// The upload was stored (the seed's success line came).
    Stored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Seed 000: the header's length prefix, then the header.
    Header000,
    /// Seed 002: the size preamble.
    Size002,
    /// Seed 002: chunk frames until `got == size`.
    Chunks { size: u64, got: u64 },
    /// Seed 004: the size text.
    Size004,
    /// Raw bytes (seeds 000, 004); then the md5 (004) or the end.
    Body { left: u64 },
    /// Seed 004: the md5 text.
    Md5Text,
    /// A download's end is to be reported (`Some`: with this md5).
    Ending(Option<Digest>),
    /// Waiting for the driver's md5.
    Verify(Digest),
    /// Seed 002 upload: `left` bytes of chunks to come; `pre`: the size
    /// preamble is not sent yet.
    Chunking { left: u64, size: u64, pre: bool },
    /// Seed 002 upload: the success line awaited.
    Answer,
    /// Over (fine or failed).
    Done,
}

/// One exchange with a seed server.
pub struct SeedClient {
    dialect: SeedDialect,
    state: State,
    /// Bytes of a message read in pieces (prefix, header, md5 text).
    held: Vec<u8, SEED000_MAX_HEADER>,
    chunks: FrameDecoder<{ seed002::CHUNK_HEADER_CAP }>,
    /// The upload's name (seed 002 chunk headers carry it).
    name: String<{ seed002::MAX_COMMAND }>,
    /// The md5 a seed 000 header announced.
    expected: Option<Digest>,
    out: Vec<u8, OUT_CAP>,
    sent: usize,
}

impl SeedClient {
    fn new(dialect: SeedDialect, state: State, name: &str) -> Result<Self, SeedError> {
        let mut c = SeedClient {
            dialect,
            state,
            held: Vec::new(),
            chunks: FrameDecoder::new(),
            name: String::new(),
            expected: None,
            out: Vec::new(),
            sent: 0,
        };
        c.name.push_str(name).map_err(|_| SeedError::TooLong)?;
        Ok(c)
    }

    /// Asks a seed server for `name`.
    pub fn get(dialect: SeedDialect, name: &str) -> Result<Self, SeedError> {
        let state = match dialect {
            SeedDialect::Seed000 => State::Header000,
            SeedDialect::Seed002 => State::Size002,
            SeedDialect::Seed004 => State::Size004,
        };
        let mut c = Self::new(dialect, state, name)?;
        match dialect {
            // The bare name, as the seed reads it (`recv(1024)`).
            SeedDialect::Seed000 if name.len() <= seed000::MAX_REQUEST => {
                c.queue(name.as_bytes())?
            }
            SeedDialect::Seed000 => return Err(SeedError::TooLong),
            _ => c.command("get")?,
        }
        Ok(c)
    }

    /// Offers a seed 002 server an upload of `size` bytes as `name`.
    /// After the command (and its pause) the driver hands each chunk to
    /// [`SeedClient::chunk`], then calls [`SeedClient::end_put`].
    pub fn put(name: &str, size: u64) -> Result<Self, SeedError> {
        if seed002::size_prefix(size).is_none() {
            return Err(SeedError::TooBig { size });
        }
        let state = State::Chunking {
            left: size,
            size,
            pre: true,
        };
        let mut c = Self::new(SeedDialect::Seed002, state, name)?;
        c.command("put")?;
        Ok(c)
    }

    /// `VERB NAME` (at most the `recv(1024)` the seed reads).
    fn command(&mut self, verb: &str) -> Result<(), SeedError> {
        let mut text: String<{ seed002::MAX_COMMAND }> = String::new();
        write!(text, "{verb} {}", self.name).map_err(|_| SeedError::TooLong)?;
        self.queue(text.as_bytes())
    }

    fn queue(&mut self, bytes: &[u8]) -> Result<(), SeedError> {
        self.out
            .extend_from_slice(bytes)
            .map_err(|_| SeedError::TooLong)
    }

    /// The dialect.
    pub fn dialect(&self) -> SeedDialect {
        self.dialect
    }

    /// Moves the next bytes to send into `buf`; 0 when there are none.
    pub fn poll_output(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.out.len() - self.sent);
        buf[..n].copy_from_slice(&self.out[self.sent..self.sent + n]);
        self.sent += n;
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        }
        n
    }

    /// The next chunk of a seed 002 upload, [`seed002::CHUNK`] bytes (the
    /// last one: what is left). Queues its frame header (after the size
    /// preamble for the first); the driver sends that, then `data`, then
    /// pauses.
    pub fn chunk(&mut self, data: &[u8]) -> Result<(), SeedError> {
        let State::Chunking { left, size, pre } = self.state else {
            return Err(SeedError::OutOfOrder("chunk"));
        };
        let want = usize::try_from(left).map_or(seed002::CHUNK, |l| l.min(seed002::CHUNK));
        if data.is_empty() || data.len() != want || !self.out.is_empty() {
            return Err(SeedError::ChunkLength);
        }
        if pre {
            self.preamble(size)?;
        }
        let mut head = [0u8; seed002::CHUNK_HEADER_CAP];
        let n = seed002::chunk_header(&self.name, data, &mut head).ok_or(SeedError::TooLong)?;
        self.queue(&head[..n])?;
        self.state = State::Chunking {
            left: left - data.len() as u64,
            size,
            pre: false,
        };
        Ok(())
    }

    fn preamble(&mut self, size: u64) -> Result<(), SeedError> {
        let pre = seed002::size_prefix(size).ok_or(SeedError::TooBig { size })?;
        self.queue(&pre)
    }

    /// All chunks were sent: the server's answer is next (an empty file
    /// sends its size preamble now).
    pub fn end_put(&mut self) -> Result<(), SeedError> {
        match self.state {
            State::Chunking { left: 0, size, pre } => {
                if pre {
                    self.preamble(size)?;
                }
                self.state = State::Answer;
                Ok(())
            }
            State::Chunking { .. } => Err(SeedError::ChunkLength),
            _ => Err(SeedError::OutOfOrder("end_put")),
        }
    }

    /// After [`SeedEvent::Received`] with an md5: `actual` is the md5 of
    /// what was written. Returns the verified md5.
    pub fn finish_get(&mut self, actual: Digest) -> Result<Digest, ClientError> {
        let State::Verify(md5) = self.state else {
            return Err(ClientError::OutOfOrder("finish_get"));
        };
        self.state = State::Done;
        if md5 != actual {
            return Err(ClientError::Md5Mismatch {
                expected: md5,
                actual,
            });
        }
        Ok(md5)
    }

    /// The server closed the connection: fine only when the exchange is
    /// over.
    pub fn handle_eof(&mut self) -> Result<(), SeedError> {
        let e = match self.state {
            State::Done | State::Verify(_) | State::Ending(_) => return Ok(()),
            State::Header000 if self.held.len() < PREFIX_LEN => {
                SeedError::Cut("reading the header length")
            }
            State::Header000 => SeedError::Cut("reading the header"),
            State::Size002 => SeedError::NoSize,
            State::Size004 => SeedError::Cut("waiting for the size"),
            State::Body { left } => SeedError::Missing { left },
            State::Chunks { size, got } => SeedError::Missing { left: size - got },
            State::Md5Text => SeedError::Cut("reading the md5"),
            State::Chunking { .. } | State::Answer => SeedError::Cut("waiting for the answer"),
        };
        self.state = State::Done;
        Err(e)
    }
}

fn chunk_limits(size: u64) -> Limits {
    Limits {
        max_header: seed002::CHUNK_HEADER_CAP as u32,
        max_body: size,
        ..Limits::default()
    }
}

/// The seed 002 success line for `name`.
fn done_line(name: &str) -> String<DONE_CAP> {
    let mut s = String::new();
    // A name fits a command, so its line fits DONE_CAP.
    let _ = seed002::upload_done(name, &mut s);
    s
}

impl crate::session::Session for SeedClient {
    type Event<'a> = SeedEvent<'a>;
    type Error = SeedError;

    fn handle_input<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<SeedEvent<'a>>), SeedError> {
        SeedClient::handle_input(self, input)
    }

    fn poll_output(&mut self, buf: &mut [u8]) -> usize {
        SeedClient::poll_output(self, buf)
    }

    fn handle_eof(&mut self) -> Result<(), SeedError> {
        SeedClient::handle_eof(self)
    }
}

#[cfg(test)]
mod tests;
