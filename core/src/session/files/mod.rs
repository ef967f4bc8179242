//! The read-only native files server as a session: the same exchanges and
//! bytes as `wirekit serve --listen files=…` (see
//! [`crate::service::file::native`] and `docs/PROTOCOL.md`), for `get`,
//! `list` and `stat`; a `put` is refused with the protocol's error form
//! (`{op: put, status: error, error: "NAME: this server is read-only"}`).
//!
//! The files come from a [`FileStore`] the driver passes to each call (so
//! one store serves any number of sessions): flash on a board, a directory
//! on a host. Its md5s are known in advance ([`FileMeta::md5`]), so a get
//! never hashes; a store whose file changed while it was sent is caught by
//! comparing [`FileStore::meta`] before the trailer, as the host does.
//!
//! One request at a time, as the protocol is used: while a reply is being
//! written, [`FilesServer::handle_input`] consumes nothing, so a pipelining
//! client waits in the transport's buffers (TCP flow control), never in
//! this session's memory.

use core::fmt;

use heapless::String;

use crate::codec::frame::{Event as FrameEvent, FrameDecoder, FrameError, Limits};
use crate::service::file::native::{
    end_header, error_reply, file_reply, get_reply, list_reply, parse_request, Request,
};
use crate::wire::{emit_frame_header, Header, WORD_CAP};

mod list;
mod refusal;
pub use list::Entry;
use refusal::Why;

#[cfg(test)]
mod tests;

/// Most entries one listing returns (the host's limit too); more are cut
/// and the reply says `truncated`.
pub const MAX_LIST: usize = 10_000;

/// The host's request header limit (`native::HEADER_CAP`), the default
/// decoder capacity. A board with short names can choose less: a longer
/// request is then a bad request.
pub const REQUEST_HEADER_CAP: usize = crate::service::file::native::HEADER_CAP;

/// The smallest output buffer that always makes progress: every reply
/// header fits (the longest, a refusal, is its 256-byte text escaped).
/// Smaller buffers work while the next header fits them.
pub const MIN_OUTPUT: usize = 768;

/// Why a store refused a file: the words after `NAME: ` in the reply (the
/// host's texts: `no such file`, `is a directory`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal(pub &'static str);

/// What a client reads about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: u64,
    /// The whole file's md5, known in advance (computed at build time for
    /// flash, cached by a host).
    pub md5: crate::wire::Digest,
}

/// Where the files come from. Names have passed
/// [`crate::service::file::name::check`] before the store sees them.
pub trait FileStore {
    /// An open file (an index, a handle).
    type File: Copy;
    /// Opens a regular file for reading.
    fn open(&mut self, name: &str) -> Result<(Self::File, FileMeta), Refusal>;
    /// Reads from `offset` into `buf`; `Ok(0)` only at the end of the file.
    fn read(&mut self, file: Self::File, offset: u64, buf: &mut [u8]) -> Result<usize, Refusal>;
    /// The file's metadata now (to notice a change while it was sent).
    fn meta(&mut self, file: Self::File) -> Result<FileMeta, Refusal>;
    /// Entry `index` of directory `dir` (`""` is the root), in a stable
    /// order; `Ok(None)` past the last one.
    fn entry(&mut self, dir: &str, index: usize) -> Result<Option<Entry<'_>>, Refusal>;
}

/// What a request was, for the driver's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A `get` is being answered.
    Get,
    /// A `stat` is being answered.
    Stat,
    /// A `list` is being answered.
    List,
    /// The request was refused (the reply says why).
    Refused,
    /// The bytes were no request frame: an error reply, then the session
    /// closes (as the host does).
    BadRequest(FrameError),
}

/// Why the session cannot go on; the driver closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The store failed in the middle of a reply.
    Store(Refusal),
    /// A file ended before its announced size: the frame cannot be
    /// completed.
    Shrank,
    /// A directory changed while it was listed.
    ListChanged,
    /// A reply header did not fit even [`MIN_OUTPUT`] bytes.
    Encode,
    /// The client closed the connection inside a request.
    Truncated(FrameError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(r) => write!(f, "store failed: {}", r.0),
            Self::Shrank => f.write_str("file shrank while being sent"),
            Self::ListChanged => f.write_str("directory changed while being listed"),
            Self::Encode => f.write_str("reply header does not fit the output buffer"),
            Self::Truncated(e) => write!(f, "client closed the connection inside a request: {e}"),
        }
    }
}

impl core::error::Error for Error {}

/// The reply being written.
#[derive(Debug, Clone, Copy)]
enum Reply<F> {
    None,
    Refuse {
        op: &'static str,
        why: Why,
    },
    RefuseAs {
        why: Why,
    },
    GetHeader {
        file: F,
        meta: FileMeta,
        offset: u64,
    },
    GetBody {
        file: F,
        meta: FileMeta,
        pos: u64,
    },
    GetEnd {
        file: F,
        meta: FileMeta,
    },
    Stat(FileMeta),
    ListHeader {
        len: u64,
        count: usize,
        truncated: bool,
    },
    ListBody {
        index: usize,
        count: usize,
        skip: usize,
        left: u64,
    },
}

/// One client's session with a read-only native files server; `H` is the
/// request header capacity.
pub struct FilesServer<F: Copy, const H: usize = REQUEST_HEADER_CAP> {
    dec: FrameDecoder<H>,
    reply: Reply<F>,
    /// Close once the reply is out (bad request, end of input).
    closing: bool,
    failed: bool,
    idle_ms: u64,
    last: u64,
}

impl<F: Copy, const H: usize> FilesServer<F, H> {
    /// A session that started at `now` and closes after `idle_ms` without
    /// a byte moving either way.
    pub fn new(now: u64, idle_ms: u64) -> Self {
        let limits = Limits {
            max_body: 0,
            ..Limits::default()
        };
        FilesServer {
            dec: FrameDecoder::with_limits(limits),
            reply: Reply::None,
            closing: false,
            failed: false,
            idle_ms,
            last: now,
        }
    }

    /// True when the driver should close the connection: after a bad
    /// request or the end of input once the reply is out, after an
    /// [`Error`], or after the idle timeout.
    pub fn wants_close(&self) -> bool {
        self.failed || (self.closing && matches!(self.reply, Reply::None))
    }

    /// True while a reply is being written (input waits).
    pub fn is_replying(&self) -> bool {
        !matches!(self.reply, Reply::None)
    }

    /// When [`FilesServer::handle_timeout`] is due (idle limit).
    pub fn poll_timeout(&self) -> Option<u64> {
        (!self.wants_close()).then(|| self.last.saturating_add(self.idle_ms))
    }

    /// Ends an idle session (see [`FilesServer::poll_timeout`]).
    pub fn handle_timeout(&mut self, now: u64) {
        if now >= self.last.saturating_add(self.idle_ms) {
            self.failed = true;
        }
    }

    /// The client closed its side. Call it once `handle_input` consumed
    /// all input; a request cut short is an error.
    pub fn handle_eof(&mut self) -> Result<(), Error> {
        self.closing = true;
        self.dec.finish().map_err(|e| {
            self.failed = true;
            Error::Truncated(e)
        })
    }

    /// Consumes received bytes up to the end of the next request and
    /// starts its reply; consumes nothing while a reply is being written.
    pub fn handle_input<S: FileStore<File = F>>(
        &mut self,
        now: u64,
        store: &mut S,
        input: &[u8],
    ) -> (usize, Option<Event>) {
        if self.is_replying() || self.closing || self.failed {
            return (0, None);
        }
        if !input.is_empty() {
            self.last = now;
        }
        let mut used = 0;
        loop {
            match self.dec.decode(&input[used..]) {
                Ok((n, None)) => return (used + n, None),
                Ok((n, Some(FrameEvent::Header(_)))) => {
                    return (used + n, Some(self.start(store)));
                }
                // The end of a body-less request; a request's md5 (of
                // nothing) is not checked by the host either.
                Ok((n, Some(_))) => used += n,
                Err(FrameError::Md5Mismatch { .. }) => {}
                Err(e) => {
                    self.reply = Reply::Refuse {
                        op: "error",
                        why: Why::BadRequest(e),
                    };
                    self.closing = true;
                    return (input.len(), Some(Event::BadRequest(e)));
                }
            }
        }
    }

    /// Starts the reply to the request the decoder just parsed.
    fn start<S: FileStore<File = F>>(&mut self, store: &mut S) -> Event {
        let h = self.dec.header();
        let (reply, event) = match parse_request(h) {
            Err(e) => (
                Reply::RefuseAs {
                    why: Why::Request(e),
                },
                Event::Refused,
            ),
            Ok(Request::Put { .. }) => (refuse("put", Why::ReadOnly), Event::Refused),
            // Not offered here: segmented bodies (clients then fall back to
            // a plain get, as with an older host) and the upload token (a
            // read-only server has none).
            Ok(Request::Get {
                segmented: true, ..
            })
            | Ok(Request::Challenge)
            | Ok(Request::Auth { .. }) => (
                Reply::RefuseAs {
                    why: Why::Request(crate::service::file::native::RequestError::UnknownOp),
                },
                Event::Refused,
            ),
            Ok(Request::Get {
                name,
                offset,
                segmented: false,
            }) => match store.open(name) {
                Err(r) => (refuse("get", Why::Store(r.0)), Event::Refused),
                Ok((_, meta)) if offset > meta.size => {
                    let why = Why::PastEnd {
                        offset,
                        size: meta.size,
                    };
                    (refuse("get", why), Event::Refused)
                }
                Ok((file, meta)) => (Reply::GetHeader { file, meta, offset }, Event::Get),
            },
            Ok(Request::Stat { name }) => match store.open(name) {
                Err(r) => (refuse("stat", Why::Store(r.0)), Event::Refused),
                Ok((_, meta)) => (Reply::Stat(meta), Event::Stat),
            },
            Ok(Request::List { dir }) => match listing_size(store, dir) {
                Err(r) => (refuse("list", Why::Store(r.0)), Event::Refused),
                Ok((len, count, truncated)) => (
                    Reply::ListHeader {
                        len,
                        count,
                        truncated,
                    },
                    Event::List,
                ),
            },
        };
        self.reply = reply;
        event
    }

    /// Writes the next bytes of the reply into `buf`; 0 when there is
    /// nothing to send (or the next header needs a larger `buf`).
    pub fn poll_output<S: FileStore<File = F>>(
        &mut self,
        now: u64,
        store: &mut S,
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        if self.failed {
            return Ok(0);
        }
        let n = self
            .output(store, buf)
            .inspect_err(|_| self.failed = true)?;
        if n > 0 {
            self.last = now;
        }
        Ok(n)
    }

    fn output<S: FileStore<File = F>>(
        &mut self,
        store: &mut S,
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        let (n, next) = match self.reply {
            Reply::None => return Ok(0),
            Reply::Refuse { op, why } => (self.refusal(op, why, buf)?, Reply::None),
            Reply::RefuseAs { why } => {
                let mut op: String<WORD_CAP> = String::new();
                let _ = op.push_str(self.dec.header().op.as_deref().unwrap_or("?"));
                (self.refusal(&op, why, buf)?, Reply::None)
            }
            Reply::GetHeader { .. } | Reply::GetBody { .. } | Reply::GetEnd { .. } => {
                match self.get_step(store, buf)? {
                    Some(step) => step,
                    // The file changed: the refusal goes out instead.
                    None => return self.output(store, buf),
                }
            }
            Reply::Stat(m) => {
                let h = file_reply("stat", m.size, m.md5, Some(m.mtime));
                (emit(&h, buf)?, Reply::None)
            }
            Reply::ListHeader {
                len,
                count,
                truncated,
            } => {
                let n = emit(&list_reply(len, truncated), buf)?;
                let next = match len {
                    0 => Reply::None,
                    _ => Reply::ListBody {
                        index: 0,
                        count,
                        skip: 0,
                        left: len,
                    },
                };
                (n, next)
            }
            Reply::ListBody { .. } => return self.list_body(store, buf),
        };
        // Nothing written: the header waits for a larger buffer.
        if n > 0 {
            self.reply = next;
        }
        Ok(n)
    }

    /// The next piece of a `get`: header, bytes, then the md5 trailer
    /// (`None`: the file changed, a refusal replaces the trailer).
    fn get_step<S: FileStore<File = F>>(
        &mut self,
        store: &mut S,
        buf: &mut [u8],
    ) -> Result<Option<(usize, Reply<F>)>, Error> {
        let (file, meta, pos) = match self.reply {
            Reply::GetHeader { file, meta, offset } => {
                let n = emit(&get_reply(meta.size, offset, meta.mtime), buf)?;
                return Ok(Some((n, after_body(file, meta, offset))));
            }
            Reply::GetBody { file, meta, pos } => (file, meta, pos),
            Reply::GetEnd { file, meta } => {
                if store.meta(file).ok() != Some(meta) {
                    self.reply = refuse("end", Why::Changed);
                    return Ok(None);
                }
                return Ok(Some((emit(&end_header(meta.md5), buf)?, Reply::None)));
            }
            _ => return Ok(Some((0, Reply::None))),
        };
        let want = usize::try_from(meta.size - pos).map_or(buf.len(), |r| r.min(buf.len()));
        let n = store
            .read(file, pos, &mut buf[..want])
            .map_err(Error::Store)?;
        if n == 0 && want > 0 {
            return Err(Error::Shrank);
        }
        Ok(Some((n, after_body(file, meta, pos + n as u64))))
    }

    /// Streams the listing's lines, formatted again from the store.
    fn list_body<S: FileStore<File = F>>(
        &mut self,
        store: &mut S,
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        let Reply::ListBody {
            mut index,
            count,
            mut skip,
            mut left,
        } = self.reply
        else {
            return Ok(0);
        };
        let dir = self.dec.header().filename.as_deref().unwrap_or("");
        let mut written = 0;
        while written < buf.len() && index < count {
            let entry = store
                .entry(dir, index)
                .map_err(Error::Store)?
                .ok_or(Error::ListChanged)?;
            let mut w = list::Window::new(&mut buf[written..], skip);
            // Window never fails.
            let _ = list::write_line(&entry, &mut w);
            let kept = w.kept as u64;
            if kept > left {
                return Err(Error::ListChanged);
            }
            written += w.kept;
            left -= kept;
            if skip + w.kept == w.seen {
                index += 1;
                skip = 0;
            } else {
                skip += w.kept;
            }
        }
        self.reply = match (index == count, left) {
            (true, 0) => Reply::None,
            (true, _) => return Err(Error::ListChanged),
            _ => Reply::ListBody {
                index,
                count,
                skip,
                left,
            },
        };
        Ok(written)
    }

    /// Writes a refusal header; its text names the request's file.
    fn refusal(&self, op: &str, why: Why, buf: &mut [u8]) -> Result<usize, Error> {
        let name = self.dec.header().filename.as_deref().unwrap_or("");
        emit(&error_reply(op, &why.text(name)), buf)
    }
}

fn refuse<F>(op: &'static str, why: Why) -> Reply<F> {
    Reply::Refuse { op, why }
}

/// A `get` at `pos`: more bytes, or the trailer.
fn after_body<F>(file: F, meta: FileMeta, pos: u64) -> Reply<F> {
    match pos == meta.size {
        true => Reply::GetEnd { file, meta },
        false => Reply::GetBody { file, meta, pos },
    }
}

/// The listing's length in bytes, its entry count and whether it was cut
/// at [`MAX_LIST`].
fn listing_size<S: FileStore>(store: &mut S, dir: &str) -> Result<(u64, usize, bool), Refusal> {
    let mut len = 0u64;
    for i in 0..MAX_LIST {
        match store.entry(dir, i)? {
            Some(e) => len += list::line_len(&e) as u64,
            None => return Ok((len, i, false)),
        }
    }
    let more = store.entry(dir, MAX_LIST)?.is_some();
    Ok((len, MAX_LIST, more))
}

/// Writes a header frame if it fits: `Ok(0)` asks for a larger buffer,
/// unless the buffer was [`MIN_OUTPUT`] already.
fn emit(h: &Header, buf: &mut [u8]) -> Result<usize, Error> {
    match emit_frame_header(h, buf) {
        Ok(n) => Ok(n),
        Err(_) if buf.len() < MIN_OUTPUT => Ok(0),
        Err(_) => Err(Error::Encode),
    }
}
