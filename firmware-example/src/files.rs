//! The `files` service on the board: a few files compiled into flash,
//! served read-only in wirekit's native protocol by the core's session
//! ([`wirekit_core::session::files`]), the same exchanges `wirekit serve
//! --listen files=…` has; this module only moves bytes between one smoltcp
//! socket and the session.

use smoltcp::socket::tcp;
use wirekit_core::session::files::{Entry, FileMeta, FileStore, FilesServer, Refusal, MIN_OUTPUT};
use wirekit_core::wire::Digest;

use crate::half_open::relisten;

/// The native files port (the host's default `files` port).
pub const FILES_PORT: u16 = 8484;

/// Request header capacity: names here are short, so a quarter of the
/// host's 2 KiB; a longer request is answered as a bad request.
pub const FILES_HEADER_CAP: usize = 512;

/// A client that moves no byte for this long is dropped, so one idle peer
/// cannot hold the slot.
const FILES_IDLE_MS: u64 = 60_000;

/// One client's session (a file is an index into [`FLASH_FILES`]).
pub type Session = FilesServer<u8, FILES_HEADER_CAP>;

/// A file compiled into the image.
pub struct FlashFile {
    /// The name clients ask for.
    pub name: &'static str,
    /// Its bytes.
    pub data: &'static [u8],
    /// Its md5, computed by build.rs.
    pub md5: [u8; 16],
    /// Its modification time (the build's `SOURCE_DATE_EPOCH`, else 0).
    pub mtime: u64,
}

include!(concat!(env!("OUT_DIR"), "/flash_files.rs"));

/// The flash files as a [`FileStore`]: one flat directory, never changing.
pub struct FlashStore;

impl FlashStore {
    fn file(i: u8) -> Result<&'static FlashFile, Refusal> {
        FLASH_FILES
            .get(usize::from(i))
            .ok_or(Refusal("no such file"))
    }
}

impl FileStore for FlashStore {
    type File = u8;

    fn open(&mut self, name: &str) -> Result<(u8, FileMeta), Refusal> {
        // The session checked the name; `./README.txt` is README.txt.
        // (`trim_start_matches("./")` as a loop: a str pattern brings in
        // core's substring searcher, ~0.5 KB.)
        let mut name = name;
        while let Some(rest) = name.strip_prefix("./") {
            name = rest;
        }
        let i = FLASH_FILES.iter().position(|f| f.name == name);
        let i = i.and_then(|i| u8::try_from(i).ok());
        let i = i.ok_or(Refusal("no such file"))?;
        Ok((i, self.meta(i)?))
    }

    fn read(&mut self, file: u8, offset: u64, buf: &mut [u8]) -> Result<usize, Refusal> {
        let data = Self::file(file)?.data;
        // Past the end: nothing left.
        let rest = usize::try_from(offset).ok().and_then(|o| data.get(o..));
        let rest = rest.unwrap_or_default();
        buf.iter_mut().zip(rest).for_each(|(to, from)| *to = *from);
        Ok(buf.len().min(rest.len()))
    }

    fn meta(&mut self, file: u8) -> Result<FileMeta, Refusal> {
        let f = Self::file(file)?;
        Ok(FileMeta {
            size: f.data.len() as u64,
            mtime: f.mtime,
            md5: Digest(f.md5),
        })
    }

    fn entry(&mut self, dir: &str, index: usize) -> Result<Option<Entry<'_>>, Refusal> {
        // The root only: a path of nothing but '/' and '.'.
        if !dir.bytes().all(|b| b == b'/' || b == b'.') {
            return Err(Refusal("no such file"));
        }
        Ok(FLASH_FILES.get(index).map(|f| Entry {
            name: f.name,
            dir: false,
            size: f.data.len() as u64,
            mtime: f.mtime,
        }))
    }
}

/// One round of the files service on its slot: replies go out as far as
/// the send buffer takes them, then the next request is read.
#[inline(never)]
pub fn serve(s: &mut tcp::Socket<'_>, session: &mut Option<Session>, now_ms: u64) {
    relisten(s, FILES_PORT);
    if !s.is_active() || s.state() == tcp::State::SynReceived {
        *session = None;
        return;
    }
    let sess = session.get_or_insert_with(|| Session::new(now_ms, FILES_IDLE_MS));
    let store = &mut FlashStore;
    // Bounded: each pass moves bytes or stops.
    for _ in 0..8 {
        let free = s.send_capacity() - s.send_queue();
        let mut out = [0u8; MIN_OUTPUT];
        // `get`s that never fail: no panic paths for the compiler to keep.
        let room = out.get_mut(..free.min(MIN_OUTPUT)).unwrap_or_default();
        let n = match sess.poll_output(now_ms, store, room) {
            Ok(n) => n,
            Err(_) => break,
        };
        if n > 0 {
            // Cannot be short: n <= the free send space.
            let _ = s.send_slice(out.get(..n).unwrap_or_default());
            continue;
        }
        if sess.is_replying() || !s.can_recv() {
            break;
        }
        let used = crate::recv_into(s, &mut |input| sess.handle_input(now_ms, input).0);
        if used == 0 {
            break;
        }
    }
    if !s.may_recv() && s.recv_queue() == 0 && !sess.is_replying() {
        // The client closed its side: a request cut short fails.
        let _ = sess.handle_eof();
    }
    sess.handle_timeout(now_ms);
    if sess.wants_close() {
        // FIN after the queued reply (an error reply included); the slot
        // listens again once both sides have closed.
        // A reply cut short (a failed store) must not look complete.
        if sess.is_replying() {
            s.abort();
        } else {
            s.close();
        }
    }
}
