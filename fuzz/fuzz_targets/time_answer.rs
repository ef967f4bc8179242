//! Random datagrams to the time service at random instants: no panic, the
//! answer always fits the buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::service::time::answer;
use wirekit_core::strftime::Tm;

fuzz_target!(|data: &[u8]| {
    if data.len() < 12 {
        return;
    }
    let unix = i64::from_le_bytes(data[..8].try_into().unwrap()) % (1 << 40);
    let offset = i32::from_le_bytes(data[8..12].try_into().unwrap()) % 86_400;
    let tm = Tm::from_unix(unix, offset, "TZ");
    let mut out = [0u8; 256];
    let n = answer(&data[12..], &tm, &mut out);
    assert!(n <= out.len());
});
