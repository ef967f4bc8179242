//! The files root as the core sessions' [`FileStore`]
//! (`wirekit_core::session::files`, native and seed dialects), one per
//! connection.
//!
//! Every method may block on the file system: the driver calls the
//! session's output (the only caller of a store) on a blocking thread.
//! The md5 a `get` ends with comes from the store's cache when the file is
//! unchanged since it was hashed; otherwise the bytes are hashed as they
//! are read (a resumed get first hashes the part the client has), so a
//! first get still reads the file once. A file that changes while it is
//! sent (size, mtime to the nanosecond, inode) is caught before the
//! trailer by [`FileStore::meta`].

use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;
use std::time::Instant;

use md5::{Digest as _, Md5};
use wirekit_core::session::files::{seed, Entry, FileMeta, FileStore, Refusal, MAX_LIST};
use wirekit_core::wire::Digest;

use super::store::{hash_prefix, FileInfo, ListEntry};
use super::{Files, TransferSlot};

/// What a refusal the store words itself carries in [`Refusal`]: the text
/// is in [`HostStore::last`].
const OWN_TEXT: Refusal = Refusal("");

/// Where transfers are reported: the metrics and the recent events of
/// the connection's client.
#[derive(Clone, Default)]
pub struct Report {
    /// `--metrics`.
    pub metrics: Option<crate::metrics::Metrics>,
    /// The web console's recent events, with the client's address.
    pub events: Option<(crate::runtime::events::Events, std::net::SocketAddr)>,
}

impl Report {
    /// Counts a finished or refused transfer and shows it in the recent
    /// events: `op` get/put, `outcome` ok/refused, what moved and how long.
    pub fn transfer_done(&self, op: &str, outcome: &str, name: &str, bytes: u64, secs: f64) {
        if let Some(m) = &self.metrics {
            m.transfer(op, outcome, bytes, secs);
        }
        if let Some((ev, peer)) = &self.events {
            let detail = format!("{op} {name}: {outcome}, {bytes} bytes in {secs:.2} s");
            ev.publish("transfer", "files", *peer, detail);
        }
    }
}

/// The file a request opened (one request at a time per connection).
struct Open {
    id: u32,
    name: String,
    file: File,
    info: FileInfo,
    meta: FileMeta,
    cached: Option<Digest>,
    /// The md5 of bytes `0..pos`, while a get reads sequentially.
    hashing: Option<(Md5, u64)>,
    /// Held from the start of a get to its trailer.
    slot: Option<TransferSlot>,
    started: Instant,
}

/// One connection's view of the root.
pub struct HostStore {
    files: Arc<Files>,
    report: Report,
    open: Option<Open>,
    next_id: u32,
    /// The text of the last refusal (see [`OWN_TEXT`]).
    last: String,
    /// The directory listed last: `(dir, entries, reuse)`. A listing is
    /// walked twice (its length, then its lines) and must not change in
    /// between, so the second walk reuses the first's entries.
    listing: Option<(String, Vec<ListEntry>, bool)>,
}

impl HostStore {
    /// A store over `files`' root for one connection.
    pub fn new(files: Arc<Files>, report: Report) -> HostStore {
        HostStore {
            files,
            report,
            open: None,
            next_id: 0,
            last: String::new(),
            listing: None,
        }
    }

    /// Lets go of the last request's file and listing (the client is
    /// idle: it holds no descriptor or memory meanwhile).
    pub fn rest(&mut self) {
        self.open = None;
        self.listing = None;
        self.last = String::new();
    }

    /// Refuses with the store's own text.
    fn refuse(&mut self, text: String) -> Refusal {
        self.last = text;
        OWN_TEXT
    }

    fn file(&mut self, id: u32) -> Result<&mut Open, Refusal> {
        match &mut self.open {
            Some(o) if o.id == id => Ok(o),
            _ => Err(Refusal("file is no longer open")),
        }
    }
}

/// Reads into `buf` at `offset` until it is full or the file ends.
fn read_full(file: &File, mut offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset) {
            Ok(0) => break,
            Ok(n) => {
                got += n;
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl FileStore for HostStore {
    type File = u32;

    fn open(&mut self, name: &str) -> Result<(u32, FileMeta), Refusal> {
        // The previous request's file (and transfer slot) is done with.
        self.open = None;
        let (file, info) = match self.files.store.open_read(name) {
            Ok(f) => f,
            Err(r) => return Err(self.refuse(r.0)),
        };
        let cached = self.files.store.cached_md5(name, &info);
        let meta = FileMeta {
            size: info.size,
            mtime: info.mtime,
            // Not used before `digest` answers it.
            md5: cached.unwrap_or(Digest([0; 16])),
        };
        self.next_id = self.next_id.wrapping_add(1);
        self.open = Some(Open {
            id: self.next_id,
            name: name.to_owned(),
            file,
            info,
            meta,
            cached,
            hashing: None,
            slot: None,
            started: Instant::now(),
        });
        Ok((self.next_id, meta))
    }

    fn read(&mut self, id: u32, offset: u64, buf: &mut [u8]) -> Result<usize, Refusal> {
        let o = self.file(id)?;
        if o.cached.is_none() && o.hashing.is_none() {
            let mut f = o.file.try_clone().map_err(|_| Refusal("cannot read"))?;
            let (md5, n) = hash_prefix(&mut f, offset).map_err(|_| Refusal("cannot read"))?;
            o.hashing = Some((md5, n));
        }
        let n = read_full(&o.file, offset, buf).map_err(|_| Refusal("cannot read"))?;
        match &mut o.hashing {
            Some((md5, pos)) if *pos == offset => {
                md5.update(&buf[..n]);
                *pos += n as u64;
            }
            // Not sequential: the trailer's md5 is computed afresh.
            Some(_) => o.hashing = None,
            None => {}
        }
        Ok(n)
    }

    fn meta(&mut self, id: u32) -> Result<FileMeta, Refusal> {
        let o = self.file(id)?;
        match FileInfo::of(&o.file) {
            Ok(now) if now == o.info => Ok(o.meta),
            _ => Err(Refusal("changed")),
        }
    }

    fn entry(&mut self, dir: &str, index: usize) -> Result<Option<Entry<'_>>, Refusal> {
        let same = matches!(&self.listing, Some((d, _, _)) if d == dir);
        match &mut self.listing {
            // The second walk of the same listing.
            Some((_, _, reuse @ true)) if same && index == 0 => *reuse = false,
            _ if index == 0 || !same => {
                let (entries, _) = match self.files.store.entries(dir, MAX_LIST + 1) {
                    Ok(e) => e,
                    Err(r) => return Err(self.refuse(r.0)),
                };
                self.listing = Some((dir.to_owned(), entries, true));
            }
            _ => {}
        }
        let Some((_, entries, _)) = &self.listing else {
            return Ok(None);
        };
        Ok(entries.get(index).map(|e| Entry {
            name: &e.name,
            dir: e.dir,
            size: e.size,
            mtime: e.mtime,
        }))
    }

    fn digest(&mut self, id: u32, _: &FileMeta) -> Result<Digest, Refusal> {
        let files = Arc::clone(&self.files);
        let o = self.file(id)?;
        if let Some(d) = o.cached {
            return Ok(d);
        }
        let d = match o.hashing.take() {
            Some((md5, pos)) if pos == o.info.size => Digest(md5.finalize().into()),
            _ => {
                let mut f = o.file.try_clone().map_err(|_| Refusal("cannot read"))?;
                let (md5, n) =
                    hash_prefix(&mut f, o.info.size).map_err(|_| Refusal("cannot read"))?;
                if n != o.info.size {
                    return Err(Refusal("file changed while being hashed"));
                }
                Digest(md5.finalize().into())
            }
        };
        // A file that changed while it was read (a seed 004 get sends the
        // md5 of what it sent) must not leave that md5 in the cache.
        if FileInfo::of(&o.file).is_ok_and(|now| now == o.info) {
            files.store.remember_md5(&o.name, &o.info, d);
        }
        o.cached = Some(d);
        Ok(d)
    }

    fn start_get(&mut self, id: u32) -> Result<(), Refusal> {
        let files = Arc::clone(&self.files);
        let o = self.file(id)?;
        match files.transfer_slot() {
            Some(slot) => {
                o.slot = Some(slot);
                o.started = Instant::now();
                Ok(())
            }
            None => Err(self.refuse("server busy: too many transfers, try again later".into())),
        }
    }

    fn get_done(&mut self, id: u32, bytes: u64) {
        let report = self.report.clone();
        if let Ok(o) = self.file(id) {
            tracing::info!(name = o.name, size = o.info.size, "files: get done");
            let secs = o.started.elapsed().as_secs_f64();
            report.transfer_done("get", "ok", &o.name, bytes, secs);
            o.slot = None;
        }
    }

    fn describe(&mut self, r: Refusal, name: &str, w: &mut dyn fmt::Write) -> fmt::Result {
        match r == OWN_TEXT {
            true => w.write_str(&self.last),
            false => write!(w, "{name}: {}", r.0),
        }
    }

    fn refused(&mut self, op: &str, text: &str) {
        if text.ends_with(seed::TOO_BIG) {
            // A file the dialect cannot carry: the operator may want to
            // know (the client only sees the connection close).
            tracing::warn!("files: {op} refused: {text}");
        } else {
            tracing::info!("files: {op} refused: {text}");
        }
        if matches!(op, "get" | "put") {
            self.report.transfer_done(op, "refused", text, 0, 0.0);
        }
        if op == "end" {
            // A get stopped early: its transfer is over.
            if let Some(o) = &mut self.open {
                o.slot = None;
            }
        }
    }
}
