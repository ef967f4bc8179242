//! The session's output side: replies written into the driver's buffer,
//! the store asked for files, listings and md5s only here.

use super::list;
use super::refusal::Why;
use super::{
    refuse, Error, Extension, FileMeta, FileStore, FilesServer, Reply, MAX_LIST, MIN_OUTPUT,
};
use crate::service::file::access::{auth_ok, challenge_reply};
use crate::service::file::native::{
    end_header, error_reply, file_reply, get_reply, list_reply, parse_request, ready_reply,
    segments, Request,
};
use crate::wire::{emit_frame_header, Fields};

impl<F: Copy, const H: usize, X: Extension> FilesServer<F, H, X> {
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
        if matches!(self.reply, Reply::None) {
            self.stop_if_idle();
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
            Reply::Start => {
                self.reply = self.start(store);
                return self.output(store, buf);
            }
            Reply::Refuse { op, why } => (self.refusal(store, op, why, buf)?, Reply::None),
            Reply::RefuseAs { why } => {
                let op = self.dec.header().op.as_deref().unwrap_or("?");
                (self.refusal(store, op, why, buf)?, Reply::None)
            }
            Reply::GetHeader { .. } | Reply::GetBody { .. } | Reply::GetEnd { .. } => {
                match self.get_step(store, buf)? {
                    Some(step) => step,
                    // A refusal goes out instead (changed, stopping).
                    None => return self.output(store, buf),
                }
            }
            Reply::Stat(file, m) => match store.digest(file, &m) {
                Ok(md5) => {
                    let h = file_reply("stat", m.size, md5, Some(m.mtime));
                    (emit(h, buf)?, Reply::None)
                }
                Err(r) => {
                    self.reply = refuse("stat", Why::Store(r));
                    return self.output(store, buf);
                }
            },
            Reply::ListHeader {
                len,
                count,
                truncated,
            } => {
                let n = emit(list_reply(len, truncated), buf)?;
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
            Reply::Challenge | Reply::AuthOk | Reply::Ready { .. } | Reply::PutOk { .. } => {
                (self.host_reply(buf)?, Reply::None)
            }
        };
        // Nothing written: the header waits for a larger buffer.
        if n > 0 {
            self.reply = next;
        }
        Ok(n)
    }

    /// The host extension's replies; none in a read-only session (so its
    /// image holds none of this code).
    fn host_reply(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let Some(x) = self.ext.full_ref() else {
            return Ok(0);
        };
        let h = match self.reply {
            Reply::Challenge => challenge_reply(x.nonce()),
            Reply::AuthOk => auth_ok(),
            Reply::Ready { kept, prefix } => ready_reply(kept, prefix),
            Reply::PutOk { size, md5 } => file_reply("put", size, md5, None),
            _ => return Ok(0),
        };
        emit(h, buf)
    }

    /// Asks the store about the request just parsed: the reply to write.
    fn start<S: FileStore<File = F>>(&mut self, store: &mut S) -> Reply<F> {
        let Ok(req) = parse_request(self.dec.header()) else {
            return Reply::None;
        };
        match req {
            Request::Get {
                name,
                offset,
                segmented,
            } => match store.open(name) {
                Err(r) => refuse("get", Why::Store(r)),
                Ok((_, meta)) if offset > meta.size => {
                    let why = Why::PastEnd {
                        offset,
                        size: meta.size,
                    };
                    refuse("get", why)
                }
                Ok((file, meta)) => match store.start_get(file) {
                    Err(r) => refuse("get", Why::Store(r)),
                    Ok(()) => Reply::GetHeader {
                        file,
                        meta,
                        offset,
                        // Known false read-only: the segment code goes.
                        segmented: segmented && self.ext.full_ref().is_some(),
                    },
                },
            },
            Request::Stat { name } => match store.open(name) {
                Err(r) => refuse("stat", Why::Store(r)),
                Ok((file, meta)) => Reply::Stat(file, meta),
            },
            Request::List { dir } => match listing_size(store, dir) {
                Err(r) => refuse("list", Why::Store(r)),
                Ok((len, count, truncated)) => Reply::ListHeader {
                    len,
                    count,
                    truncated,
                },
            },
            _ => Reply::None,
        }
    }

    /// The next piece of a `get`: header, bytes (in `data` segments for a
    /// segmented one), then the md5 trailer (`None`: a refusal replaces
    /// the rest; the file changed, or the server stops between segments).
    fn get_step<S: FileStore<File = F>>(
        &mut self,
        store: &mut S,
        buf: &mut [u8],
    ) -> Result<Option<(usize, Reply<F>)>, Error> {
        let (file, meta, offset, pos, seg) = match self.reply {
            Reply::GetHeader {
                file,
                meta,
                offset,
                segmented,
            } => {
                let h = match segmented {
                    true => segments::reply(meta.size, offset, meta.mtime),
                    false => get_reply(meta.size, offset, meta.mtime),
                };
                let seg = segmented.then_some(0);
                let next = after_body(file, meta, offset, offset, seg);
                return Ok(Some((emit(h, buf)?, next)));
            }
            Reply::GetBody {
                file,
                meta,
                offset,
                pos,
                seg,
            } => (file, meta, offset, pos, seg),
            Reply::GetEnd { file, meta, offset } => {
                return self.get_end(store, buf, (file, meta, offset))
            }
            _ => return Ok(Some((0, Reply::None))),
        };
        let left = meta.size - pos;
        if seg == Some(0) && self.ext.full_ref().is_some() {
            if self.stopping {
                // Between two segments: the client keeps what it has.
                self.reply = refuse("end", Why::ShuttingDown);
                return Ok(None);
            }
            let len = left.min(segments::SEGMENT_MAX);
            let n = emit(segments::segment_header(len), buf)?;
            return Ok(Some((n, after_body(file, meta, offset, pos, Some(len)))));
        }
        let want = left.min(seg.unwrap_or(u64::MAX));
        let want = usize::try_from(want).map_or(buf.len(), |r| r.min(buf.len()));
        let n = store
            .read(file, pos, &mut buf[..want])
            .map_err(Error::Store)?;
        if n == 0 && want > 0 {
            return Err(Error::Shrank);
        }
        let seg = seg.map(|s| s - n as u64);
        Ok(Some((
            n,
            after_body(file, meta, offset, pos + n as u64, seg),
        )))
    }

    /// A `get`'s trailer, unless the file changed while it was sent.
    fn get_end<S: FileStore<File = F>>(
        &mut self,
        store: &mut S,
        buf: &mut [u8],
        (file, meta, offset): (F, FileMeta, u64),
    ) -> Result<Option<(usize, Reply<F>)>, Error> {
        if store.meta(file).ok() != Some(meta) {
            self.reply = refuse("end", Why::Changed);
            return Ok(None);
        }
        let md5 = match store.digest(file, &meta) {
            Ok(d) => d,
            Err(r) => {
                self.reply = refuse("end", Why::Store(r));
                return Ok(None);
            }
        };
        let n = emit(end_header(md5), buf)?;
        if n > 0 {
            store.get_done(file, meta.size - offset);
        }
        Ok(Some((n, Reply::None)))
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
    fn refusal<S: FileStore<File = F>>(
        &self,
        store: &mut S,
        op: &str,
        why: Why,
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        let name = self.dec.header().filename.as_deref().unwrap_or("");
        let host = |w: &mut dyn core::fmt::Write| match self.ext.full_ref() {
            Some(x) => x.why().write(name, x.text(), w),
            None => Ok(()),
        };
        let text = why.text(name, store, host);
        let n = emit(error_reply(op, &text), buf)?;
        if n > 0 {
            store.refused(op, &text);
        }
        Ok(n)
    }
}

/// A `get` at `pos`: more bytes, or the trailer.
fn after_body<F>(file: F, meta: FileMeta, offset: u64, pos: u64, seg: Option<u64>) -> Reply<F> {
    match pos == meta.size {
        true => Reply::GetEnd { file, meta, offset },
        false => Reply::GetBody {
            file,
            meta,
            offset,
            pos,
            seg,
        },
    }
}

/// The listing's length in bytes, its entry count and whether it was cut
/// at [`MAX_LIST`].
fn listing_size<S: FileStore>(
    store: &mut S,
    dir: &str,
) -> Result<(u64, usize, bool), super::Refusal> {
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

/// Writes the reply `h` as a frame if it fits: `Ok(0)` asks for a larger
/// buffer, unless the buffer was [`MIN_OUTPUT`] already.
///
/// Replies are [`Fields`], which borrow their strings: no reply builds a
/// [`crate::wire::Header`] (over 1 KiB of bounded strings) on the stack.
#[inline(never)]
fn emit(h: Fields<'_>, buf: &mut [u8]) -> Result<usize, Error> {
    match emit_frame_header(h, buf) {
        Ok(n) => Ok(n),
        Err(_) if buf.len() < MIN_OUTPUT => Ok(0),
        Err(_) => Err(Error::Encode),
    }
}
