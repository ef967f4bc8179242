//! The room without sockets: who gets what, in the seed's bytes; seats,
//! nicknames, quitting, slow readers; any chunking gives the same frames.

extern crate std;
use std::format;
use std::string::String;
use std::vec::Vec;

use proptest::prelude::*;

use super::*;

type R = Room<3, 65, 4>;

fn tm() -> Tm {
    Tm::from_unix(1_700_000_000, 0, "UTC")
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn room() -> R {
    R::new(RoomConfig {
        relay: Relay::Strip,
        slow_ms: 1000,
    })
}

/// Everything the room wants done, as text: `all: FRAME`, `N: FRAME`,
/// `close N`.
fn drain(r: &mut R) -> Vec<String> {
    let mut buf = [0u8; R::frame_cap()];
    let mut out = Vec::new();
    while let Some(o) = r.poll_output(&tm(), &mut buf) {
        out.push(match o {
            Output::Transmit { to: Dest::All, len } => {
                format!("all: {}", String::from_utf8_lossy(&buf[..len]))
            }
            Output::Transmit {
                to: Dest::One(id),
                len,
            } => format!("{}: {}", id.0, String::from_utf8_lossy(&buf[..len])),
            Output::Close { id, flush: true } => format!("close {}", id.0),
            Output::Close { id, flush: false } => format!("reset {}", id.0),
        });
    }
    out
}

/// Feeds all of `input` as member `id`, draining output between lines.
fn say(r: &mut R, id: MemberId, mut input: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while !input.is_empty() {
        out.extend(drain(r));
        match r.handle_input(id, input) {
            Ok((n, _)) => input = &input[n..],
            // It quit.
            Err(_) => break,
        }
    }
    out.extend(drain(r));
    out
}

const STAMP: &str = "2023/11/14 22:13:20";

#[test]
fn join_say_nick_who_quit_in_the_seed_format() {
    let mut r = room();
    let a = r.join(addr(1000)).unwrap();
    assert_eq!(
        drain(&mut r),
        [format!(
            "all: {STAMP} server\n* 127.0.0.1:1000 joined (1 online)\n\n"
        )]
    );
    let b = r.join(addr(2000)).unwrap();
    drain(&mut r);
    assert_eq!(
        say(&mut r, b, b"I'm ready.\n"),
        [format!("all: {STAMP} 127.0.0.1:2000\nI'm ready.\n\n")]
    );
    assert_eq!(
        say(&mut r, a, b"/nick ann\n"),
        [format!(
            "all: {STAMP} server\n* 127.0.0.1:1000 is now ann\n\n"
        )]
    );
    assert_eq!(
        say(&mut r, b, b"/nick ANN\n/nick bad!\n"),
        [
            format!("1: {STAMP} server\n* nickname ANN is already in use\n\n"),
            format!("1: {STAMP} server\n* nickname refused: a nickname may only use A-Z a-z 0-9 _ -\n\n"),
        ]
    );
    assert_eq!(
        say(&mut r, b, b"/who\n"),
        [format!(
            "1: {STAMP} server\n* online (2): ann, 127.0.0.1:2000\n\n"
        )]
    );
    assert_eq!(
        say(&mut r, a, b"hi \x1b[2Jthere\r\n   \n"),
        [format!("all: {STAMP} ann\nhi [2Jthere\n\n")]
    );
    assert_eq!(
        say(&mut r, a, b"quit\n"),
        [
            format!("all: {STAMP} server\n* ann left\n\n"),
            "close 0".into()
        ]
    );
    assert_eq!(r.len(), 1);
    assert_eq!(r.handle_input(a, b"x\n"), Err(Error::NotMember));
}

#[test]
fn a_full_room_refuses_and_a_freed_seat_is_reused() {
    let mut r = room();
    let ids: Vec<MemberId> = (0..3).map(|i| r.join(addr(i)).unwrap()).collect();
    assert_eq!(r.join(addr(9)), Err(Error::Full));
    assert!(FULL.starts_with(b"error: server busy"));
    drain(&mut r);
    r.handle_eof(ids[1]).unwrap();
    // The seat is free only once its close was handed out.
    assert_eq!(r.join(addr(9)), Err(Error::Full));
    assert_eq!(
        drain(&mut r),
        [
            format!("all: {STAMP} server\n* 127.0.0.1:1 left\n\n"),
            "close 1".into()
        ]
    );
    assert_eq!(r.join(addr(9)), Ok(MemberId(1)));
}

#[test]
fn the_last_unterminated_line_is_said_before_leaving() {
    let mut r = room();
    let a = r.join(addr(1)).unwrap();
    drain(&mut r);
    assert_eq!(r.handle_input(a, b"bye"), Ok((3, None)));
    assert_eq!(r.handle_eof(a), Ok(true));
    assert_eq!(
        drain(&mut r),
        [
            format!("all: {STAMP} 127.0.0.1:1\nbye\n\n"),
            format!("all: {STAMP} server\n* 127.0.0.1:1 left\n\n"),
            "close 0".into()
        ]
    );
}

#[test]
fn long_lines_are_refused_and_the_next_one_goes_through() {
    let mut r = room();
    let a = r.join(addr(1)).unwrap();
    drain(&mut r);
    let mut input = std::vec![b'x'; 100];
    input.extend_from_slice(b"\nok\n");
    assert_eq!(
        say(&mut r, a, &input),
        [
            format!("0: {STAMP} server\n* line longer than 64 bytes was not sent\n\n"),
            format!("all: {STAMP} 127.0.0.1:1\nok\n\n"),
        ]
    );
}

#[test]
fn input_waits_for_output_and_for_room_at_every_member() {
    let mut r = room();
    let a = r.join(addr(1)).unwrap();
    let b = r.join(addr(2)).unwrap();
    // Joins not yet taken: no input.
    assert_eq!(r.handle_input(a, b"x\n"), Ok((0, None)));
    drain(&mut r);
    r.report_space(b, 10, 5_000);
    assert!(!r.accepts_input());
    assert_eq!(r.handle_input(a, b"x\n"), Ok((0, None)));
    assert_eq!(r.poll_timeout(), Some(6_000));
    r.handle_timeout(5_999);
    assert_eq!(r.len(), 2);
    // Room again before the deadline: nothing happens.
    r.report_space(b, 4096, 5_500);
    assert_eq!(r.poll_timeout(), None);
    r.report_space(b, 0, 7_000);
    r.handle_timeout(8_000);
    assert_eq!(r.len(), 1);
    assert_eq!(
        drain(&mut r),
        [
            format!("1: \n{STAMP} server\n* you are disconnected: too slow: outgoing queue full\n\n"),
            format!("all: {STAMP} server\n* 127.0.0.1:2 was disconnected: too slow: outgoing queue full\n\n"),
            "reset 1".into(),
        ]
    );
    assert_eq!(r.handle_input(a, b"x\n"), Ok((2, Some(Event::Said))));
}

#[test]
fn a_driver_drop_and_a_failed_connection() {
    let mut r = room();
    let a = r.join(addr(1)).unwrap();
    let b = r.join(addr(2)).unwrap();
    drain(&mut r);
    assert!(r.is_member(a));
    r.slow(a).unwrap();
    assert!(!r.is_member(a));
    assert_eq!(r.slow(a), Err(Error::NotMember));
    r.leave(b, Some(DropReason::WriteFailed)).unwrap();
    let out = drain(&mut r);
    assert_eq!(out.len(), 5, "{out:?}");
    assert!(out[2].contains("127.0.0.1:2 was disconnected: write failed"));
    assert_eq!(&out[3..], ["reset 0", "close 1"]);
    assert!(r.is_empty());
}

/// Three members' scripts fed one member after the other, each split at
/// `cuts`; returns every output.
fn transcript(scripts: &[Vec<u8>; 3], cuts: &[usize]) -> Vec<String> {
    let mut r = room();
    let ids: Vec<MemberId> = (0..3).map(|i| r.join(addr(i)).unwrap()).collect();
    let mut out = drain(&mut r);
    for (id, script) in ids.iter().zip(scripts) {
        let mut at = 0;
        let mut pieces: Vec<&[u8]> = Vec::new();
        for c in cuts.iter().map(|c| c % (script.len() + 1)) {
            if c > at {
                pieces.push(&script[at..c]);
                at = c;
            }
        }
        pieces.push(&script[at..]);
        for p in pieces {
            match r.handle_input(*id, &[]) {
                Err(_) => break,
                Ok(_) => out.extend(say(&mut r, *id, p)),
            }
        }
        if r.handle_eof(*id).is_ok() {
            out.extend(drain(&mut r));
        }
    }
    out
}

proptest! {
    #[test]
    fn any_chunking_gives_the_same_frames(
        lines in proptest::collection::vec("(/nick [a-c]{1,3}|/who|quit|[ -~]{0,80}|\t)", 0..8),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut script: Vec<u8> = lines.join("\n").into_bytes();
        script.push(b'\n');
        let scripts = [script.clone(), script.clone(), script];
        let whole = transcript(&scripts, &[]);
        prop_assert_eq!(transcript(&scripts, &cuts), whole);
    }

    #[test]
    fn random_bytes_never_panic(
        a in proptest::collection::vec(any::<u8>(), 0..300),
        b in proptest::collection::vec(any::<u8>(), 0..300),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let scripts = [a, b.clone(), b];
        let out = transcript(&scripts, &cuts);
        // Every frame is whole (ends its body with an empty line).
        for o in out {
            let close = o.starts_with("close ") || o.starts_with("reset ");
            prop_assert!(close || o.ends_with("\n\n"), "{:?}", o);
        }
    }
}
