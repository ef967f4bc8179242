//! The host's room and the board's room ([`wirekit_core::session::chat::Room`])
//! decide through the same core rules, so for any script of members'
//! input they must send every member the same frames. This drives both
//! with random scripts and compares, member by member.

use std::net::SocketAddr;

use proptest::prelude::*;
use tokio::sync::mpsc::Receiver;
use wirekit_core::service::chat::{ChatDecoder, ChatEvent, Relay};
use wirekit_core::session::chat::rules::{self, Decision};
use wirekit_core::session::chat::{self as board, Dest, MemberId, Output};
use wirekit_core::strftime::Tm;

use super::room::{Frame, Room, RoomConfig};

const MEMBERS: usize = 3;
/// The board room's line capacity `L`: lines of at most 64 bytes.
const L: usize = 65;
type Board = board::Room<4, L, 8>;

fn tm() -> Tm {
    Tm::from_unix(1_700_000_000, 0, "UTC")
}

fn peer(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40_000 + i as u16))
}

/// What members type: commands, clashing nicknames, blanks, a line over
/// the limit, and text split anywhere.
fn chunk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"hello\n".to_vec()),
        Just(b"/nick ann\n".to_vec()),
        Just(b"/nick ANN\n".to_vec()),
        Just(b"/nick bo\n".to_vec()),
        Just(b"/nick server\n".to_vec()),
        Just(b"/nick \n".to_vec()),
        Just(b"/who\n".to_vec()),
        Just(b"  \r\n".to_vec()),
        Just(b"quit\n".to_vec()),
        Just([vec![b'x'; 70], b"\n".to_vec()].concat()),
        Just(b"half a ".to_vec()),
        Just(b"line\r\n".to_vec()),
    ]
}

/// The host room driven as `session.rs` drives it (a decoder per member,
/// `act`, `leave` on quit); returns each member's frames as text.
fn host(script: &[(usize, Vec<u8>)]) -> Vec<Vec<String>> {
    let config = RoomConfig {
        queue: 4096,
        max_line: L - 1,
        relay: Relay::Strip,
        history: 0,
    };
    let room = Room::new(config, tm);
    let mut members: Vec<_> = (0..MEMBERS).map(|i| Some(room.join(peer(i)))).collect();
    let mut decoders: Vec<_> = (0..MEMBERS)
        .map(|_| ChatDecoder::with_relay(L - 1, Relay::Strip))
        .collect();
    let mut seen = vec![Vec::new(); MEMBERS];
    let mut rx: Vec<Receiver<Frame>> = Vec::new();
    for m in members.iter_mut().flatten() {
        let (_, dummy) = tokio::sync::mpsc::channel(1);
        rx.push(std::mem::replace(&mut m.frames, dummy));
    }
    for (who, bytes) in script {
        let Some(m) = &members[*who] else { continue };
        let id = m.id;
        let mut input = &bytes[..];
        let mut quit = false;
        while !input.is_empty() && !quit {
            let (used, ev) = decoders[*who].decode(input);
            match ev {
                Some(ChatEvent::Input(line)) => quit = room.act(id, line).is_some(),
                Some(ChatEvent::TooLong { limit }) => {
                    if let Decision::Refuse(n) = rules::too_long(limit) {
                        room.notify(id, n);
                    }
                }
                None => {}
            }
            input = &input[used..];
        }
        if quit {
            room.leave(id, None);
            members[*who] = None;
        }
    }
    for (i, r) in rx.iter_mut().enumerate() {
        while let Ok(f) = r.try_recv() {
            seen[i].push(String::from_utf8_lossy(&f).into_owned());
        }
    }
    seen
}

/// The board room, its outputs routed to members as the firmware does.
fn board(script: &[(usize, Vec<u8>)]) -> Vec<Vec<String>> {
    let mut room = Board::new(board::RoomConfig {
        relay: Relay::Strip,
        slow_ms: 1000,
    });
    let mut seen = vec![Vec::new(); MEMBERS];
    let mut ids = Vec::new();
    for i in 0..MEMBERS {
        ids.push(room.join(peer(i)).expect("a free seat"));
        drain(&mut room, &ids, &mut seen);
    }
    for (who, bytes) in script {
        let mut input = &bytes[..];
        while !input.is_empty() && room.is_member(ids[*who]) {
            let Ok((used, _)) = room.handle_input(ids[*who], input) else {
                break;
            };
            input = &input[used..];
            drain(&mut room, &ids, &mut seen);
        }
    }
    seen
}

fn drain(room: &mut Board, ids: &[MemberId], seen: &mut [Vec<String>]) {
    let mut buf = [0u8; Board::frame_cap()];
    while let Some(out) = room.poll_output(&tm(), &mut buf) {
        let Output::Transmit { to, len } = out else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
        for (i, id) in ids.iter().enumerate() {
            let to_it = match to {
                Dest::All => room.is_member(*id),
                Dest::One(one) => one == *id,
            };
            if to_it {
                seen[i].push(text.clone());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn host_and_board_rooms_send_the_same_frames(
        script in proptest::collection::vec((0..MEMBERS, chunk()), 0..40),
    ) {
        prop_assert_eq!(host(&script), board(&script));
    }
}
