//! Unit and property tests of the chat room rules: the seed 003 line
//! format, commands, nicknames, over-long lines, `/who`, relays.

use super::*;
extern crate std;
use proptest::prelude::*;
use std::string::{String, ToString};
use std::vec::Vec;

fn now() -> Tm {
    // 2023-11-14 22:13:20 UTC
    Tm::from_unix(1_700_000_000, 0, "UTC")
}

fn peer(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Say(Vec<u8>),
    Quit,
    Blank,
    Nick(String),
    BadNick(NickError),
    Who,
    TooLong,
}

fn own(input: Input<'_>) -> Ev {
    match input {
        Input::Say(l) => Ev::Say(l.to_vec()),
        Input::Quit => Ev::Quit,
        Input::Blank => Ev::Blank,
        Input::Nick(n) => Ev::Nick(n.to_string()),
        Input::BadNick(e) => Ev::BadNick(e),
        Input::Who => Ev::Who,
    }
}

fn run(dec: &mut ChatDecoder, chunks: &[&[u8]]) -> Vec<Ev> {
    let mut out = Vec::new();
    for chunk in chunks {
        let mut input = *chunk;
        loop {
            let (used, ev) = dec.decode(input);
            input = &input[used..];
            match ev {
                None => break,
                Some(ChatEvent::Input(i)) => out.push(own(i)),
                Some(ChatEvent::TooLong { .. }) => out.push(Ev::TooLong),
            }
        }
        assert!(input.is_empty());
    }
    out
}

#[test]
fn seed_format_is_byte_exact() {
    // Seed 003 final server: "{:%Y/%m/%d %H:%M:%S} {}:{}\n{}\n" with the
    // readline() data still ending in "\n".
    let mut out = [0u8; MAX_MESSAGE];
    let n = write_message(
        &mut out,
        &now(),
        Sender::Peer(peer("127.0.0.1:5")),
        b"I'm ready.",
    )
    .unwrap();
    assert_eq!(
        &out[..n],
        b"2023/11/14 22:13:20 127.0.0.1:5\nI'm ready.\n\n"
    );
    // Python's "{}:{}".format(*client) on an IPv6 tuple: no brackets.
    let n = write_message(&mut out, &now(), Sender::Peer(peer("[::1]:4000")), b"x").unwrap();
    assert_eq!(&out[..n], b"2023/11/14 22:13:20 ::1:4000\nx\n\n");
    let n = write_message(&mut out, &now(), Sender::Nick("alice"), b"").unwrap();
    assert_eq!(&out[..n], b"2023/11/14 22:13:20 alice\n\n\n");
}

#[test]
fn notices_use_the_same_frame() {
    let mut out = [0u8; MAX_MESSAGE];
    let who = Sender::Peer(peer("127.0.0.1:7"));
    let n = write_notice(&mut out, &now(), Notice::Joined { who, online: 3 }).unwrap();
    assert_eq!(
        &out[..n],
        b"2023/11/14 22:13:20 server\n* 127.0.0.1:7 joined (3 online)\n\n"
    );
    let n = write_notice(&mut out, &now(), Notice::Stopping).unwrap();
    assert_eq!(
        &out[..n],
        b"2023/11/14 22:13:20 server\n* server is stopping\n\n"
    );
    let n = write_notice(
        &mut out,
        &now(),
        Notice::Dropped(Sender::Nick("bob"), DropReason::SlowReader),
    )
    .unwrap();
    assert_eq!(
        &out[..n],
        b"2023/11/14 22:13:20 server\n* bob was disconnected: too slow: outgoing queue full\n\n"
    );
    let n = write_notice(
        &mut out,
        &now(),
        Notice::Renamed {
            from: who,
            to: "al",
        },
    )
    .unwrap();
    assert!(out[..n].ends_with(b"* 127.0.0.1:7 is now al\n\n"));
    assert_eq!(
        write_notice(&mut out[..20], &now(), Notice::Stopping),
        Err(Overflow)
    );
}

#[test]
fn commands_are_recognised_like_the_seed() {
    assert_eq!(parse_line(b"quit"), Input::Quit);
    assert_eq!(parse_line(b"  quit \r"), Input::Quit);
    assert_eq!(parse_line(b"quit now"), Input::Say(b"quit now"));
    assert_eq!(parse_line(b"QUIT"), Input::Say(b"QUIT"));
    assert_eq!(parse_line(b""), Input::Blank);
    assert_eq!(parse_line(b" \t\r"), Input::Blank);
    assert_eq!(parse_line(b"/who"), Input::Who);
    assert_eq!(parse_line(b"/nick  alice "), Input::Nick("alice"));
    assert_eq!(parse_line(b"/nick"), Input::BadNick(NickError::Empty));
    assert_eq!(parse_line(b"/nick a:b"), Input::BadNick(NickError::BadChar));
    assert_eq!(
        parse_line(b"/nick Server"),
        Input::BadNick(NickError::Reserved)
    );
    assert_eq!(
        parse_line(b"/usr/bin is a path"),
        Input::Say(b"/usr/bin is a path")
    );
    // The text keeps inner and leading spaces; only the "\r" of "\r\n" goes.
    assert_eq!(parse_line(b"  hi there\r"), Input::Say(b"  hi there"));
}

#[test]
fn nick_validation() {
    assert_eq!(validate_nick(b"a-b_9"), Ok("a-b_9"));
    assert_eq!(validate_nick(&[b'x'; MAX_NICK]).map(str::len), Ok(MAX_NICK));
    assert_eq!(
        validate_nick(&[b'x'; MAX_NICK + 1]),
        Err(NickError::TooLong)
    );
    assert_eq!(validate_nick("名字".as_bytes()), Err(NickError::BadChar));
    assert_eq!(validate_nick(b"1.2.3.4"), Err(NickError::BadChar));
    assert_eq!(validate_nick(b""), Err(NickError::Empty));
}

#[test]
fn over_long_line_is_rejected_and_stream_continues() {
    let mut dec = ChatDecoder::new(8);
    assert_eq!(dec.max_line(), 8);
    let out = run(&mut dec, &[b"12345678\n123456789\nok\n", b"quit\n"]);
    assert_eq!(
        out,
        [
            Ev::Say(b"12345678".to_vec()),
            Ev::TooLong,
            Ev::Say(b"ok".to_vec()),
            Ev::Quit
        ]
    );
    assert_eq!(dec.finish(), None);
    assert_eq!(ChatDecoder::new(usize::MAX).max_line(), MAX_LINE);
    assert_eq!(ChatDecoder::new(0).max_line(), 1);
}

#[test]
fn unterminated_last_line_is_still_said() {
    let mut dec = ChatDecoder::default();
    assert_eq!(run(&mut dec, &[b"a\nbye"]), [Ev::Say(b"a".to_vec())]);
    assert_eq!(dec.finish(), Some(Input::Say(b"bye")));
    let mut dec = ChatDecoder::default();
    let _ = run(&mut dec, &[b"a\n  "]);
    assert_eq!(dec.finish(), None);
}

#[test]
fn who_lists_members_and_summarises_the_rest() {
    let mut out = [0u8; MAX_MESSAGE];
    let members = [Sender::Nick("a"), Sender::Peer(peer("127.0.0.1:9"))];
    let n = write_who(&mut out, &now(), 2, members).unwrap();
    assert_eq!(
        &out[..n],
        b"2023/11/14 22:13:20 server\n* online (2): a, 127.0.0.1:9\n\n"
    );
    let many = core::iter::repeat_n(Sender::Nick("abcdefghijklmnopqrstuvwx"), 10_000);
    let n = write_who(&mut out, &now(), 10_000, many).unwrap();
    assert!(n <= MAX_MESSAGE);
    let text = core::str::from_utf8(&out[..n]).unwrap();
    assert!(text.ends_with(" more\n\n"), "{text}");
    let shown = text.matches("abcdefghijklmnopqrstuvwx").count();
    assert!(text.contains(&std::format!("and {} more", 10_000 - shown)));
}

fn relayed(line: &[u8], relay: Relay) -> Vec<u8> {
    let mut out = [0u8; MAX_MESSAGE];
    let n = write_message_as(&mut out, &now(), Sender::Nick("a"), line, relay).unwrap();
    let body = &out[..n];
    let start = body.iter().position(|b| *b == b'\n').unwrap() + 1;
    body[start..n - 2].to_vec()
}

#[test]
fn escape_sequences_are_stripped_by_default() {
    let attack = b"\x1b]0;pwned\x07\x1b[2Jhello\tworld\rX\x7f";
    assert_eq!(relayed(attack, Relay::Strip), b"]0;pwned[2Jhello\tworldX");
    assert_eq!(relayed(attack, Relay::Raw), attack);
    // C1 as UTF-8 (U+009B, CSI) and as a raw 8-bit byte; other text stays.
    let c1 = "a\u{9b}2Jb é 日".as_bytes();
    assert_eq!(relayed(c1, Relay::Strip), "a2Jb é 日".as_bytes());
    assert_eq!(relayed(b"a\x9b2J\xffb", Relay::Strip), b"a2J\xffb");
}

#[test]
fn a_line_of_only_controls_is_blank_when_stripped() {
    assert_eq!(
        parse_line_as(b"\x1b[2J", Relay::Strip),
        Input::Say(b"\x1b[2J")
    );
    assert_eq!(parse_line_as(b"\x1b\x07 \x1b", Relay::Strip), Input::Blank);
    assert_eq!(
        parse_line_as(b"\x1b\x07 \x1b", Relay::Raw),
        Input::Say(b"\x1b\x07 \x1b")
    );
    let mut dec = ChatDecoder::new(64);
    assert_eq!(run(&mut dec, &[b"\x07\n"]), [Ev::Blank]);
    let mut dec = ChatDecoder::with_relay(64, Relay::Raw);
    assert_eq!(run(&mut dec, &[b"\x07\n"]), [Ev::Say(b"\x07".to_vec())]);
}

proptest! {
    #[test]
    fn stripped_lines_hold_no_control_character(
        line in prop::collection::vec(any::<u8>().prop_filter("nl", |b| *b != b'\n'), 0..=MAX_LINE),
    ) {
        let out = relayed(&line, Relay::Strip);
        for chunk in out.utf8_chunks() {
            prop_assert!(!chunk.valid().chars().any(|c| c.is_control() && c != '\t'));
            prop_assert!(!chunk.invalid().iter().any(|b| (0x80..=0x9f).contains(b)));
        }
        // Text without controls is relayed unchanged.
        if core::str::from_utf8(&line).is_ok_and(|s| !s.chars().any(|c| c.is_control() && c != '\t')) {
            prop_assert_eq!(out, line);
        }
    }

    #[test]
    fn any_chunking_decodes_the_same(
        lines in prop::collection::vec(prop::collection::vec(any::<u8>().prop_filter("nl", |b| *b != b'\n'), 0..40), 0..8),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut stream = Vec::new();
        for l in &lines { stream.extend_from_slice(l); stream.push(b'\n'); }
        let whole = run(&mut ChatDecoder::new(30), &[&stream]);
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for p in points { chunks.push(&stream[last..p]); last = p; }
        chunks.push(&stream[last..]);
        prop_assert_eq!(run(&mut ChatDecoder::new(30), &chunks), whole.clone());
        let expect: Vec<Ev> = lines.iter().map(|l| if l.len() > 30 { Ev::TooLong } else { own(parse_line_as(l, Relay::Strip)) }).collect();
        prop_assert_eq!(whole, expect);
    }

    #[test]
    fn said_lines_round_trip_through_the_frame(
        line in prop::collection::vec(any::<u8>().prop_filter("nl", |b| *b != b'\n'), 0..=MAX_LINE),
        port in any::<u16>(),
        unix in -10_000_000_000i64..10_000_000_000,
    ) {
        let tm = Tm::from_unix(unix, 0, "UTC");
        let mut out = [0u8; MAX_MESSAGE];
        let v6 = SocketAddr::from(([0xffffu16; 8], port));
        let n = write_message(&mut out, &tm, Sender::Peer(v6), &line).unwrap();
        let frame = &out[..n];
        let head_end = frame.iter().position(|b| *b == b'\n').unwrap();
        prop_assert_eq!(&frame[head_end + 1..n - 2], &line[..]);
        prop_assert!(frame.ends_with(b"\n\n"));
    }

    #[test]
    fn parse_never_panics_and_say_keeps_the_text(line in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Input::Say(text) = parse_line(&line) {
            prop_assert!(line.starts_with(text));
            prop_assert!(!text.trim_ascii().is_empty());
        }
    }
}
