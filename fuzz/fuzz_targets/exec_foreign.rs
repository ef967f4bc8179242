//! Random bytes through the exec services' foreign-protocol classifier: no
//! panic, and a foreign prefix stays foreign whatever follows it (a message
//! cut into reads is never let through).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::service::exec::foreign::classify;

fuzz_target!(|data: &[u8]| {
    let cut = data.first().map_or(0, |&n| usize::from(n)).min(data.len());
    if classify(&data[..cut]).is_some() {
        assert!(classify(data).is_some());
    }
});
