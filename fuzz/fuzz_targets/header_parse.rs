//! Random bytes as a JSON header: no panic; the fast path and the
//! serde-json-core reference parser agree on every input; the scanner
//! alone (a firmware image's whole parser) accepts nothing the reference
//! reads differently; whatever parses re-emits and re-parses to the same
//! header, with the reference and with the scanner alone.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::wire::Header;

fuzz_target!(|data: &[u8]| {
    for strict in [true, false] {
        let parsed = Header::parse(data, strict);
        assert_eq!(parsed, Header::parse_reference(data, strict));
        if let Ok(alone) = Header::parse_scanner_only(data, strict) {
            assert_eq!(Ok(alone), parsed);
        }
        if let Ok(h) = parsed {
            let mut buf = [0u8; 4096];
            let n = h.emit(&mut buf).expect("a parsed header fits 4 KiB");
            let mut again = Header::parse(&buf[..n], strict).expect("emitted header parses");
            // md5_malformed is not emitted (the bad value is dropped).
            again.md5_malformed = h.md5_malformed;
            assert_eq!(again, h);
            let mut alone = Header::parse_scanner_only(&buf[..n], strict)
                .expect("the scanner alone reads what emit writes");
            alone.md5_malformed = h.md5_malformed;
            assert_eq!(alone, h);
        }
    }
});
