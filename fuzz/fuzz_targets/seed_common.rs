//! What the seed session fuzz targets share: a small store, the fuzz
//! input cut into messages, and a driver that says yes to everything and
//! records what it saw. Included by each target with `#[path]`.

use wirekit_core::session::files::seed::SeedSession;
use wirekit_core::session::files::{Entry, Error, Event, FileMeta, FileStore, Refusal};
use wirekit_core::wire::Digest;

pub const FILES: [(&str, &[u8]); 3] = [("a.txt", b"hello\n"), ("b", &[7; 700]), ("e", b"")];

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
    fn entry(&mut self, _: &str, _: usize) -> Result<Option<Entry<'_>>, Refusal> {
        Ok(None)
    }
}

/// Cuts `data` into messages, as reads would return them: a length byte
/// (0..=127 as it is, 128..=255 times 16, past the 1,024-byte limit),
/// then that many bytes.
pub fn messages(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let len = usize::from(len);
        let n = if len < 128 { len } else { len * 16 }.min(rest.len());
        out.push(&rest[..n]);
        data = &rest[n..];
    }
    out
}

/// What a driver saw.
#[derive(Debug, Default, PartialEq)]
pub struct Seen {
    pub sent: Vec<u8>,
    pub data: Vec<u8>,
    pub events: Vec<String>,
    pub err: Option<Error>,
}

/// Drives `s` over `msgs` (each one read) with an output buffer of `out`
/// bytes, the clock jumping over pauses; `answer` plays the driver. With
/// `one_put`, it stops once an upload has ended (what follows would be
/// commands, whose bounds are the reads).
pub fn drive<S: SeedSession<usize>>(
    s: &mut S,
    msgs: &[&[u8]],
    out: usize,
    one_put: bool,
    answer: &mut dyn FnMut(&mut S, &Event<'_>),
) -> Seen {
    let mut seen = Seen::default();
    let mut now = 0;
    let mut buf = vec![0u8; out];
    for msg in msgs {
        let mut rest = *msg;
        for spin in 0.. {
            assert!(spin < 100_000, "the session never takes its input");
            if let Err(e) = flush(s, &mut buf, &mut now, &mut seen.sent) {
                seen.err = Some(e);
                return seen;
            }
            if s.wants_close() {
                return seen;
            }
            let (n, ev) = s.handle_input(now, rest);
            assert!(n <= rest.len());
            rest = &rest[n..];
            match ev {
                Some(Event::Data(b)) => seen.data.extend_from_slice(b),
                Some(ev) => {
                    answer(s, &ev);
                    seen.events.push(format!("{ev:?}"));
                    let ended = matches!(ev, Event::PutEnd | Event::Refused | Event::PutFailed);
                    if one_put && ended {
                        seen.err = flush(s, &mut buf, &mut now, &mut seen.sent).err();
                        return seen;
                    }
                }
                None if rest.is_empty() => break,
                None => assert!(n > 0 || s.is_replying(), "input left, none taken"),
            }
        }
    }
    let mut end = || -> Result<(), Error> {
        flush(s, &mut buf, &mut now, &mut seen.sent)?;
        s.handle_eof()?;
        flush(s, &mut buf, &mut now, &mut seen.sent)
    };
    seen.err = end().err();
    seen
}

fn flush<S: SeedSession<usize>>(
    s: &mut S,
    buf: &mut [u8],
    now: &mut u64,
    sent: &mut Vec<u8>,
) -> Result<(), Error> {
    loop {
        match s.poll_output(*now, &mut Store, buf)? {
            0 => match s.poll_timeout() {
                Some(t) if s.is_replying() && t > *now && t < 1 << 40 => *now = t,
                _ => return Ok(()),
            },
            n => sent.extend_from_slice(&buf[..n]),
        }
    }
}
