//! Seed 000's download as a session: each message is a file name; the
//! answer is `pack('i', len(json))` + `{"lenth": N, "md5": …, "size(MB)":
//! …}` + the N bytes, or `{}` for a name that cannot be served (the seed
//! client prints 文件不存在). The md5 comes first, so the store is asked
//! for the whole file's digest ([`FileStore::digest`]) before a byte is
//! sent.

use super::why::Why;
use super::{read_exact, Common, SeedSession, MAX_MESSAGE};
use crate::service::file::{name, seed000};
use crate::session::files::{Error, Event, FileMeta, FileStore};

/// The reply being written.
#[derive(Debug, Clone, Copy)]
enum Reply<F> {
    None,
    /// A name arrived; the store is asked at the first output.
    Start,
    /// `{}`, and why (for the store's log).
    Missing(Why),
    Header {
        file: F,
        meta: FileMeta,
    },
    Body {
        file: F,
        meta: FileMeta,
        pos: u64,
    },
}

/// One client's session with a seed 000 download server.
///
/// ```
/// use wirekit_core::session::files::seed::{Seed000Server, SeedSession};
/// use wirekit_core::session::files::{Entry, FileMeta, FileStore, Refusal};
/// use wirekit_core::wire::Digest;
///
/// /// One file in memory.
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
/// let mut store = One(b"hi\n");
/// let mut s = Seed000Server::new(0, 60_000);
/// let mut out = [0u8; 256];
/// // The client sends a name, then waits.
/// assert_eq!(s.handle_input(0, b"a.txt").0, 5);
/// let n = s.poll_output(0, &mut store, &mut out).unwrap();
/// let json = &out[4..n];
/// assert!(json.starts_with(br#"{"lenth": 3, "md5": "#));
/// assert_eq!(s.poll_output(0, &mut store, &mut out).unwrap(), 3);
/// assert_eq!(&out[..3], b"hi\n");
/// // A missing file is `{}`.
/// s.handle_input(0, b"nope.txt");
/// let n = s.poll_output(0, &mut store, &mut out).unwrap();
/// assert_eq!(&out[..n], b"\x02\x00\x00\x00{}");
/// ```
pub struct Seed000Server<F: Copy> {
    c: Common,
    reply: Reply<F>,
}

impl<F: Copy> Seed000Server<F> {
    /// A session that started at `now` and closes after `idle_ms` without
    /// a byte moving either way.
    pub fn new(now: u64, idle_ms: u64) -> Self {
        Seed000Server {
            c: Common::new(now, idle_ms),
            reply: Reply::None,
        }
    }

    fn idle(&self) -> bool {
        matches!(self.reply, Reply::None)
    }

    /// The name in the message (empty if it is not UTF-8).
    fn name(&self) -> &str {
        seed000::request_name(&self.c.msg).unwrap_or("")
    }

    /// Asks the store about the name just received.
    fn start<S: FileStore<File = F>>(&mut self, store: &mut S) -> Result<Reply<F>, Error> {
        let Some(n) = seed000::request_name(&self.c.msg) else {
            return Ok(Reply::Missing(Why::NotUtf8));
        };
        if let Err(e) = name::check(n, false) {
            return Ok(Reply::Missing(Why::Name(e)));
        }
        let (file, meta) = match store.open(n) {
            Ok(f) => f,
            Err(r) => return Ok(Reply::Missing(Why::Store(r))),
        };
        if let Err(r) = store.start_get(file) {
            return Ok(Reply::Missing(Why::Store(r)));
        }
        // Hashing a file the store could open but not read ends the
        // connection, as a read error in its body would.
        let md5 = store.digest(file, &meta).map_err(Error::Store)?;
        Ok(Reply::Header {
            file,
            meta: FileMeta { md5, ..meta },
        })
    }

    fn output<S: FileStore<File = F>>(
        &mut self,
        store: &mut S,
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        let (n, next) = match self.reply {
            Reply::None => return Ok(0),
            Reply::Start => {
                self.reply = self.start(store)?;
                return self.output(store, buf);
            }
            Reply::Missing(why) => {
                let Some(n) = seed000::header(None, buf) else {
                    return Ok(0);
                };
                let text = why.log_text(self.name(), store, "");
                store.refused("get", &text);
                (n, Reply::None)
            }
            Reply::Header { file, meta } => {
                let Some(n) = seed000::header(Some((meta.size, meta.md5)), buf) else {
                    return match buf.len() < seed000::HEADER_CAP {
                        true => Ok(0),
                        false => Err(Error::Encode),
                    };
                };
                (n, self.after(store, file, meta, 0))
            }
            Reply::Body { file, meta, pos } => {
                let want = usize::try_from(meta.size - pos).map_or(buf.len(), |l| l.min(buf.len()));
                read_exact(store, file, pos, &mut buf[..want])?;
                let pos = pos + want as u64;
                (want, self.after(store, file, meta, pos))
            }
        };
        self.reply = next;
        Ok(n)
    }

    /// The body from `pos` on, or done (the store is told).
    fn after<S: FileStore<File = F>>(
        &self,
        store: &mut S,
        file: F,
        meta: FileMeta,
        pos: u64,
    ) -> Reply<F> {
        if pos < meta.size {
            return Reply::Body { file, meta, pos };
        }
        store.get_done(file, meta.size);
        Reply::None
    }
}

impl<F: Copy> SeedSession<F> for Seed000Server<F> {
    fn handle_input<'a>(&mut self, now: u64, input: &'a [u8]) -> (usize, Option<Event<'a>>) {
        if input.is_empty() || !self.c.takes_input(!self.idle()) {
            return (0, None);
        }
        let n = self
            .c
            .take(now, input, MAX_MESSAGE.min(seed000::MAX_REQUEST));
        self.reply = Reply::Start;
        (n, Some(Event::Get))
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
        if self.idle() && self.c.stopping {
            // Seed 000's only error form means "no such file": at a
            // shutdown the connection just closes.
            self.c.closing = true;
        }
        Ok(n)
    }

    fn is_replying(&self) -> bool {
        !self.idle()
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
        Ok(())
    }

    fn handle_shutdown(&mut self) {
        self.c.stopping = true;
        if self.idle() {
            self.c.closing = true;
        }
    }
}
