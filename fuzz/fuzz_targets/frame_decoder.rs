//! Random bytes into the frame decoder in the lenient and strict modes:
//! no panic, no read past the input, and `None` only once all input is
//! consumed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::codec::frame::{Event, FrameDecoder, Limits};

fuzz_target!(|data: &[u8]| {
    for strict in [true, false] {
        let limits = Limits { strict_md5: strict, max_body: 1 << 20, ..Limits::default() };
        let mut dec: FrameDecoder<1024> = FrameDecoder::with_limits(limits);
        let mut input = data;
        // Each round consumes input or emits an event that needs none;
        // bound the rounds so a stuck decoder is a finding, not a hang.
        for _ in 0..=(4 * data.len() + 8) {
            match dec.decode(input) {
                Ok((used, ev)) => {
                    assert!(used <= input.len());
                    input = &input[used..];
                    if let Some(Event::Body(b)) = ev {
                        assert!(!b.is_empty());
                    }
                    if ev.is_none() {
                        assert!(input.is_empty());
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = dec.finish();
    }
});
