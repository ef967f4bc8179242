//! The seed sessions without sockets: exact bytes, refusals, shutdown and
//! end of input, and any split of input and output.

mod s000;
mod s002;
mod s004;

extern crate std;
use std::string::{String, ToString};
use std::vec::Vec;

use super::*;
use crate::session::files::{Entry, FileMeta, Refusal};
use crate::wire::Digest;

/// Files in memory, and what the sessions told the store.
pub(super) struct Disk {
    pub(super) files: Vec<(&'static str, Vec<u8>)>,
    /// A size reported instead of the real one (a huge file).
    pub(super) fake_size: Option<u64>,
    /// `start_get` refuses (all transfer slots taken).
    pub(super) busy: bool,
    /// Reads return at most this many bytes (a store that reads little).
    pub(super) step: usize,
    pub(super) refused: Vec<(String, String)>,
    pub(super) done: Vec<(usize, u64)>,
}

impl Disk {
    pub(super) fn new() -> Disk {
        Disk {
            files: std::vec![
                ("a.txt", b"hello seeds\n".to_vec()),
                (
                    "big.bin",
                    (0..200_000u32).map(|i| (i % 251) as u8).collect()
                ),
                ("empty", Vec::new()),
            ],
            fake_size: None,
            busy: false,
            step: usize::MAX,
            refused: Vec::new(),
            done: Vec::new(),
        }
    }

    pub(super) fn data(&self, name: &str) -> &[u8] {
        &self.files.iter().find(|f| f.0 == name).unwrap().1
    }
}

impl FileStore for Disk {
    type File = usize;
    fn open(&mut self, name: &str) -> Result<(usize, FileMeta), Refusal> {
        if name == "dir" {
            return Err(Refusal("is a directory"));
        }
        let i = self.files.iter().position(|f| f.0 == name);
        let i = i.ok_or(Refusal("no such file"))?;
        Ok((i, self.meta(i)?))
    }
    fn read(&mut self, f: usize, offset: u64, buf: &mut [u8]) -> Result<usize, Refusal> {
        let data = &self.files[f].1;
        let from = (offset as usize).min(data.len());
        let n = buf.len().min(data.len() - from).min(self.step);
        buf[..n].copy_from_slice(&data[from..from + n]);
        Ok(n)
    }
    fn meta(&mut self, f: usize) -> Result<FileMeta, Refusal> {
        let data = &self.files[f].1;
        Ok(FileMeta {
            size: self.fake_size.unwrap_or(data.len() as u64),
            mtime: 7,
            md5: Digest::of(data),
        })
    }
    fn entry(&mut self, _: &str, _: usize) -> Result<Option<Entry<'_>>, Refusal> {
        Ok(None)
    }
    fn start_get(&mut self, _: usize) -> Result<(), Refusal> {
        match self.busy {
            true => Err(Refusal("server busy")),
            false => Ok(()),
        }
    }
    fn get_done(&mut self, f: usize, bytes: u64) {
        self.done.push((f, bytes));
    }
    fn refused(&mut self, op: &str, text: &str) {
        self.refused.push((op.to_string(), text.to_string()));
    }
}

/// What a driver saw: the bytes sent, the events, the first error.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Seen {
    pub(super) sent: Vec<u8>,
    /// Bytes of `Event::Data`.
    pub(super) data: Vec<u8>,
    pub(super) events: Vec<String>,
    pub(super) err: Option<Error>,
    pub(super) closed: bool,
}

/// Drives `s`: each element of `messages` is handed over as what one read
/// returned; output goes through a buffer of `out` bytes; the clock jumps
/// to each pause's end. `answer` plays the driver's part for an event.
pub(super) fn drive<S: SeedSession<usize>>(
    s: &mut S,
    store: &mut Disk,
    messages: &[&[u8]],
    out: usize,
    answer: &mut dyn FnMut(&mut S, &str),
) -> Seen {
    let mut seen = Seen::default();
    let mut now = 0;
    let mut buf = std::vec![0u8; out];
    for msg in messages {
        let mut rest = *msg;
        let mut spins = 0;
        loop {
            spins += 1;
            assert!(spins < 100_000, "the session never takes its input");
            if let Err(e) = flush(s, store, &mut buf, &mut now, &mut seen) {
                seen.err = Some(e);
                return seen;
            }
            if s.wants_close() {
                seen.closed = true;
                return seen;
            }
            let (n, ev) = s.handle_input(now, rest);
            rest = &rest[n..];
            let Some(ev) = ev else {
                assert!(n > 0 || rest.is_empty() || s.is_replying(), "stalled");
                if rest.is_empty() {
                    break;
                }
                continue;
            };
            if let Event::Data(b) = ev {
                seen.data.extend_from_slice(b);
            }
            let name = std::format!("{ev:?}");
            let name = name.split('(').next().unwrap_or("").to_string();
            if name != "Data" {
                answer(s, &name);
                seen.events.push(name);
            }
        }
    }
    let mut end = || -> Result<(), Error> {
        flush(s, store, &mut buf, &mut now, &mut seen)?;
        s.handle_eof()?;
        flush(s, store, &mut buf, &mut now, &mut seen)
    };
    seen.err = end().err();
    seen.closed = s.wants_close();
    seen
}

/// Writes all output, waiting out pauses.
fn flush<S: SeedSession<usize>>(
    s: &mut S,
    store: &mut Disk,
    buf: &mut [u8],
    now: &mut u64,
    seen: &mut Seen,
) -> Result<(), Error> {
    loop {
        match s.poll_output(*now, store, buf)? {
            0 if s.is_replying() && !s.wants_close() => match s.poll_timeout() {
                Some(t) if t > *now && t < 1 << 40 => *now = t,
                _ => return Ok(()),
            },
            0 => return Ok(()),
            n => seen.sent.extend_from_slice(&buf[..n]),
        }
    }
}

/// A driver that answers nothing (read-only sessions need nothing).
pub(super) fn quiet<S>() -> impl FnMut(&mut S, &str) {
    |_, _| {}
}
