//! Random bytes into the length-prefixed decoder: no panic, progress on
//! every call, `None` only with all input consumed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::codec::length::LengthDecoder;

fuzz_target!(|data: &[u8]| {
    let mut dec = LengthDecoder::new(4096);
    let mut input = data;
    for _ in 0..=(4 * data.len() + 8) {
        match dec.decode(input) {
            Ok((used, None)) => {
                assert_eq!(used, input.len());
                break;
            }
            Ok((used, Some(_))) => input = &input[used..],
            Err(_) => break,
        }
    }
    let _ = dec.finish();
});
