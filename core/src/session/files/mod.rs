//! The native files server as a session: the same exchanges and bytes as
//! `wirekit serve --listen files=…` (see [`crate::service::file::native`]
//! and `docs/PROTOCOL.md`). The host and the board run this code. The
//! seeds' dialects of the same listeners are sessions too, over the same
//! store: [`seed`].
//!
//! What a session offers is chosen by its extension type `X`:
//! - [`ReadOnly`] (the default, the board's): `get`, `list` and `stat`; a
//!   `put` is refused with the protocol's error form (`{op: put, status:
//!   error, error: "NAME: this server is read-only"}`), `get-segmented`,
//!   `challenge` and `auth` are unknown operations (clients fall back). It
//!   is a zero-sized type, so none of the upload code or state reaches a
//!   read-only image.
//! - [`Full`] (the host's): also segmented gets, the token exchange and
//!   uploads under an [`access::Policy`](crate::service::file::access).
//!   What needs the driver (random nonces, the per-address throttle, the
//!   partial file and its writes) is asked for with an [`Event`] and
//!   answered through the session's methods ([`upload`]).
//!
//! The files come from a [`FileStore`] the driver passes to each output
//! call (so one store serves any number of sessions): flash on a board, a
//! directory on a host. The store is only called from
//! [`FilesServer::poll_output`], so a driver can run input handling
//! inline and output (which reads files) where blocking is allowed. A
//! store whose file changed while it was sent is caught by comparing
//! [`FileStore::meta`] before the trailer, as the host does.
//!
//! One request at a time, as the protocol is used: while a reply is being
//! written, [`FilesServer::handle_input`] consumes nothing, so a pipelining
//! client waits in the transport's buffers (TCP flow control), never in
//! this session's memory.

use core::fmt;

use crate::codec::frame::{Event as FrameEvent, FrameDecoder, FrameError, Limits};
use crate::service::file::native::{parse_request, Request, RequestError};
use crate::wire::Digest;

pub mod client;
mod list;
mod output;
mod refusal;
pub mod seed;
pub mod upload;
pub use list::Entry;
use refusal::Why;
pub use refusal::SHUTTING_DOWN;
pub use upload::{Extension, Full, ReadOnly, Uploads};

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
/// host's texts: `no such file`, `is a directory`, …), unless the store
/// words it itself ([`FileStore::describe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal(pub &'static str);

/// What a client reads about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: u64,
    /// The whole file's md5 if known at open (computed at build time for
    /// flash); otherwise [`FileStore::digest`] supplies it when needed.
    pub md5: Digest,
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

    /// The whole file's md5, for a `stat` and a `get`'s trailer: by
    /// default the one [`FileStore::open`] reported. A host that hashes
    /// while it reads (a first get) answers it here.
    fn digest(&mut self, _file: Self::File, meta: &FileMeta) -> Result<Digest, Refusal> {
        Ok(meta.md5)
    }
    /// A get's bytes are about to be sent: a host counts running
    /// transfers here, and a refusal is sent instead.
    fn start_get(&mut self, _file: Self::File) -> Result<(), Refusal> {
        Ok(())
    }
    /// A get's trailer went out after `bytes` bytes of the file.
    fn get_done(&mut self, _file: Self::File, _bytes: u64) {}
    /// Writes the text of a refusal this store returned for `name`; by
    /// default `NAME: WHAT`. A store with texts of its own (an I/O error
    /// on a host) writes those.
    fn describe(&mut self, r: Refusal, name: &str, w: &mut dyn fmt::Write) -> fmt::Result {
        // Pieces, not write!: no core::fmt machinery on firmware.
        w.write_str(name)?;
        w.write_str(": ")?;
        w.write_str(r.0)
    }
    /// A refusal of `op` was sent (a host logs and counts it).
    fn refused(&mut self, _op: &str, _text: &str) {}
}

/// What a request was, and what the driver must do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A `get` (plain or segmented) is being answered.
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
    /// [`Full`]: a `challenge` on a server with a token. Answer with
    /// [`FilesServer::send_challenge`] or [`FilesServer::refuse_throttled`].
    Challenge,
    /// [`Full`]: an `auth` proof arrived. Answer with
    /// [`FilesServer::verify`] (false: count a failed proof).
    Auth,
    /// [`Full`]: an upload the policy and the size limit allow
    /// ([`FilesServer::request`] has it). Open its partial, then
    /// [`FilesServer::put_ready`] or [`FilesServer::put_refused`].
    Put,
    /// The client starts over instead of resuming: empty the partial.
    PutRestart,
    /// The next bytes of the upload, for the partial.
    Data(&'a [u8]),
    /// All bytes and the client's md5 arrived: finish the writes, then
    /// [`FilesServer::put_check`] with the md5 of what was written.
    PutEnd,
    /// The upload was refused (bad data frame): discard the partial.
    PutFailed,
    /// The client gave up (or closed) during the upload: keep the partial
    /// for a `--resume`.
    PutAbandoned,
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
    /// The client closed the connection during an upload.
    UploadCut,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(r) => write!(f, "store failed: {}", r.0),
            Self::Shrank => f.write_str("file shrank while being sent"),
            Self::ListChanged => f.write_str("directory changed while being listed"),
            Self::Encode => f.write_str("reply header does not fit the output buffer"),
            Self::Truncated(e) => write!(f, "client closed the connection inside a request: {e}"),
            Self::UploadCut => f.write_str("client closed the connection during an upload"),
        }
    }
}

impl core::error::Error for Error {}

/// The reply being written.
#[derive(Debug, Clone, Copy)]
enum Reply<F> {
    None,
    /// A request was parsed; the store is asked at the first output.
    Start,
    Refuse {
        op: &'static str,
        why: Why,
    },
    /// A refusal under the request's own `op`.
    RefuseAs {
        why: Why,
    },
    GetHeader {
        file: F,
        meta: FileMeta,
        offset: u64,
        segmented: bool,
    },
    /// `seg`: bytes left in the current `data` segment of a segmented get
    /// (`Some(0)`: its next header is due); `None` for a plain get.
    GetBody {
        file: F,
        meta: FileMeta,
        offset: u64,
        pos: u64,
        seg: Option<u64>,
    },
    GetEnd {
        file: F,
        meta: FileMeta,
        offset: u64,
    },
    Stat(F, FileMeta),
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
    /// [`Full`]'s replies (nonce, upload state in the extension).
    Challenge,
    AuthOk,
    Ready {
        kept: u64,
        prefix: Option<Digest>,
    },
    PutOk {
        size: u64,
        md5: Digest,
    },
}

/// One client's session with a native files server; `H` is the request
/// header capacity, `X` what is offered beyond reading ([`ReadOnly`] or
/// [`Full`]).
pub struct FilesServer<F: Copy, const H: usize = REQUEST_HEADER_CAP, X = ReadOnly> {
    /// Requests are body-less (`max_body: 0`) and a request's md5 was
    /// never acted on (a mismatch is ignored below), so the decoder does
    /// not hash: no md5 code in a read-only board image.
    dec: FrameDecoder<H, false>,
    reply: Reply<F>,
    /// Close once the reply is out (bad request, end of input).
    closing: bool,
    failed: bool,
    /// The server is stopping: no new request, segmented gets end early.
    stopping: bool,
    idle_ms: u64,
    last: u64,
    ext: X,
}

impl<F: Copy, const H: usize> FilesServer<F, H, ReadOnly> {
    /// A read-only session that started at `now` and closes after
    /// `idle_ms` without a byte moving either way.
    pub fn new(now: u64, idle_ms: u64) -> Self {
        Self::with_extension(now, idle_ms, ReadOnly)
    }
}

impl<F: Copy, const H: usize, X: Extension> FilesServer<F, H, X> {
    /// A session offering what `ext` adds to reading.
    pub fn with_extension(now: u64, idle_ms: u64, ext: X) -> Self {
        let limits = Limits {
            max_body: 0,
            ..Limits::default()
        };
        FilesServer {
            dec: FrameDecoder::with_limits(limits),
            reply: Reply::None,
            closing: false,
            failed: false,
            stopping: false,
            idle_ms,
            last: now,
            ext,
        }
    }

    /// True when the driver should close the connection: after a bad
    /// request, the end of input or a shutdown once the reply is out,
    /// after an [`Error`], or after the idle timeout.
    pub fn wants_close(&self) -> bool {
        self.failed || (self.closing && matches!(self.reply, Reply::None))
    }

    /// True while a reply is being written or the session waits for the
    /// driver's answer to an [`Event`] (input waits meanwhile).
    pub fn is_replying(&self) -> bool {
        !matches!(self.reply, Reply::None) || self.ext.waiting()
    }

    /// True while a reply is being written: [`FilesServer::poll_output`]
    /// has bytes (unless the buffer is too small for the next header).
    pub fn has_output(&self) -> bool {
        !matches!(self.reply, Reply::None)
    }

    /// True between requests when the session holds nothing a new one
    /// would not (no reply, no exchange or upload under way, no proof
    /// made or nonce given, no shutdown): a driver may then drop it while
    /// the client is idle and start a new one for its next bytes, so an
    /// idle connection holds no session memory.
    pub fn is_resting(&self) -> bool {
        matches!(self.reply, Reply::None)
            && !(self.closing || self.failed || self.stopping)
            // Between frames (a body-less request's end counts).
            && self.dec.finish().is_ok()
            && self.ext.fresh()
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

    /// The server is stopping: a request being answered finishes (a
    /// segmented get at its next segment boundary, with an `end` error),
    /// then the client is told `server is shutting down` and the session
    /// closes. No new request starts.
    pub fn handle_shutdown(&mut self) {
        self.stopping = true;
        self.stop_if_idle();
    }

    /// After a shutdown: the goodbye once nothing else is under way.
    fn stop_if_idle(&mut self) {
        let idle = matches!(self.reply, Reply::None) && !self.ext.busy();
        if self.stopping && idle && !self.closing && !self.failed {
            self.reply = Reply::Refuse {
                op: "error",
                why: Why::ShuttingDown,
            };
            self.closing = true;
        }
    }

    /// The client closed its side. Call it once `handle_input` consumed
    /// all input; a request cut short is an error, and so is an upload
    /// cut short (the driver keeps its partial).
    pub fn handle_eof(&mut self) -> Result<(), Error> {
        self.closing = true;
        if self.ext.busy() {
            self.failed = true;
            return Err(Error::UploadCut);
        }
        self.dec.finish().map_err(|e| {
            self.failed = true;
            Error::Truncated(e)
        })
    }

    /// The request being answered (the name, size and flags of a
    /// [`Event::Put`]).
    pub fn request(&self) -> Option<Request<'_>> {
        parse_request(self.dec.header()).ok()
    }

    /// Consumes received bytes up to the end of the next request (or the
    /// next piece of an upload) and reports it; consumes nothing while a
    /// reply is being written or an [`Event`] awaits the driver.
    pub fn handle_input<'a>(&mut self, now: u64, input: &'a [u8]) -> (usize, Option<Event<'a>>) {
        if self.is_replying() || self.closing || self.failed {
            return (0, None);
        }
        if !input.is_empty() {
            self.last = now;
        }
        if self.ext.receiving() {
            return self.receive(input);
        }
        self.stop_if_idle();
        if self.closing {
            return (0, None);
        }
        let mut used = 0;
        loop {
            match self.dec.decode(input.get(used..).unwrap_or_default()) {
                Ok((n, None)) => return (used + n, None),
                Ok((n, Some(FrameEvent::Header(_)))) => {
                    return (used + n, Some(self.start_request()));
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

    /// Reads the request the decoder just parsed; what needs the store
    /// waits for the output ([`Reply::Start`]).
    fn start_request(&mut self) -> Event<'static> {
        let unknown = Why::Request(RequestError::UnknownOp);
        let full = self.ext.full();
        let (reply, event) = match (parse_request(self.dec.header()), full) {
            (Err(e), _) => (
                Reply::RefuseAs {
                    why: Why::Request(e),
                },
                Event::Refused,
            ),
            (Ok(Request::Put { .. }), None) => (refuse("put", Why::ReadOnly), Event::Refused),
            // Not offered read-only: segmented bodies (clients then fall
            // back to a plain get, as with an older host) and the upload
            // token (a read-only server has none).
            (
                Ok(Request::Get {
                    segmented: true, ..
                }),
                None,
            )
            | (Ok(Request::Challenge | Request::Auth { .. }), None) => {
                (Reply::RefuseAs { why: unknown }, Event::Refused)
            }
            (
                Ok(req @ (Request::Put { .. } | Request::Challenge | Request::Auth { .. })),
                Some(x),
            ) => x.start(req),
            (Ok(Request::Get { .. }), _) => (Reply::Start, Event::Get),
            (Ok(Request::Stat { .. }), _) => (Reply::Start, Event::Stat),
            (Ok(Request::List { .. }), _) => (Reply::Start, Event::List),
        };
        self.reply = reply;
        event
    }
}

fn refuse<F>(op: &'static str, why: Why) -> Reply<F> {
    Reply::Refuse { op, why }
}
