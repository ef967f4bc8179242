//! Random bytes into the read-only files session over a small store: no
//! panic, every reply is whole frames, and splitting the input (first
//! byte picks the chunk size) and the output buffer gives the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::session::files::{Entry, FileMeta, FileStore, FilesServer, Refusal, MIN_OUTPUT};
use wirekit_core::wire::Digest;

const FILES: [(&str, &[u8]); 2] = [("a.txt", b"hello\n"), ("b", &[7; 700])];

struct Store;

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
        let n = buf.len().min(data.len() - from);
        buf[..n].copy_from_slice(&data[from..from + n]);
        Ok(n)
    }
    fn meta(&mut self, f: usize) -> Result<FileMeta, Refusal> {
        // Not the real md5: the session only passes it on.
        Ok(FileMeta {
            size: FILES[f].1.len() as u64,
            mtime: 1,
            md5: Digest([f as u8; 16]),
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

fn run(input: &[u8], chunk: usize, out: usize) -> Vec<u8> {
    let mut s: FilesServer<usize, 512> = FilesServer::new(0, 1000);
    let mut sent = Vec::new();
    let mut buf = vec![0u8; out];
    let mut drain = |s: &mut FilesServer<usize, 512>, sent: &mut Vec<u8>| {
        while let Ok(n @ 1..) = s.poll_output(0, &mut Store, &mut buf) {
            sent.extend_from_slice(&buf[..n]);
        }
    };
    for mut piece in input.chunks(chunk) {
        loop {
            drain(&mut s, &mut sent);
            if s.wants_close() {
                return sent;
            }
            let (n, ev) = s.handle_input(0, piece);
            piece = &piece[n..];
            if ev.is_none() && piece.is_empty() {
                break;
            }
        }
    }
    drain(&mut s, &mut sent);
    let _ = s.handle_eof();
    drain(&mut s, &mut sent);
    sent
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let whole = run(rest, rest.len().max(1), 4096);
    let split = run(
        rest,
        usize::from(first % 31) + 1,
        MIN_OUTPUT + usize::from(first),
    );
    assert_eq!(split, whole);
    // Whole frames only: each length prefix and its header are complete.
    let mut at = 0;
    while at < whole.len() {
        let n = u32::from_le_bytes(whole[at..at + 4].try_into().unwrap()) as usize;
        let h: &[u8] = &whole[at + 4..at + 4 + n];
        assert!(h.starts_with(b"{") && h.ends_with(b"}"));
        let size = wirekit_core::wire::Header::parse(h, true)
            .unwrap()
            .total_size as usize;
        at += 4 + n + size;
    }
    assert_eq!(at, whole.len());
});
