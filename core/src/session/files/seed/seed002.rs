//! Seed 002's FTP as a session: `get NAME` → `pack('i', size)` then one
//! frame per 64 KiB chunk (`pack('i', len(json))` + `{"file_name",
//! "file_size", "md5"}` + the chunk, the md5 being the chunk's), with a
//! pause after each chunk but the last: the seed client reads a chunk with
//! `recv(1024)` and would swallow the next frame's header if it arrived
//! early. The pause is a timeout ([`SeedSession::poll_timeout`]); it runs
//! from the `now` of the output call that wrote the chunk.
//!
//! A missing file, or one its `i` cannot announce (2 GiB and more), closes
//! the connection: the seed client's only way to tell. `put NAME` is the
//! upload half ([`Seed002Server::put_ready`] and the methods beside it).

use md5::{Digest as _, Md5};

use super::put002::Put;
use super::why::Why;
use super::{read_exact, Common, SeedSession, MIN_OUTPUT};
use crate::service::file::name;
use crate::service::file::seed002::{self, Verb, CHUNK};
use crate::session::files::{Error, Event, FileMeta, FileStore, Uploads};
use crate::wire::Digest;

/// The reply being written.
#[derive(Debug, Clone, Copy)]
pub(super) enum Reply<F> {
    None,
    /// A `get` arrived; the store is asked at the first output.
    Start,
    /// Nothing is sent (seed 002 has no error form for it); the store is
    /// told why, and with `close` the connection ends.
    Silent {
        op: &'static str,
        why: Why,
        close: bool,
    },
    Size {
        file: F,
        meta: FileMeta,
    },
    /// The next chunk from `pos`, not before `due`.
    Chunk {
        file: F,
        meta: FileMeta,
        pos: u64,
        due: u64,
    },
    /// A chunk's bytes after its header, up to `end` (an output buffer
    /// too small for header and chunk at once).
    Body {
        file: F,
        meta: FileMeta,
        pos: u64,
        end: u64,
    },
    /// A `put`'s answer: `NAME 上传成功`, or `NAME 上传失败: why`.
    Answer {
        why: Option<Why>,
    },
}

/// One client's session with a seed 002 server.
///
/// ```
/// use wirekit_core::service::file::access::Policy;
/// use wirekit_core::session::files::seed::{Seed002Server, SeedSession};
/// use wirekit_core::session::files::{Entry, Event, FileMeta, FileStore, Refusal, Uploads};
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
/// let (mut store, mut out) = (One(b"hi\n"), [0u8; 4096]);
/// let uploads = Uploads {
///     policy: Policy { token: false, writable: false, loopback: true },
///     max_size: 1 << 20,
/// };
/// // 50 ms between chunks, uploads as on a loopback listener.
/// let mut s = Seed002Server::new(0, 60_000, 50).with_uploads(uploads);
/// s.handle_input(0, b"get a.txt");
/// let mut sent = Vec::new();
/// while let n @ 1.. = s.poll_output(0, &mut store, &mut out).unwrap() {
///     sent.extend_from_slice(&out[..n]);
/// }
/// assert_eq!(&sent[..4], &3i32.to_le_bytes());
/// assert!(sent.ends_with(b"hi\n"), "size, then the one chunk's frame");
///
/// // An upload: the command, the size, one chunk.
/// let mut put = b"put b.txt".to_vec();
/// put.extend_from_slice(&2i32.to_le_bytes());
/// let (used, _) = s.handle_input(0, &put);
/// let (_, ev) = s.handle_input(0, &put[used..]);
/// assert_eq!(ev, Some(Event::Put), "the driver opens the partial");
/// assert_eq!(s.put_request(), Some(("b.txt", 2)));
/// s.put_ready();
/// # let mut frame = [0u8; 128];
/// # let k = wirekit_core::service::file::seed002::chunk_header("b.txt", b"ok", &mut frame).unwrap();
/// # let mut rest = frame[..k].to_vec();
/// # rest.extend_from_slice(b"ok");
/// # let mut rest = &rest[..];
/// # let mut written = Vec::new();
/// # loop {
/// #     let (n, ev) = s.handle_input(0, rest);
/// #     rest = &rest[n..];
/// #     match ev {
/// #         Some(Event::Data(b)) => written.extend_from_slice(b),
/// #         Some(Event::PutEnd) => break,
/// #         _ => {}
/// #     }
/// # }
/// // ... Event::Data for each piece, then Event::PutEnd: commit, and
/// s.put_stored();
/// let n = s.poll_output(0, &mut store, &mut out).unwrap();
/// assert_eq!(&out[..n], "b.txt 上传成功".as_bytes());
/// ```
pub struct Seed002Server<F: Copy> {
    pub(super) c: Common,
    pub(super) reply: Reply<F>,
    pause_ms: u64,
    pub(super) uploads: Option<Uploads>,
    pub(super) put: Put,
}

impl<F: Copy> Seed002Server<F> {
    /// A read-only session (every `put` is refused) that started at `now`,
    /// closes after `idle_ms` without a byte moving either way and pauses
    /// `pause_ms` after each chunk of a get but the last.
    pub fn new(now: u64, idle_ms: u64, pause_ms: u64) -> Self {
        Seed002Server {
            c: Common::new(now, idle_ms),
            reply: Reply::None,
            pause_ms,
            uploads: None,
            put: Put::new(),
        }
    }

    /// Takes uploads under `uploads` (as [`super::super::Full`] does for
    /// the native dialect; a seed client counts as unauthenticated).
    pub fn with_uploads(mut self, uploads: Uploads) -> Self {
        self.uploads = Some(uploads);
        self
    }

    pub(super) fn idle(&self) -> bool {
        matches!(self.reply, Reply::None)
    }

    /// The name in the last command (empty if it was malformed).
    pub(super) fn name(&self) -> &str {
        seed002::parse_command(&self.c.msg).map_or("", |(_, n)| n)
    }

    /// Reads the command just taken.
    fn command(&mut self) -> Option<Event<'static>> {
        let silent = |why| Reply::Silent {
            op: "command",
            why,
            close: false,
        };
        match seed002::parse_command(&self.c.msg) {
            Err(e) => self.reply = silent(Why::Command002(e)),
            Ok((Verb::Get, n)) => match name::check(n, false) {
                Ok(()) => self.reply = Reply::Start,
                Err(e) => self.reply = close("get", Why::Name(e)),
            },
            Ok((Verb::Put, _)) => {
                self.start_put();
                return None;
            }
        }
        Some(match self.reply {
            Reply::Start => Event::Get,
            _ => Event::Refused,
        })
    }

    /// Asks the store about the file to send.
    fn start<S: FileStore<File = F>>(&self, store: &mut S) -> Reply<F> {
        let (file, meta) = match store.open(self.name()) {
            Ok(f) => f,
            Err(r) => return close("get", Why::Store(r)),
        };
        if seed002::size_prefix(meta.size).is_none() {
            return close("get", Why::TooBig { size: meta.size });
        }
        match store.start_get(file) {
            Ok(()) => Reply::Size { file, meta },
            Err(r) => close("get", Why::Store(r)),
        }
    }

    fn output<S: FileStore<File = F>>(
        &mut self,
        now: u64,
        store: &mut S,
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        let (n, next) = match self.reply {
            Reply::None => return Ok(0),
            Reply::Start => {
                self.reply = self.start(store);
                return self.output(now, store, buf);
            }
            Reply::Silent { op, why, close } => {
                let text = why.log_text(self.name(), store, "");
                store.refused(op, &text);
                self.c.closing |= close;
                (0, Reply::None)
            }
            Reply::Size { file, meta } => match (buf.get_mut(..4), seed002::size_prefix(meta.size))
            {
                (Some(out), Some(size)) => {
                    out.copy_from_slice(&size);
                    (4, self.after_chunk(store, now, file, meta, 0))
                }
                _ => return Ok(0),
            },
            Reply::Chunk { due, .. } if now < due => return Ok(0),
            Reply::Chunk {
                file, meta, pos, ..
            } => self.chunk(now, store, buf, (file, meta, pos))?,
            Reply::Body {
                file,
                meta,
                pos,
                end,
            } => {
                let want = usize::try_from(end - pos).map_or(buf.len(), |l| l.min(buf.len()));
                read_exact(store, file, pos, &mut buf[..want])?;
                let pos = pos + want as u64;
                let next = match pos < end {
                    true => Reply::Body {
                        file,
                        meta,
                        pos,
                        end,
                    },
                    false => self.after_chunk(store, now, file, meta, pos),
                };
                (want, next)
            }
            Reply::Answer { why } => match self.answer(store, why, buf) {
                Some(n) => (n, Reply::None),
                None => return Ok(0),
            },
        };
        self.reply = next;
        Ok(n)
    }

    /// The chunk at `pos`: its header and bytes in one go when `buf` holds
    /// both (the header's length does not depend on the md5, so the bytes
    /// are read behind it first); otherwise the chunk is read twice, once
    /// for its md5 and once to send it.
    fn chunk<S: FileStore<File = F>>(
        &self,
        now: u64,
        store: &mut S,
        buf: &mut [u8],
        (file, meta, pos): (F, FileMeta, u64),
    ) -> Result<(usize, Reply<F>), Error> {
        let len = (meta.size - pos).min(CHUNK as u64);
        let name = self.name();
        let Some(head) = seed002::chunk_header_md5(name, len, Digest([0; 16]), buf) else {
            return match buf.len() < MIN_OUTPUT {
                true => Ok((0, self.reply)),
                false => Err(Error::Encode),
            };
        };
        let end = pos + len;
        // len <= CHUNK fits a usize.
        let total = head + len as usize;
        if let Some(room) = buf.get_mut(head..total) {
            read_exact(store, file, pos, room)?;
            let md5 = Digest::of(room);
            seed002::chunk_header_md5(name, len, md5, &mut buf[..head]).ok_or(Error::Encode)?;
            return Ok((total, self.after_chunk(store, now, file, meta, end)));
        }
        let mut md5 = Md5::new();
        let mut at = pos;
        while at < end {
            let k = usize::try_from(end - at).map_or(buf.len(), |l| l.min(buf.len()));
            read_exact(store, file, at, &mut buf[..k])?;
            md5.update(&buf[..k]);
            at += k as u64;
        }
        let md5 = Digest(md5.finalize().into());
        let n = seed002::chunk_header_md5(name, len, md5, buf).ok_or(Error::Encode)?;
        Ok((
            n,
            Reply::Body {
                file,
                meta,
                pos,
                end,
            },
        ))
    }

    /// After the chunk ending at `pos`: the next one once the pause is
    /// over, or the end of the get.
    fn after_chunk<S: FileStore<File = F>>(
        &self,
        store: &mut S,
        now: u64,
        file: F,
        meta: FileMeta,
        pos: u64,
    ) -> Reply<F> {
        if pos < meta.size {
            // No pause before the first chunk: only the size precedes it.
            let due = match pos {
                0 => now,
                _ => now.saturating_add(self.pause_ms),
            };
            return Reply::Chunk {
                file,
                meta,
                pos,
                due,
            };
        }
        store.get_done(file, meta.size);
        Reply::None
    }

    /// After a shutdown, close once nothing is under way.
    fn stop_if_idle(&mut self) {
        if self.c.stopping && self.idle() && self.put.idle() {
            self.c.closing = true;
        }
    }
}

/// A refusal that closes the connection.
fn close<F>(op: &'static str, why: Why) -> Reply<F> {
    Reply::Silent {
        op,
        why,
        close: true,
    }
}

impl<F: Copy> SeedSession<F> for Seed002Server<F> {
    fn handle_input<'a>(&mut self, now: u64, input: &'a [u8]) -> (usize, Option<Event<'a>>) {
        if self.c.failed || self.c.closing || !self.idle() {
            return (0, None);
        }
        if !self.put.idle() {
            // The end of the last chunk needs no input: call again after
            // an event even when nothing more is buffered.
            return self.receive(now, input);
        }
        if input.is_empty() || self.c.stopping {
            return (0, None);
        }
        // The command only: a put's size may follow in the same read.
        let len = seed002::command_len(input).max(1);
        let n = self.c.take(now, input, len);
        (n, self.command())
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
        let r = self.output(now, store, buf);
        let n = self.c.output(now, r)?;
        self.stop_if_idle();
        Ok(n)
    }

    fn is_replying(&self) -> bool {
        !self.idle() || self.put.waiting()
    }

    fn wants_close(&self) -> bool {
        self.c.wants_close(self.idle())
    }

    fn is_resting(&self) -> bool {
        self.c.resting(self.idle() && self.put.idle())
    }

    fn poll_timeout(&self) -> Option<u64> {
        let idle = self.c.poll_timeout(self.idle())?;
        Some(match self.reply {
            Reply::Chunk { due, .. } => due.min(idle),
            _ => idle,
        })
    }

    fn handle_timeout(&mut self, now: u64) {
        self.c.handle_timeout(now);
    }

    fn handle_eof(&mut self) -> Result<(), Error> {
        self.c.closing = true;
        if !self.put.idle() {
            // Seed 002 cannot resume: the driver discards the partial.
            self.put.cut();
            self.c.failed = true;
            return Err(Error::UploadCut);
        }
        Ok(())
    }

    fn handle_shutdown(&mut self) {
        self.c.stopping = true;
        self.stop_if_idle();
    }
}
