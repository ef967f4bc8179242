//! Oracle for the line decoder: a random delimiter (1 to 4 bytes, often
//! from a 3-letter alphabet so that it overlaps itself, like `==E`), a
//! random limit and a random chunk size; the events must equal a naive
//! split of the whole stream at each first delimiter, and no line may
//! exceed the limit or contain the delimiter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::codec::line::{LineDecoder, LineEvent};

const CAP: usize = 64;

fn lines(dec: &mut LineDecoder<CAP>, chunks: &[&[u8]], delim: &[u8]) -> Vec<Option<Vec<u8>>> {
    let mut out = Vec::new();
    let max = dec.max_line();
    for chunk in chunks {
        let mut input = *chunk;
        loop {
            let (used, ev) = dec.decode(input);
            input = &input[used..];
            match ev {
                None => {
                    assert!(input.is_empty(), "None with input left");
                    break;
                }
                Some(LineEvent::Line(l)) => {
                    assert!(l.len() <= max);
                    assert!(!l.windows(delim.len()).any(|w| w == delim));
                    out.push(Some(l.to_vec()));
                }
                Some(LineEvent::Rejected(_)) => out.push(None),
            }
        }
    }
    out
}

/// The reference: lines up to each first delimiter; an unterminated tail
/// already longer than the limit plus a partial delimiter is rejected too.
fn naive(stream: &[u8], delim: &[u8], max: usize) -> Vec<Option<Vec<u8>>> {
    let mut out = Vec::new();
    let mut rest = stream;
    while let Some(end) = rest.windows(delim.len()).position(|w| w == delim) {
        out.push((end <= max).then(|| rest[..end].to_vec()));
        rest = &rest[end + delim.len()..];
    }
    if rest.len() > max + delim.len() - 1 {
        out.push(None);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let dl = usize::from(data[0] % 4) + 1;
    let small = data[0] & 0x80 != 0;
    let max_line = usize::from(data[1] % 48);
    let step = usize::from(data[2] % 16) + 1;
    let Some(raw_delim) = data.get(3..3 + dl) else {
        return;
    };
    let mut delim = raw_delim.to_vec();
    let mut stream = data[3 + dl..].to_vec();
    if small {
        delim
            .iter_mut()
            .for_each(|b| *b = b"=EN"[usize::from(*b % 3)]);
        stream
            .iter_mut()
            .for_each(|b| *b = b"=ENx"[usize::from(*b % 4)]);
    }
    let mut dec = LineDecoder::<CAP>::with_delimiter(&delim, max_line).unwrap();
    let max = dec.max_line();
    let chunks: Vec<&[u8]> = stream.chunks(step).collect();
    assert_eq!(
        lines(&mut dec, &chunks, &delim),
        naive(&stream, &delim, max)
    );
    let _ = dec.finish();
});
