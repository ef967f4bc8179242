//! Random bytes from three chat members into a room: no panic, every
//! frame whole, and the same frames for any split of each member's input.
#![no_main]

use core::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use wirekit_core::service::chat::Relay;
use wirekit_core::session::chat::{Dest, Output, Room, RoomConfig};
use wirekit_core::strftime::Tm;

type R = Room<3, 129, 4>;

fn drain(r: &mut R, out: &mut Vec<(Option<usize>, Vec<u8>)>) {
    let tm = Tm::from_unix(1_700_000_000, 0, "UTC");
    let mut buf = [0u8; R::frame_cap()];
    while let Some(o) = r.poll_output(&tm, &mut buf) {
        match o {
            Output::Transmit { to, len } => {
                assert!(buf[..len].ends_with(b"\n\n"));
                let to = match to {
                    Dest::All => None,
                    Dest::One(id) => Some(id.0),
                };
                out.push((to, buf[..len].to_vec()));
            }
            Output::Close { id, .. } => out.push((Some(id.0), Vec::new())),
        }
    }
}

fn run(scripts: &[&[u8]], chunk: usize) -> Vec<(Option<usize>, Vec<u8>)> {
    let mut r = R::new(RoomConfig {
        relay: Relay::Strip,
        slow_ms: 10,
    });
    let ids: Vec<_> = (0..3u16)
        .map(|p| r.join(SocketAddr::from(([10, 0, 0, 1], p))).unwrap())
        .collect();
    let mut out = Vec::new();
    drain(&mut r, &mut out);
    for (id, script) in ids.iter().zip(scripts) {
        'member: for mut piece in script.chunks(chunk) {
            while !piece.is_empty() {
                drain(&mut r, &mut out);
                match r.handle_input(*id, piece) {
                    Ok((n, _)) => piece = &piece[n..],
                    Err(_) => break 'member,
                }
            }
        }
        drain(&mut r, &mut out);
        if r.handle_eof(*id).is_ok() {
            drain(&mut r, &mut out);
        }
    }
    assert!(r.is_empty());
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let third = rest.len() / 3;
    let scripts = [&rest[..third], &rest[third..2 * third], &rest[2 * third..]];
    let whole = run(&scripts, rest.len().max(1));
    assert_eq!(run(&scripts, usize::from(first % 17) + 1), whole);
});
