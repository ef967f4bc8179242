//! Random bytes as a JSON header: no panic; the fast path and the
//! serde-json-core reference parser agree on every input; whatever parses
//! re-emits and re-parses to the same header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::wire::Header;

fuzz_target!(|data: &[u8]| {
    for strict in [true, false] {
        let parsed = Header::parse(data, strict);
        assert_eq!(parsed, Header::parse_reference(data, strict));
        if let Ok(h) = parsed {
            let mut buf = [0u8; 4096];
            let n = h.emit(&mut buf).expect("a parsed header fits 4 KiB");
            let mut again = Header::parse(&buf[..n], strict).expect("emitted header parses");
            // md5_malformed is not emitted (the bad value is dropped).
            again.md5_malformed = h.md5_malformed;
            assert_eq!(again, h);
        }
    }
});
