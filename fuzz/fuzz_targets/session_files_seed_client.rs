//! Random server bytes into the seed files client sessions (seed 000,
//! 002 get, 004 get, 002 put's answer; first byte: which, and the read
//! size): no panic, and for seeds 000 and 002 the same events (data
//! joined) however the bytes are cut. Seed 004's size text is one read by
//! design, so its dialect is checked for panics only.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::session::files::client::seed::{SeedClient, SeedDialect, SeedEvent};
use wirekit_core::wire::Digest;

fn session(which: u8) -> Box<SeedClient> {
    let mut c = match which % 4 {
        0 => SeedClient::get(SeedDialect::Seed000, "a.txt").unwrap(),
        1 => SeedClient::get(SeedDialect::Seed002, "a.txt").unwrap(),
        2 => SeedClient::get(SeedDialect::Seed004, "a.txt").unwrap(),
        _ => {
            let mut c = SeedClient::put("a.txt", 0).unwrap();
            c.end_put().unwrap();
            c
        }
    };
    let mut out = [0u8; 256];
    while c.poll_output(&mut out) > 0 {}
    Box::new(c)
}

fn run(which: u8, input: &[u8], chunk: usize) -> Vec<String> {
    let mut c = session(which);
    let mut log = Vec::new();
    let mut data = Vec::new();
    let mut pending = Vec::new();
    let mut reads = input.chunks(chunk);
    let mut out = [0u8; 256];
    loop {
        while c.poll_output(&mut out) > 0 {}
        let (used, ev) = match c.handle_input(&pending) {
            Ok(r) => r,
            Err(e) => {
                log.push(format!("error {e}"));
                return log;
            }
        };
        let more = used > 0 || ev.is_some();
        let mut verify = false;
        match ev {
            Some(SeedEvent::Data(b)) => data.extend_from_slice(b),
            Some(e) => {
                verify = matches!(e, SeedEvent::Received { md5: Some(_) });
                log.push(format!("{e:?}"));
            }
            None => {}
        }
        pending.drain(..used);
        if verify {
            log.push(format!("{:?}", c.finish_get(Digest::of(&data))));
        }
        if more {
            continue;
        }
        match reads.next() {
            Some(r) => pending.extend_from_slice(r),
            None => {
                log.push(format!("{data:?} {:?}", c.handle_eof()));
                return log;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first >> 2) + 1;
    let split = run(first, input, chunk);
    if first % 4 < 2 {
        assert_eq!(split, run(first, input, input.len().max(1)));
    }
});
