//! Random bytes and a random delimiter into the line decoder: no panic,
//! lines never exceed the limit nor contain the delimiter, and any split
//! of the input gives the same lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::codec::line::{LineDecoder, LineEvent};

fn lines(dec: &mut LineDecoder<64>, chunks: &[&[u8]], delim: &[u8]) -> Vec<Option<Vec<u8>>> {
    let mut out = Vec::new();
    let max = dec.max_line();
    for chunk in chunks {
        let mut input = *chunk;
        loop {
            let (used, ev) = dec.decode(input);
            input = &input[used..];
            match ev {
                None => break,
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

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let dl = usize::from(data[0] % 3) + 1;
    let (delim, rest) = data[1..].split_at(dl.min(data.len() - 1));
    let Ok(mut whole_dec) = LineDecoder::<64>::with_delimiter(delim, 40) else {
        return;
    };
    let whole = lines(&mut whole_dec, &[rest], delim);
    // Splitting only matters for delimiters without a self-overlapping
    // prefix (documented limit of over-long line skipping), so compare
    // splits for single-byte delimiters.
    if dl == 1 {
        let mut split_dec = LineDecoder::<64>::with_delimiter(delim, 40).unwrap();
        let chunks: Vec<&[u8]> = rest.chunks(7).collect();
        assert_eq!(lines(&mut split_dec, &chunks, delim), whole);
    }
    let _ = whole_dec.finish();
});
