//! Any chunking of the same bytes must give the same events and the same
//! outcome as decoding them whole. The first two bytes choose the chunk
//! sizes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::codec::frame::{Event, FrameDecoder, Limits};

#[derive(Debug, PartialEq)]
enum Owned {
    Header(String),
    Body(Vec<u8>),
    End(String),
    Err(String),
}

fn decode(chunks: &[&[u8]]) -> Vec<Owned> {
    let limits = Limits { strict_md5: false, reject_mismatch: false, ..Limits::default() };
    let mut dec: FrameDecoder<512> = FrameDecoder::with_limits(limits);
    let mut out = Vec::new();
    for chunk in chunks {
        let mut input = *chunk;
        loop {
            match dec.decode(input) {
                Ok((used, ev)) => {
                    input = &input[used..];
                    match ev {
                        None => break,
                        Some(Event::Header(h)) => out.push(Owned::Header(format!("{h:?}"))),
                        Some(Event::Body(b)) => match out.last_mut() {
                            Some(Owned::Body(v)) => v.extend_from_slice(b),
                            _ => out.push(Owned::Body(b.to_vec())),
                        },
                        Some(Event::End(v)) => out.push(Owned::End(format!("{v:?}"))),
                    }
                }
                Err(e) => {
                    out.push(Owned::Err(format!("{e:?}")));
                    return out;
                }
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (sizes, stream) = data.split_at(2);
    let whole = decode(&[stream]);
    let (a, b) = (usize::from(sizes[0]).max(1), usize::from(sizes[1]).max(1));
    let mut chunks = Vec::new();
    let mut rest = stream;
    let mut toggle = false;
    while !rest.is_empty() {
        let n = if toggle { a } else { b }.min(rest.len());
        chunks.push(&rest[..n]);
        rest = &rest[n..];
        toggle = !toggle;
    }
    assert_eq!(decode(&chunks), whole);
});
