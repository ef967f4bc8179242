//! Random bytes into the host's files session (the `Full` extension:
//! segmented gets, the token exchange, uploads) with a driver that says
//! yes to everything: no panic, no stall, every reply is whole frames, and
//! splitting the input (first byte picks the chunk size) and the output
//! buffer gives the same bytes and the same uploaded data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::service::file::access::Policy;
use wirekit_core::session::files::{Event, FilesServer, Full, Uploads, MIN_OUTPUT};
use wirekit_core::wire::Digest;
use wirekit_fuzz::{assert_whole_frames, Store};

const TOKEN: &[u8] = b"0123456789abcdef";

type Host = FilesServer<usize, 512, Full>;

fn answer(s: &mut Host, ev: Event<'_>, written: &mut Vec<u8>) {
    match ev {
        Event::Data(b) => written.extend_from_slice(b),
        Event::Challenge => s.send_challenge(&[9; 32]),
        Event::Auth => {
            s.verify(Some(TOKEN), b"");
        }
        Event::Put => s.put_ready(0, None),
        Event::PutRestart => written.clear(),
        Event::PutEnd => {
            if s.put_check(Digest::of(written)) {
                s.put_stored();
            }
        }
        _ => {}
    }
}

fn run(input: &[u8], chunk: usize, out: usize) -> (Vec<u8>, Vec<u8>) {
    let uploads = Uploads {
        policy: Policy {
            token: input.first().is_some_and(|b| b & 1 == 1),
            writable: false,
            loopback: true,
        },
        max_size: 4096,
    };
    let mut s = Host::with_extension(0, 1000, Full::new(uploads));
    let (mut sent, mut written) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; out];
    let mut drain = |s: &mut Host, sent: &mut Vec<u8>| {
        while let Ok(n @ 1..) = s.poll_output(0, &mut Store, &mut buf) {
            sent.extend_from_slice(&buf[..n]);
        }
    };
    for mut piece in input.chunks(chunk) {
        loop {
            drain(&mut s, &mut sent);
            if s.wants_close() {
                return (sent, written);
            }
            let (n, ev) = s.handle_input(0, piece);
            piece = &piece[n..];
            match ev {
                Some(ev) => answer(&mut s, ev, &mut written),
                None if piece.is_empty() => break,
                // Input left and none taken: the session must be closing.
                None => assert!(n > 0 || s.is_replying() || s.wants_close()),
            }
        }
    }
    drain(&mut s, &mut sent);
    let _ = s.handle_eof();
    drain(&mut s, &mut sent);
    (sent, written)
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
    assert_whole_frames(&whole.0);
});
