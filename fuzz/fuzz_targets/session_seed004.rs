//! Random messages into the seed 004 session: no panic, no stall, and
//! any output buffer (first byte) gives the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::session::files::seed::{Seed004Server, MIN_OUTPUT};

use wirekit_fuzz::seed as common;

fn run(msgs: &[&[u8]], out: usize) -> common::Seen {
    let mut s = Seed004Server::new(0, 60_000);
    common::drive(&mut s, msgs, out, false, &mut |_, _| {})
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let msgs = common::messages(rest);
    let whole = run(&msgs, 1 << 16);
    let split = run(&msgs, MIN_OUTPUT + usize::from(first));
    assert_eq!(split, whole);
    assert!(whole.err.is_none());
});
