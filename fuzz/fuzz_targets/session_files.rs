//! Random bytes into the read-only files session over a small store: no
//! panic, every reply is whole frames, and splitting the input (first
//! byte picks the chunk size) and the output buffer gives the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::session::files::{FilesServer, MIN_OUTPUT};
use wirekit_fuzz::{assert_whole_frames, Store};

fn run(input: &[u8], chunk: usize, out: usize) -> Vec<u8> {
    let mut s: FilesServer<usize, 512> = FilesServer::new(0, 1000);
    let mut sent = Vec::new();
    let mut buf = vec![0u8; out];
    let mut drain = |s: &mut FilesServer<usize, 512>, sent: &mut Vec<u8>| {
        while let Ok(n @ 1..) = s.poll_output(0, &mut Store, &mut buf) {
            sent.extend_from_slice(&buf[..n]);
        }
    };
    for mut piece in input.chunks(chunk) {
        loop {
            drain(&mut s, &mut sent);
            if s.wants_close() {
                return sent;
            }
            let (n, ev) = s.handle_input(0, piece);
            piece = &piece[n..];
            if ev.is_none() && piece.is_empty() {
                break;
            }
        }
    }
    drain(&mut s, &mut sent);
    let _ = s.handle_eof();
    drain(&mut s, &mut sent);
    sent
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let whole = run(rest, rest.len().max(1), 4096);
    let split = run(
        rest,
        usize::from(first % 31) + 1,
        MIN_OUTPUT + usize::from(first),
    );
    assert_eq!(split, whole);
    assert_whole_frames(&whole);
});
