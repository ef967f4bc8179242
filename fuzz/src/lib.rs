//! What several fuzz targets share: a small in-memory [`FileStore`] for the
//! files sessions, the check that a server's output is whole native
//! frames, and the seed sessions' driver ([`seed`]).

pub mod seed;

use wirekit_core::session::files::{Entry, FileMeta, FileStore, Refusal};
use wirekit_core::wire::Digest;

/// The files every files-session target serves.
pub const FILES: [(&str, &[u8]); 3] = [("a.txt", b"hello\n"), ("b", &[7; 700]), ("e", b"")];

/// A store of [`FILES`]; a file is its index.
pub struct Store;

impl FileStore for Store {
    type File = usize;
    fn open(&mut self, name: &str) -> Result<(usize, FileMeta), Refusal> {
        let i = FILES
            .iter()
            .position(|f| f.0 == name)
            .ok_or(Refusal("no such file"))?;
        Ok((i, self.meta(i)?))
    }
    fn read(&mut self, f: usize, offset: u64, buf: &mut [u8]) -> Result<usize, Refusal> {
        let data = FILES[f].1;
        let from = (offset as usize).min(data.len());
        // Short reads, so sessions must loop.
        let n = buf.len().min(data.len() - from).min(97);
        buf[..n].copy_from_slice(&data[from..from + n]);
        Ok(n)
    }
    fn meta(&mut self, f: usize) -> Result<FileMeta, Refusal> {
        Ok(FileMeta {
            size: FILES[f].1.len() as u64,
            mtime: 1,
            md5: Digest::of(FILES[f].1),
        })
    }
    fn entry(&mut self, dir: &str, i: usize) -> Result<Option<Entry<'_>>, Refusal> {
        if !dir.is_empty() {
            return Err(Refusal("no such file"));
        }
        Ok(FILES.get(i).map(|(name, d)| Entry {
            name,
            dir: false,
            size: d.len() as u64,
            mtime: 1,
        }))
    }
}

/// Panics unless `sent` is a sequence of whole native frames: a length
/// prefix, a JSON header of that length, and the body it declares.
pub fn assert_whole_frames(sent: &[u8]) {
    let mut at = 0;
    while at < sent.len() {
        let n = u32::from_le_bytes(sent[at..at + 4].try_into().unwrap()) as usize;
        let h: &[u8] = &sent[at + 4..at + 4 + n];
        assert!(h.starts_with(b"{") && h.ends_with(b"}"));
        let size = wirekit_core::wire::Header::parse(h, true)
            .unwrap()
            .total_size as usize;
        at += 4 + n + size;
    }
    assert_eq!(at, sent.len());
}
