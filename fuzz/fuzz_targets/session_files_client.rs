//! Random server bytes into the native files client session, for every
//! kind of exchange (first byte: which, and the read size): no panic, and
//! the same events (data joined) however the bytes are cut.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::session::files::client::{ClientEvent, FilesClient};
use wirekit_core::wire::Digest;

/// What the driver does after an event.
enum Answer {
    Nothing,
    Proof,
    Body(u64),
    Md5,
}

/// The events as text, consecutive data joined, with the driver's
/// answers (proof, offset, body, md5) given as a host gives them.
fn run(kind: u8, input: &[u8], chunk: usize) -> Vec<String> {
    let mut c: Box<FilesClient> = Box::default();
    match kind % 5 {
        0 => c.get("a", 0).unwrap(),
        1 => c.put("a", 4, false, true).unwrap(),
        2 => c.list(None).unwrap(),
        3 => c.stat("a").unwrap(),
        _ => c.login().unwrap(),
    }
    let mut log = Vec::new();
    let mut data = Vec::new();
    let mut pending = Vec::new();
    let mut reads = input.chunks(chunk);
    let mut out = [0u8; 4096];
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
        let mut answer = Answer::Nothing;
        match ev {
            Some(ClientEvent::Data(b) | ClientEvent::ListData(b)) => data.extend_from_slice(b),
            Some(e) => {
                log.push(format!("{e:?}"));
                answer = match e {
                    ClientEvent::Challenge => Answer::Proof,
                    // The session refuses an offer past the size (4).
                    ClientEvent::Ready { offset, .. } => Answer::Body(offset),
                    ClientEvent::Received { .. } => Answer::Md5,
                    _ => Answer::Nothing,
                };
            }
            None => {}
        }
        pending.drain(..used);
        match answer {
            Answer::Proof => c.authenticate(b"0123456789abcdef", b"").unwrap(),
            Answer::Md5 => log.push(format!("{:?}", c.finish_get(Digest::of(&data)))),
            Answer::Body(offset) => {
                c.send_from(offset).unwrap();
                c.send_body((4 - offset) as usize).unwrap();
                c.end_body(Digest::of(b"abcd")).unwrap();
            }
            Answer::Nothing => {}
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
    let chunk = usize::from(first >> 3) + 1;
    let split = run(first, input, chunk);
    assert_eq!(split, run(first, input, input.len().max(1)));
});
