use super::*;
extern crate std;
use proptest::prelude::*;
use std::string::String;
use std::vec::Vec;

fn msg(kind: Kind<'_>) -> BusMessage<'_> {
    BusMessage {
        room: "lobby",
        node: "n-1",
        id: 42,
        unix_ms: 1_700_000_000_123,
        origin: "127.0.0.1:5000".parse().unwrap(),
        nick: None,
        kind,
    }
}

fn encoded(m: &BusMessage<'_>) -> Vec<u8> {
    let mut buf = [0u8; MAX_BUS_MESSAGE];
    let n = m.encode(&mut buf).unwrap();
    buf[..n].to_vec()
}

#[test]
fn line_wire_format() {
    let m = msg(Kind::Line("hello world"));
    assert_eq!(
        encoded(&m),
        b"wkc1 line lobby n-1 42 1700000000123 127.0.0.1:5000 - -\nhello world"
    );
}

#[test]
fn every_kind_roundtrips() {
    let kinds = [
        Kind::Line(""),
        Kind::Line("caf\u{e9} \u{fffd}\t\r"),
        Kind::Join { online: 3 },
        Kind::Leave(None),
        Kind::Leave(Some(DropReason::SlowReader)),
        Kind::Leave(Some(DropReason::WriteFailed)),
        Kind::Leave(Some(DropReason::ReadFailed)),
        Kind::Nick("bob"),
        Kind::Drops { count: 12 },
        Kind::Leaves { count: 40 },
    ];
    for kind in kinds {
        for nick in [None, Some("al-ice_1")] {
            let mut m = msg(kind);
            m.nick = nick;
            m.origin = "[::1]:65535".parse().unwrap();
            let bytes = encoded(&m);
            assert_eq!(BusMessage::decode(&bytes), Ok(m), "{kind:?}");
        }
    }
}

#[test]
fn foreign_and_broken_messages_are_rejected() {
    let bad: &[(&[u8], BusError)] = &[
        (b"", BusError::Foreign),
        (b"hello", BusError::Foreign),
        (b"garbage\n", BusError::Foreign),
        (b"wkc2 line r n 1 1 1.2.3.4:5 - -\nx", BusError::Foreign),
        (b"wkc1 line r n 1 1 1.2.3.4:5 -\nx", BusError::Foreign),
        (b"wkc1 line r n 1 1 1.2.3.4:5 - - x\nx", BusError::Foreign),
        (b"wkc1 shout r n 1 1 1.2.3.4:5 - -\n", BusError::Foreign),
        (
            b"wkc1 line r.x n 1 1 1.2.3.4:5 - -\nx",
            BusError::BadField("room"),
        ),
        (
            b"wkc1 line r n* 1 1 1.2.3.4:5 - -\nx",
            BusError::BadField("node"),
        ),
        (
            b"wkc1 line r n -1 1 1.2.3.4:5 - -\nx",
            BusError::BadField("id"),
        ),
        (
            b"wkc1 line r n 1 99999999999999999999 1.2.3.4:5 - -\n",
            BusError::BadField("time"),
        ),
        (
            b"wkc1 line r n 1 253402300800000 1.2.3.4:5 - -\n",
            BusError::BadField("time"),
        ),
        (
            b"wkc1 line r n 1 1 1.2.3.4 - -\nx",
            BusError::BadField("origin"),
        ),
        (
            b"wkc1 line r n 1 1 1.2.3.4:5 server -\nx",
            BusError::BadField("nick"),
        ),
        (
            b"wkc1 line r n 1 1 1.2.3.4:5 - 1\nx",
            BusError::BadField("arg"),
        ),
        (
            b"wkc1 line r n 1 1 1.2.3.4:5 - -\na\nb",
            BusError::BadField("text"),
        ),
        (b"wkc1 line r n 1 1 1.2.3.4:5 - -\n\xff", BusError::NotUtf8),
        (
            b"wkc1 join r n 1 1 1.2.3.4:5 - 4294967296\n",
            BusError::BadField("arg"),
        ),
        (
            b"wkc1 join r n 1 1 1.2.3.4:5 - 1\nbody",
            BusError::BadField("text"),
        ),
        (
            b"wkc1 leave r n 1 1 1.2.3.4:5 - gone\n",
            BusError::BadField("arg"),
        ),
        (b"wkc1 nick r n 1 1 1.2.3.4:5 - a b\n", BusError::Foreign),
        (
            b"wkc1 nick r n 1 1 1.2.3.4:5 - server\n",
            BusError::BadField("arg"),
        ),
        (b"wkc1\xff line\n", BusError::Foreign),
    ];
    for (bytes, want) in bad {
        assert_eq!(
            BusMessage::decode(bytes),
            Err(*want),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn lengths_are_bounded() {
    let long_room = "r".repeat(MAX_NAME + 1);
    let mut m = msg(Kind::Join { online: 1 });
    m.room = &long_room;
    let mut buf = [0u8; MAX_BUS_MESSAGE];
    assert_eq!(m.encode(&mut buf), Err(BusError::BadField("room")));
    let text = "x".repeat(MAX_TEXT);
    let m = msg(Kind::Line(&text));
    let n = m.encode(&mut buf).unwrap();
    assert_eq!(BusMessage::decode(&buf[..n]), Ok(m));
    let text = "x".repeat(MAX_TEXT + 1);
    assert_eq!(
        msg(Kind::Line(&text)).encode(&mut buf),
        Err(BusError::TooLong)
    );
    let mut huge = b"wkc1 line r n 1 1 1.2.3.4:5 - -\n".to_vec();
    huge.resize(MAX_BUS_MESSAGE + 1, b'x');
    assert_eq!(BusMessage::decode(&huge), Err(BusError::TooLong));
    let mut long_head = b"wkc1 ".to_vec();
    long_head.resize(MAX_HEADER + 1, b'x');
    long_head.push(b'\n');
    assert_eq!(BusMessage::decode(&long_head), Err(BusError::TooLong));
    let mut small = [0u8; 16];
    assert_eq!(
        msg(Kind::Line("hi")).encode(&mut small),
        Err(BusError::Overflow)
    );
}

#[test]
fn subjects_name_valid_rooms_only() {
    assert_eq!(room_of_subject("wirekit.chat.lobby"), Some("lobby"));
    assert_eq!(room_of_subject("wirekit.chat.a.b"), None);
    assert_eq!(room_of_subject("wirekit.chat."), None);
    assert_eq!(room_of_subject("other.lobby"), None);
}

#[test]
fn frames_are_the_seed_format() {
    let now = Tm::from_unix(1_700_000_000, 0, "UTC");
    let mut out = [0u8; MAX_FRAME];
    let cases: &[(Kind<'_>, Option<&str>, &str)] = &[
        (Kind::Line("hi"), None, "127.0.0.1:5000\nhi\n\n"),
        (Kind::Line("a\u{1b}[2Jb"), Some("al"), "al\na[2Jb\n\n"),
        (
            Kind::Join { online: 4 },
            None,
            "server\n* 127.0.0.1:5000 joined (4 online)\n\n",
        ),
        (Kind::Leave(None), Some("al"), "server\n* al left\n\n"),
        (
            Kind::Leave(Some(DropReason::SlowReader)),
            None,
            "server\n* 127.0.0.1:5000 was disconnected: too slow: outgoing queue full\n\n",
        ),
        (Kind::Nick("bo"), Some("al"), "server\n* al is now bo\n\n"),
        (
            Kind::Drops { count: 9 },
            None,
            "server\n* 9 clients were disconnected: too slow: outgoing queue full\n\n",
        ),
        (
            Kind::Leaves { count: 40 },
            None,
            "server\n* 40 clients left\n\n",
        ),
    ];
    for (kind, nick, want) in cases {
        let mut m = msg(*kind);
        m.nick = *nick;
        let n = write_frame(&mut out, &now, &m, Relay::Strip).unwrap();
        let text = core::str::from_utf8(&out[..n]).unwrap();
        assert_eq!(text.strip_prefix("2023/11/14 22:13:20 "), Some(*want));
    }
    // The largest valid line fits MAX_FRAME.
    let text = "\u{fffd}".repeat(MAX_TEXT / 3);
    let mut m = msg(Kind::Line(&text));
    m.nick = Some("abcdefghijklmnopqrstuvwx");
    assert!(write_frame(&mut out, &now, &m, Relay::Raw).is_ok());
}

fn arb_kind() -> impl Strategy<Value = (u8, String, u32)> {
    (0u8..10, "[a-zA-Z0-9 \u{e9}\u{fffd}\t-]{0,64}", any::<u32>())
}

proptest! {
    #[test]
    fn random_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = BusMessage::decode(&bytes);
        // Also behind a valid-looking header.
        let mut m = b"wkc1 line r n 1 1 1.2.3.4:5 - -\n".to_vec();
        m.extend_from_slice(&bytes);
        if let Ok(msg) = BusMessage::decode(&m) {
            let mut out = [0u8; MAX_FRAME];
            let now = Tm::from_unix(0, 0, "UTC");
            prop_assert!(write_frame(&mut out, &now, &msg, Relay::Strip).is_ok());
        }
    }

    #[test]
    fn header_mutations_never_panic(i in 0usize..40, b in any::<u8>()) {
        let mut m = b"wkc1 join room node 12 34 [::1]:80 nick 5\n".to_vec();
        let i = i % m.len();
        m[i] = b;
        if let Ok(msg) = BusMessage::decode(&m) {
            let mut buf = [0u8; MAX_BUS_MESSAGE];
            let n = msg.encode(&mut buf).unwrap();
            prop_assert_eq!(BusMessage::decode(&buf[..n]), Ok(msg));
        }
    }

    #[test]
    fn encode_decode_roundtrip(
        (k, text, num) in arb_kind(),
        id in any::<u64>(),
        ms in 0..=MAX_UNIX_MS,
        port in any::<u16>(),
        v6 in any::<bool>(),
        named in any::<bool>(),
    ) {
        let origin: SocketAddr = match v6 {
            true => SocketAddr::from(([0xfe80, 0, 0, 0, 0, 0, 0, 1], port)),
            false => SocketAddr::from(([10, 0, 0, 1], port)),
        };
        let reason = [None, Some(DropReason::SlowReader), Some(DropReason::ReadFailed)];
        let kind = match k {
            0..=3 => Kind::Line(&text),
            4 => Kind::Join { online: num },
            5 => Kind::Leave(reason[num as usize % 3]),
            6 => Kind::Nick("new_nick"),
            7 => Kind::Drops { count: num },
            _ => Kind::Leaves { count: num },
        };
        let m = BusMessage {
            room: "room-1",
            node: "abcdef0123456789",
            id,
            unix_ms: ms,
            origin,
            nick: named.then_some("old"),
            kind,
        };
        let mut buf = [0u8; MAX_BUS_MESSAGE];
        let n = m.encode(&mut buf).unwrap();
        prop_assert_eq!(BusMessage::decode(&buf[..n]), Ok(m));
    }
}
