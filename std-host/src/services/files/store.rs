//! The served directory: every path a client names is opened through a
//! `cap_std` handle on the root, so `..`, absolute paths and symlinks that
//! lead outside are refused by the same mechanism the kernel uses
//! (`openat` beneath the root), not by string checks alone.
//!
//! Uploads go to a partial file beside their target (`.NAME.wirekit-part`)
//! and reach the final name only through [`PutSlot::commit`] after their
//! md5 was checked: a rename (`--force`) or a hard link that fails if the
//! name exists, so a concurrent writer is never overwritten by accident.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use cap_std::fs::{Dir, FileType, FileTypeExt, Metadata, OpenOptions, OpenOptionsExt};
use md5::{Digest as _, Md5};
use wirekit_core::service::file::name::{self, PARTIAL_SUFFIX};
use wirekit_core::wire::Digest;

/// How many file digests the cache keeps (each entry is ~100 bytes).
const CACHE_ENTRIES: usize = 4096;
/// Read size when hashing a file.
pub const IO_CHUNK: usize = 256 * 1024;

/// What a client reads about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileInfo {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
    mtime_ns: i64,
    ino: u64,
}

impl FileInfo {
    /// Reads the identity of an open file.
    pub fn of(file: &File) -> io::Result<FileInfo> {
        let m = file.metadata()?;
        Ok(FileInfo {
            size: m.len(),
            mtime: u64::try_from(m.mtime()).unwrap_or(0),
            mtime_ns: m.mtime().saturating_mul(1_000_000_000) + m.mtime_nsec(),
            ino: m.ino(),
        })
    }
}

/// A refusal with a message fit for the client.
#[derive(Debug)]
pub struct Refusal(pub String);

impl Refusal {
    /// The client's text for an I/O error on `name`.
    pub fn io(name: &str, e: &io::Error) -> Refusal {
        let what = match e.kind() {
            io::ErrorKind::NotFound => "no such file",
            io::ErrorKind::PermissionDenied => "outside the root or not permitted",
            io::ErrorKind::AlreadyExists => "already exists (use --force to replace it)",
            _ if e.raw_os_error() == Some(40) => "outside the root (symlink loop)",
            _ if e.raw_os_error() == Some(28) => "no space left on the server",
            _ => return Refusal(format!("{name}: {e}")),
        };
        Refusal(format!("{name}: {what}"))
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Refuses what is not a regular file, naming what it is.
fn refuse_unless_regular(name: &str, t: &FileType) -> Result<(), Refusal> {
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "is a directory"
    } else if t.is_fifo() {
        "is a FIFO (named pipe), not a regular file"
    } else if t.is_socket() {
        "is a socket, not a regular file"
    } else if t.is_char_device() || t.is_block_device() {
        "is a device, not a regular file"
    } else {
        "is not a regular file"
    };
    Err(Refusal(format!("{name}: {what}")))
}

/// The served directory with its md5 cache and upload locks.
pub struct Store {
    root: Dir,
    cache: Mutex<HashMap<(String, FileInfo), Digest>>,
    busy: Arc<Mutex<HashSet<String>>>,
}

impl Store {
    /// Opens (creating if needed) the directory `root`.
    pub fn open(root: &Path) -> io::Result<Store> {
        std::fs::create_dir_all(root)?;
        let root = Dir::open_ambient_dir(root, cap_std::ambient_authority())?;
        Ok(Store {
            root,
            cache: Mutex::new(HashMap::new()),
            busy: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    /// Opens a regular file for reading. Anything else is refused without
    /// blocking: a FIFO would hold `open` until a writer came (and pin the
    /// connection forever), a device can act on being opened or never end.
    pub fn open_read(&self, name: &str) -> Result<(File, FileInfo), Refusal> {
        name::check(name, false).map_err(|e| Refusal(format!("{name}: {e}")))?;
        // Look before opening: stat does not block and has no effect on
        // the object, open may do both.
        let meta = self
            .root
            .metadata(name)
            .map_err(|e| Refusal::io(name, &e))?;
        refuse_unless_regular(name, &meta.file_type())?;
        // The name may be swapped for a FIFO between the look and the open:
        // O_NONBLOCK makes that open return at once, and the opened file's
        // own type is checked again.
        let mut opts = OpenOptions::new();
        opts.read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
        let file = self
            .root
            .open_with(name, &opts)
            .map_err(|e| Refusal::io(name, &e))?
            .into_std();
        let meta = Metadata::from_file(&file).map_err(|e| Refusal::io(name, &e))?;
        refuse_unless_regular(name, &meta.file_type())?;
        // A regular file ignores O_NONBLOCK; clear it all the same so the
        // descriptor behaves ordinarily wherever it is passed on.
        rustix::fs::fcntl_setfl(&file, rustix::fs::OFlags::empty())
            .map_err(|e| Refusal::io(name, &e.into()))?;
        let info = FileInfo::of(&file).map_err(|e| Refusal::io(name, &e))?;
        Ok((file, info))
    }

    /// The cached md5 of `name` if it has not changed since it was hashed.
    pub fn cached_md5(&self, name: &str, info: &FileInfo) -> Option<Digest> {
        let cache = self.cache.lock().ok()?;
        let hit = cache.get(&(name.to_string(), *info)).copied();
        // Says whether a get re-reads the file to hash it (tests rely on it).
        tracing::debug!(
            name,
            size = info.size,
            hit = hit.is_some(),
            "files: md5 cache"
        );
        hit
    }

    /// Remembers the md5 of `name` as it is described by `info`.
    pub fn remember_md5(&self, name: &str, info: &FileInfo, md5: Digest) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_ENTRIES {
                // Dropping everything is crude but bounded; a busy server
                // re-hashes at most once per file afterwards.
                cache.clear();
            }
            cache.insert((name.to_string(), *info), md5);
        }
    }

    /// The md5 of a whole open file: from the cache, or by reading it.
    pub fn md5_of(&self, name: &str, file: &mut File, info: &FileInfo) -> io::Result<Digest> {
        if let Some(d) = self.cached_md5(name, info) {
            return Ok(d);
        }
        let (md5, n) = hash_prefix(file, info.size)?;
        if n != info.size {
            return Err(io::Error::other("file shrank while being hashed"));
        }
        let d = Digest(md5.finalize().into());
        self.remember_md5(name, info, d);
        Ok(d)
    }

    /// Starts an upload of `size` bytes to `name`. Refuses an existing
    /// name without `force` and a name another upload is writing. With
    /// `resume`, an earlier partial no longer than `size` is kept.
    pub fn begin_put(
        &self,
        name: &str,
        force: bool,
        resume: bool,
        size: u64,
    ) -> Result<PutSlot, Refusal> {
        name::check(name, false).map_err(|e| Refusal(format!("{name}: {e}")))?;
        let busy = BusyGuard::take(&self.busy, name).ok_or_else(|| {
            Refusal(format!(
                "{name}: another upload to this name is in progress"
            ))
        })?;
        let comps: Vec<&str> = name::components(name).collect();
        let (base, parents) = comps
            .split_last()
            .ok_or_else(|| Refusal("empty name".into()))?;
        let dir = if parents.is_empty() {
            self.root.try_clone()
        } else {
            let p = parents.join("/");
            self.root
                .create_dir_all(&p)
                .and_then(|()| self.root.open_dir(&p))
        }
        .map_err(|e| Refusal::io(name, &e))?;
        // A directory is never replaced, not even with --force: refuse
        // before a partial exists that the refusal would leave behind.
        if dir.metadata(base).is_ok_and(|m| m.is_dir()) {
            return Err(Refusal(format!("{name}: is a directory on the server")));
        }
        if !force && dir.symlink_metadata(base).is_ok() {
            return Err(Refusal::io(name, &io::ErrorKind::AlreadyExists.into()));
        }
        let part = name::partial_name(base).to_string();
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true);
        let mut file = dir
            .open_with(&part, &opts)
            .map_err(|e| Refusal::io(name, &e))?
            .into_std();
        let len = file.metadata().map_err(|e| Refusal::io(name, &e))?.len();
        let kept = if resume && len <= size { len } else { 0 };
        let (prefix, _) = hash_prefix(&mut file, kept).map_err(|e| Refusal::io(name, &e))?;
        file.set_len(kept).map_err(|e| Refusal::io(name, &e))?;
        file.seek(SeekFrom::Start(kept))
            .map_err(|e| Refusal::io(name, &e))?;
        Ok(PutSlot {
            dir,
            base: base.to_string(),
            part,
            file,
            kept,
            prefix,
            force,
            _busy: busy,
        })
    }

    /// The root directory (the partial sweeper walks it).
    pub(super) fn root_dir(&self) -> &Dir {
        &self.root
    }

    /// Holds `name` as if an upload were writing it, so none starts while
    /// its partial is removed; `None` if an upload is writing it.
    pub(super) fn hold(&self, name: &str) -> Option<impl Drop> {
        BusyGuard::take(&self.busy, name)
    }

    /// The entries of directory `dir` (empty: the root), partials left
    /// out, at most `max`; and whether entries were left out beyond it.
    pub fn entries(&self, dir: &str, max: usize) -> Result<(Vec<ListEntry>, bool), Refusal> {
        name::check(dir, true).map_err(|e| Refusal(format!("{dir}: {e}")))?;
        let d = if name::components(dir).next().is_none() {
            self.root.try_clone()
        } else {
            self.root.open_dir(dir)
        }
        .map_err(|e| Refusal::io(dir, &e))?;
        let mut out = Vec::new();
        for entry in d.entries().map_err(|e| Refusal::io(dir, &e))? {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(PARTIAL_SUFFIX) {
                continue;
            }
            if out.len() == max {
                return Ok((out, true));
            }
            let meta = entry.metadata().ok();
            out.push(ListEntry {
                name,
                dir: meta.as_ref().is_some_and(|m| m.is_dir()),
                size: meta.as_ref().map_or(0, |m| m.len()),
                mtime: meta
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.into_std().duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs()),
            });
        }
        Ok((out, false))
    }
}

/// One entry of a listing ([`Store::entries`]).
#[derive(Debug, Clone)]
pub struct ListEntry {
    /// The name within its directory.
    pub name: String,
    /// Whether it is a directory.
    pub dir: bool,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
}

/// Writes `b` at the file's position, leaving a hole instead where `b`
/// is all zeros (like `cp --sparse=auto`): a sparse file stays sparse at
/// its destination and zeros cost no disk writes. The caller sets the
/// final length with `set_len`, which also covers trailing holes.
pub fn write_sparse(file: &mut File, b: &[u8]) -> io::Result<()> {
    static ZEROS: [u8; IO_CHUNK] = [0; IO_CHUNK];
    // Slice equality is a memcmp, fast even in debug builds.
    if b.chunks(IO_CHUNK).all(|c| c == &ZEROS[..c.len()]) {
        let n = i64::try_from(b.len()).map_err(io::Error::other)?;
        file.seek(SeekFrom::Current(n))?;
        Ok(())
    } else {
        std::io::Write::write_all(file, b)
    }
}

/// Reads and hashes the first `len` bytes of `file` from its start;
/// returns the hasher and how many bytes there were.
pub fn hash_prefix(file: &mut File, len: u64) -> io::Result<(Md5, u64)> {
    file.seek(SeekFrom::Start(0))?;
    let mut md5 = Md5::new();
    let mut buf = vec![0u8; IO_CHUNK];
    let mut done = 0u64;
    while done < len {
        let want = usize::try_from(len - done).map_or(IO_CHUNK, |r| r.min(IO_CHUNK));
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        md5.update(&buf[..n]);
        done += n as u64;
    }
    Ok((md5, done))
}

/// Flushes a directory's entries (a new or renamed name) to disk. cap-std
/// holds directories as `O_PATH` descriptors, on which `fsync` fails with
/// `EBADF`, so the directory is opened again for reading through its own
/// handle (`.` cannot lead anywhere else) just for the `fsync`.
pub fn sync_dir(dir: &Dir) -> io::Result<()> {
    use rustix::fs::{openat, Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = openat(dir, ".", flags, Mode::empty())?;
    rustix::fs::fsync(&fd)?;
    Ok(())
}

/// Marks a name as being uploaded; released on drop.
struct BusyGuard {
    set: Arc<Mutex<HashSet<String>>>,
    name: String,
}

impl BusyGuard {
    fn take(set: &Arc<Mutex<HashSet<String>>>, name: &str) -> Option<BusyGuard> {
        let key = name::components(name).collect::<Vec<_>>().join("/");
        let mut s = set.lock().ok()?;
        s.insert(key.clone()).then(|| BusyGuard {
            set: Arc::clone(set),
            name: key,
        })
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        if let Ok(mut s) = self.set.lock() {
            s.remove(&self.name);
        }
    }
}

/// An upload in progress: the partial file beside its target.
pub struct PutSlot {
    dir: Dir,
    base: String,
    part: String,
    /// The partial file, positioned after the kept bytes.
    pub file: File,
    /// Bytes of an earlier partial kept for resuming.
    pub kept: u64,
    /// The md5 state over the kept bytes.
    pub prefix: Md5,
    force: bool,
    _busy: BusyGuard,
}

impl PutSlot {
    /// Drops the kept bytes: the client starts over.
    pub fn restart(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.kept = 0;
        self.prefix = Md5::new();
        Ok(())
    }

    /// Makes the verified partial of `size` bytes the final file: fsync,
    /// then rename (`force`) or link without replacing, then fsync the
    /// directory.
    pub fn commit(self, size: u64) -> Result<(), Refusal> {
        let name = self.base.clone();
        let err = |e: io::Error| Refusal::io(&name, &e);
        self.file.set_len(size).map_err(err)?;
        self.file.sync_all().map_err(err)?;
        if self.force {
            self.dir
                .rename(&self.part, &self.dir, &self.base)
                .map_err(err)?;
        } else {
            self.dir
                .hard_link(&self.part, &self.dir, &self.base)
                .map_err(err)?;
            self.dir.remove_file(&self.part).map_err(err)?;
        }
        // Durability of the new name; failure here loses nothing the
        // client was promised beyond a crash window, so only log it.
        if let Err(e) = sync_dir(&self.dir) {
            tracing::warn!("fsync of directory failed: {e}");
        }
        Ok(())
    }

    /// [`PutSlot::commit`], removing the partial if that fails: a refused
    /// upload must not keep holding disk space.
    pub fn commit_or_discard(self, size: u64) -> Result<(), Refusal> {
        let (dir, part) = (self.dir.try_clone(), self.part.clone());
        let r = self.commit(size);
        if r.is_err() {
            if let Ok(dir) = dir {
                let _ = dir.remove_file(&part);
            }
        }
        r
    }

    /// Removes the partial (its data is known to be wrong).
    pub fn discard(self) {
        if let Err(e) = self.dir.remove_file(&self.part) {
            tracing::warn!("removing partial {}: {e}", self.part);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_served_directory_can_be_fsynced() {
        let tmp = std::env::temp_dir().join(format!("wk-syncdir-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let dir = Dir::open_ambient_dir(&tmp, cap_std::ambient_authority()).unwrap();
        // What the store did before: fsync on cap-std's O_PATH descriptor.
        let old = dir.try_clone().unwrap().into_std_file().sync_all();
        assert!(old.is_err(), "cap-std no longer opens directories O_PATH");
        sync_dir(&dir).expect("fsync of the directory");
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
