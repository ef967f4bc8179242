//! Seed 004's get as a session (the `files-ack` listener): `get NAME` →
//! the size as decimal text → the client's acknowledgement (any message)
//! → the raw bytes → the md5 as 32 hex digits. Where the seed server hangs
//! on a missing file, this answers `error: REASON`, which the seed client
//! shows when its `int()` fails. The md5 comes last, so a store may hash
//! the bytes as it reads them ([`FileStore::digest`] is asked at the end).

use core::fmt::Write as _;

use super::why::Why;
use super::{read_exact, Common, Fit, SeedSession, MAX_MESSAGE};
use crate::service::file::{name, seed004};
use crate::session::files::{Error, Event, FileMeta, FileStore};

/// The reply being written, or the acknowledgement awaited.
#[derive(Debug, Clone, Copy)]
enum Reply<F> {
    None,
    /// A command arrived; the store is asked at the first output.
    Start,
    /// `error: REASON` (then the next command, or the end at a shutdown).
    Refuse {
        op: &'static str,
        why: Why,
    },
    Size {
        file: F,
        meta: FileMeta,
    },
    /// Waiting for the client's acknowledgement.
    Ack {
        file: F,
        meta: FileMeta,
    },
    Body {
        file: F,
        meta: FileMeta,
        pos: u64,
    },
    Digest {
        file: F,
        meta: FileMeta,
    },
}

/// One client's session with a seed 004 (`files-ack`) server.
///
/// ```
/// use wirekit_core::session::files::seed::{Seed004Server, SeedSession};
/// use wirekit_core::session::files::{Entry, FileMeta, FileStore, Refusal};
/// use wirekit_core::wire::Digest;
///
/// struct One(&'static [u8]);
/// impl FileStore for One {
///     type File = ();
///     fn open(&mut self, name: &str) -> Result<((), FileMeta), Refusal> {
///         let md5 = Digest::of(self.0);
///         match name {
///             "a.txt" => Ok(((), FileMeta { size: self.0.len() as u64, mtime: 0, md5 })),
///             _ => Err(Refusal("no such file")),
///         }
///     }
///     fn read(&mut self, _: (), offset: u64, buf: &mut [u8]) -> Result<usize, Refusal> {
///         let rest = &self.0[offset as usize..];
///         let n = rest.len().min(buf.len());
///         buf[..n].copy_from_slice(&rest[..n]);
///         Ok(n)
///     }
///     fn meta(&mut self, _: ()) -> Result<FileMeta, Refusal> {
///         self.open("a.txt").map(|(_, m)| m)
///     }
///     fn entry(&mut self, _: &str, _: usize) -> Result<Option<Entry<'_>>, Refusal> {
///         Ok(None)
///     }
/// }
///
/// let (mut store, mut out) = (One(b"hi\n"), [0u8; 256]);
/// let mut s = Seed004Server::new(0, 60_000);
/// s.handle_input(0, b"get a.txt");
/// let n = s.poll_output(0, &mut store, &mut out).unwrap();
/// assert_eq!(&out[..n], b"3");
/// // Nothing more until the client acknowledges.
/// assert_eq!(s.poll_output(0, &mut store, &mut out).unwrap(), 0);
/// s.handle_input(0, b"ready to recv file");
/// let n = s.poll_output(0, &mut store, &mut out).unwrap();
/// assert_eq!(&out[..n], b"hi\n");
/// let n = s.poll_output(0, &mut store, &mut out).unwrap();
/// assert_eq!(&out[..n], &Digest::of(b"hi\n").to_hex());
/// // A missing file is said so.
/// s.handle_input(0, b"get b.txt");
/// let n = s.poll_output(0, &mut store, &mut out).unwrap();
/// assert_eq!(&out[..n], b"error: b.txt: no such file");
/// ```
pub struct Seed004Server<F: Copy> {
    c: Common,
    reply: Reply<F>,
}

impl<F: Copy> Seed004Server<F> {
    /// A session that started at `now` and closes after `idle_ms` without
    /// a byte moving either way.
    pub fn new(now: u64, idle_ms: u64) -> Self {
        Seed004Server {
            c: Common::new(now, idle_ms),
            reply: Reply::None,
        }
    }

    fn idle(&self) -> bool {
        matches!(self.reply, Reply::None)
    }

    /// The command's name (empty if the command is malformed).
    fn name(&self) -> &str {
        seed004::parse_command(&self.c.msg).unwrap_or("")
    }

    /// Reads the command just taken: the reply it gets.
    fn command(&self) -> Reply<F> {
        let why = match seed004::parse_command(&self.c.msg) {
            Err(e) => Why::Command004(e),
            Ok(n) => match name::check(n, false) {
                Err(e) => Why::Name(e),
                Ok(()) => return Reply::Start,
            },
        };
        Reply::Refuse { op: "get", why }
    }

    /// Asks the store about the requested file.
    fn start<S: FileStore<File = F>>(&mut self, store: &mut S) -> Reply<F> {
        let why = match store.open(self.name()) {
            Err(r) => Why::Store(r),
            Ok((file, meta)) => match store.start_get(file) {
                Err(r) => Why::Store(r),
                Ok(()) => return Reply::Size { file, meta },
            },
        };
        Reply::Refuse { op: "get", why }
    }

    fn output<S: FileStore<File = F>>(
        &mut self,
        store: &mut S,
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        let (n, next) = match self.reply {
            Reply::None | Reply::Ack { .. } => return Ok(0),
            Reply::Start => {
                self.reply = self.start(store);
                return self.output(store, buf);
            }
            Reply::Refuse { op, why } => {
                let mut w = Fit::new(buf);
                let _ = w.write_str("error: ");
                let _ = why.write(self.name(), store, "", &mut w);
                let Some(n) = w.done() else {
                    return Ok(0);
                };
                let text = why.log_text(self.name(), store, "");
                store.refused(op, &text);
                (n, Reply::None)
            }
            Reply::Size { file, meta } => {
                let mut w = Fit::new(buf);
                let _ = write!(w, "{}", meta.size);
                match w.done() {
                    Some(n) if n > 0 => (n, Reply::Ack { file, meta }),
                    _ => return Ok(0),
                }
            }
            Reply::Body { file, meta, pos } => {
                let want = usize::try_from(meta.size - pos).map_or(buf.len(), |l| l.min(buf.len()));
                read_exact(store, file, pos, &mut buf[..want])?;
                let pos = pos + want as u64;
                (want, body(file, meta, pos))
            }
            Reply::Digest { file, meta } => {
                let Some(out) = buf.get_mut(..32) else {
                    return Ok(0);
                };
                let md5 = store.digest(file, &meta).map_err(Error::Store)?;
                out.copy_from_slice(&md5.to_hex());
                store.get_done(file, meta.size);
                (32, Reply::None)
            }
        };
        self.reply = next;
        Ok(n)
    }
}

/// The body from `pos`, or the md5 once it is all sent.
fn body<F>(file: F, meta: FileMeta, pos: u64) -> Reply<F> {
    match pos < meta.size {
        true => Reply::Body { file, meta, pos },
        false => Reply::Digest { file, meta },
    }
}

impl<F: Copy> SeedSession<F> for Seed004Server<F> {
    fn handle_input<'a>(&mut self, now: u64, input: &'a [u8]) -> (usize, Option<Event<'a>>) {
        if input.is_empty() || self.c.failed || self.c.closing {
            return (0, None);
        }
        if let Reply::Ack { file, meta } = self.reply {
            // Any message acknowledges the size (the seed sends `ready to
            // recv file`), even while the server stops: the get finishes.
            let n = self.c.take(now, input, MAX_MESSAGE);
            self.c.msg.clear();
            self.reply = body(file, meta, 0);
            return (n, None);
        }
        if !self.c.takes_input(!self.idle()) {
            return (0, None);
        }
        self.c
            .take(now, input, MAX_MESSAGE.min(seed004::MAX_MESSAGE));
        self.reply = self.command();
        let ev = match self.reply {
            Reply::Start => Event::Get,
            _ => Event::Refused,
        };
        (self.c.msg.len(), Some(ev))
    }

    fn poll_output<S: FileStore<File = F>>(
        &mut self,
        now: u64,
        store: &mut S,
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        if self.c.failed {
            return Ok(0);
        }
        let r = self.output(store, buf);
        let n = self.c.output(now, r)?;
        self.stop_if_idle();
        Ok(n)
    }

    fn is_replying(&self) -> bool {
        !matches!(self.reply, Reply::None | Reply::Ack { .. })
    }

    fn wants_close(&self) -> bool {
        self.c.wants_close(self.idle())
    }

    fn is_resting(&self) -> bool {
        self.c.resting(self.idle())
    }

    fn poll_timeout(&self) -> Option<u64> {
        self.c.poll_timeout(self.idle())
    }

    fn handle_timeout(&mut self, now: u64) {
        self.c.handle_timeout(now);
    }

    fn handle_eof(&mut self) -> Result<(), Error> {
        self.c.closing = true;
        if let Reply::Ack { .. } = self.reply {
            // The client left before acknowledging: nothing more to send.
            self.reply = Reply::None;
        }
        Ok(())
    }

    fn handle_shutdown(&mut self) {
        self.c.stopping = true;
        self.stop_if_idle();
    }
}

impl<F: Copy> Seed004Server<F> {
    /// After a shutdown: the goodbye once no get is under way.
    fn stop_if_idle(&mut self) {
        if self.c.stopping && self.idle() && !self.c.closing && !self.c.failed {
            self.reply = Reply::Refuse {
                op: "error",
                why: Why::ShuttingDown,
            };
            self.c.closing = true;
        }
    }
}
