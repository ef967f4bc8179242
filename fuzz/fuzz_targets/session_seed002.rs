//! Random input into the seed 002 session with a driver that accepts
//! every upload: no panic, no stall; any output buffer gives the same
//! bytes; and after a `put`, any split of the upload stream (first byte)
//! gives the same answer and the same stored bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::service::file::access::Policy;
use wirekit_core::session::files::seed::{Seed002Server, MIN_OUTPUT};
use wirekit_core::session::files::{Event, Uploads};

use wirekit_fuzz::seed as common;

fn run(msgs: &[&[u8]], out: usize, one_put: bool) -> common::Seen {
    let uploads = Uploads {
        policy: Policy {
            token: false,
            writable: false,
            loopback: true,
        },
        max_size: 4096,
    };
    let mut s = Seed002Server::new(0, 60_000, 50).with_uploads(uploads);
    common::drive(&mut s, msgs, out, one_put, &mut |s, ev| match ev {
        Event::Put => s.put_ready(),
        Event::PutEnd => s.put_stored(),
        _ => {}
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    if first & 1 == 0 {
        let msgs = common::messages(rest);
        let whole = run(&msgs, 1 << 17, false);
        let split = run(&msgs, MIN_OUTPUT + usize::from(first), false);
        assert_eq!(split, whole);
        return;
    }
    // An upload stream after its command, whole or in pieces.
    let step = usize::from(first >> 1) + 1;
    let mut pieces: Vec<&[u8]> = vec![b"put f.bin"];
    pieces.push(rest);
    let whole = run(&pieces, MIN_OUTPUT, true);
    pieces.truncate(1);
    pieces.extend(rest.chunks(step));
    let split = run(&pieces, MIN_OUTPUT, true);
    assert_eq!(split, whole);
});
