//! The seeds' file dialects, server side, as sessions: seed 000's
//! bare-name download ([`Seed000Server`]), seed 002's `get`/`put`
//! ([`Seed002Server`]) and seed 004's size/ack/bytes/md5 get
//! ([`Seed004Server`]). The bytes are those of `wirekit serve` (see
//! [`crate::service::file::seed000`], [`seed002`](crate::service::file::seed002),
//! [`seed004`](crate::service::file::seed004) and `docs/PROTOCOL.md`);
//! the host and, if it wants them, the board run this code.
//!
//! They share the native session's pieces: the same [`FileStore`] (passed
//! to each output call, the only place files are read), the same
//! [`Event`]s and [`Error`]s, the same [`Uploads`](super::Uploads) policy
//! for seed 002's `put` (a seed dialect cannot authenticate, see
//! [`may_upload`](crate::service::file::access::may_upload)), and the
//! driver's side of an upload (open, write, commit or discard the partial)
//! answered through methods named as on [`super::FilesServer`].
//!
//! # What a message is
//!
//! The seeds frame nothing but uploads: a command (`get a.txt`) or a name
//! is whatever one `recv(1024)` returns, because the client sends it and
//! then waits for the answer. So these sessions take as one message all
//! the bytes handed to one `handle_input` call, up to 1,024 (the rest is
//! the next message, as on the seeds' servers): a driver passes everything
//! it has buffered, never a piece of it. What is framed (seed 002's upload
//! stream) decodes the same however it is split.
//!
//! # Where the seeds' servers fail
//!
//! They hang or crash on a missing file, a size an `i` cannot hold, a
//! corrupt chunk. These sessions answer as clearly as each seed client can
//! show: `{}` for seed 000, a closed connection for a seed 002 get (the
//! client prints "服务器端没有该文件"), `NAME 上传失败: why` for a seed 002
//! put, `error: why` for seed 004. Every refusal is also reported to the
//! store ([`FileStore::refused`]) with its reason, for the log.

use core::fmt;

use heapless::Vec;

use super::{Error, Event, FileStore};

mod put002;
mod seed000;
mod seed002;
mod seed004;
mod why;

pub use seed000::Seed000Server;
pub use seed002::Seed002Server;
pub use seed004::Seed004Server;
pub use why::TOO_BIG;

#[cfg(test)]
mod tests;

/// Most bytes one message holds (the seeds' `recv(1024)`).
pub const MAX_MESSAGE: usize = 1024;

/// The smallest output buffer that always makes progress: a seed 002
/// chunk header with the longest name escaped, or a refusal text naming a
/// 1,024-byte command twice. Smaller buffers work while the next piece
/// fits them (a name of a few bytes needs a few hundred).
pub const MIN_OUTPUT: usize = crate::service::file::seed002::CHUNK_HEADER_CAP;

/// What every seed session keeps besides its reply: the client's last
/// message, and the end of the conversation.
struct Common {
    msg: Vec<u8, MAX_MESSAGE>,
    /// Close once the reply is out (end of input, a refusal that closes,
    /// the shutdown's goodbye).
    closing: bool,
    failed: bool,
    /// The server is stopping: no new request starts.
    stopping: bool,
    idle_ms: u64,
    last: u64,
}

impl Common {
    fn new(now: u64, idle_ms: u64) -> Common {
        Common {
            msg: Vec::new(),
            closing: false,
            failed: false,
            stopping: false,
            idle_ms,
            last: now,
        }
    }

    /// Whether input may be taken now (`replying`: a reply is being
    /// written or the driver's answer is awaited).
    fn takes_input(&self, replying: bool) -> bool {
        !(replying || self.closing || self.failed || self.stopping)
    }

    /// Takes one message (see the module docs): the consumed length.
    fn take(&mut self, now: u64, input: &[u8], len: usize) -> usize {
        let n = len.min(input.len()).min(MAX_MESSAGE);
        self.msg.clear();
        // n <= MAX_MESSAGE: fits.
        let _ = self.msg.extend_from_slice(&input[..n]);
        self.last = now;
        n
    }

    /// Between requests with nothing learnt or under way: a driver may
    /// drop the session while the client idles and start a new one.
    fn resting(&self, idle: bool) -> bool {
        idle && !(self.closing || self.failed || self.stopping)
    }

    fn wants_close(&self, idle: bool) -> bool {
        self.failed || (self.closing && idle)
    }

    fn poll_timeout(&self, idle: bool) -> Option<u64> {
        (!self.wants_close(idle)).then(|| self.last.saturating_add(self.idle_ms))
    }

    fn handle_timeout(&mut self, now: u64) {
        if now >= self.last.saturating_add(self.idle_ms) {
            self.failed = true;
        }
    }

    /// Runs an output step: marks the session failed on an error and the
    /// time of any byte written.
    fn output(&mut self, now: u64, r: Result<usize, Error>) -> Result<usize, Error> {
        let n = r.inspect_err(|_| self.failed = true)?;
        if n > 0 {
            self.last = now;
        }
        Ok(n)
    }
}

/// Reads from `offset` until `buf` is full: a short read before the end
/// the file announced is [`Error::Shrank`].
fn read_exact<S: FileStore>(
    store: &mut S,
    file: S::File,
    mut offset: u64,
    buf: &mut [u8],
) -> Result<(), Error> {
    let mut got = 0;
    while got < buf.len() {
        match store.read(file, offset, &mut buf[got..]) {
            Ok(0) => return Err(Error::Shrank),
            Ok(n) => {
                got += n;
                offset += n as u64;
            }
            Err(r) => return Err(Error::Store(r)),
        }
    }
    Ok(())
}

/// Writes text into a byte slice, keeping what fits.
struct Fit<'a> {
    buf: &'a mut [u8],
    len: usize,
    /// Something did not fit.
    cut: bool,
}

impl<'a> Fit<'a> {
    fn new(buf: &'a mut [u8]) -> Fit<'a> {
        Fit {
            buf,
            len: 0,
            cut: false,
        }
    }

    /// The length written, unless the text was cut while `MIN_OUTPUT`
    /// more would have held it (the driver then lends a larger buffer).
    fn done(self) -> Option<usize> {
        (!self.cut || self.buf.len() >= MIN_OUTPUT).then_some(self.len)
    }
}

impl fmt::Write for Fit<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            let mut b = [0u8; 4];
            let b = c.encode_utf8(&mut b).as_bytes();
            match self.buf.get_mut(self.len..self.len + b.len()) {
                Some(dst) => {
                    dst.copy_from_slice(b);
                    self.len += b.len();
                }
                None => {
                    self.cut = true;
                    break;
                }
            }
        }
        Ok(())
    }
}

/// What a driver can ask of every seed session (the host drives them
/// through this, whatever the dialect).
pub trait SeedSession<F: Copy> {
    /// Consumes one message (or the next piece of an upload) and reports
    /// it; nothing while a reply is written or an event awaits the driver.
    /// After an event, call it again even with no input left: the end of
    /// a seed 002 upload's last chunk needs no more bytes (and its client
    /// sends none until it is answered).
    fn handle_input<'a>(&mut self, now: u64, input: &'a [u8]) -> (usize, Option<Event<'a>>);
    /// Writes the next bytes of the reply into `buf`; 0 when there is
    /// nothing to send now (see [`SeedSession::poll_timeout`]).
    fn poll_output<S: FileStore<File = F>>(
        &mut self,
        now: u64,
        store: &mut S,
        buf: &mut [u8],
    ) -> Result<usize, Error>;
    /// True while a reply is being written (possibly paused until
    /// [`SeedSession::poll_timeout`]) or an event awaits the driver.
    fn is_replying(&self) -> bool;
    /// True when the driver should close the connection.
    fn wants_close(&self) -> bool;
    /// True between requests when the session holds nothing a new one
    /// would not: a driver may then drop it while the client is idle (an
    /// idle connection holds no session memory) and make a new one for the
    /// next bytes.
    fn is_resting(&self) -> bool;
    /// When [`SeedSession::handle_timeout`] is due: the idle limit, or the
    /// end of a pause between two seed 002 chunks.
    fn poll_timeout(&self) -> Option<u64>;
    /// The time is `now` (ends an idle session, a pause).
    fn handle_timeout(&mut self, now: u64);
    /// The client closed its side (after all its input was consumed).
    fn handle_eof(&mut self) -> Result<(), Error>;
    /// The server is stopping: the reply under way finishes, then the
    /// session closes (seed 004 says `error: server is shutting down`).
    fn handle_shutdown(&mut self);
}
