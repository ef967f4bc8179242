//! What the seed session fuzz targets share: the fuzz input cut into
//! messages, and a driver that says yes to everything and records what it
//! saw.

use wirekit_core::session::files::seed::SeedSession;
use wirekit_core::session::files::{Error, Event};

use crate::Store;

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
