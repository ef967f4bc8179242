//! The files client session without sockets: the exact requests, each
//! exchange's events, refusals and broken replies, and any chunking of
//! the server's bytes.

extern crate std;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::service::file::access::{auth_ok, challenge_reply};
use crate::service::file::native::{
    end_header, error_reply, file_reply, get_reply, list_reply, ready_reply,
};
use crate::session::files::SHUTTING_DOWN;

type C = FilesClient;

/// Frames as a server would send them.
fn wire(frames: &[(Fields<'_>, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (h, body) in frames {
        let mut buf = [0u8; 4096];
        let n = emit_frame_header(h, &mut buf).unwrap();
        out.extend_from_slice(&buf[..n]);
        out.extend_from_slice(body);
    }
    out
}

/// Everything the session wants to send now.
fn sent(c: &mut C) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 97];
    loop {
        let n = c.poll_output(&mut buf);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// A driver: feeds `input` in reads of `chunk` bytes, answers the
/// session's questions (token, offset, md5) as a host does, and records
/// the events (data joined) and the requests sent after the first.
fn run(c: &mut C, input: &[u8], chunk: usize) -> Vec<String> {
    let mut log = Vec::new();
    let mut file: Vec<u8> = Vec::new();
    let mut all: Vec<u8> = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut reads = input.chunks(chunk.max(1));
    loop {
        let out = sent(c);
        if !out.is_empty() {
            log.push(format!("sent {}", String::from_utf8_lossy(&out[4..])));
        }
        let (used, ev) = match c.handle_input(&pending) {
            Ok(r) => r,
            Err(e) => {
                log.push(format!("error {e}"));
                return log;
            }
        };
        let more = used > 0 || ev.is_some();
        let mut answer = None;
        match ev {
            Some(ClientEvent::Data(b) | ClientEvent::ListData(b)) => {
                file.extend_from_slice(b);
                all.extend_from_slice(b);
            }
            Some(e) => {
                if !file.is_empty() {
                    log.push(format!("data {:?}", String::from_utf8_lossy(&file)));
                    file.clear();
                }
                log.push(format!("{e:?}"));
                answer = match e {
                    ClientEvent::Challenge => Some(0),
                    ClientEvent::Ready { offset, .. } => Some(offset + 1),
                    ClientEvent::Received { .. } => Some(u64::MAX),
                    _ => None,
                };
            }
            None => {}
        }
        pending.drain(..used);
        match answer {
            Some(0) => c.authenticate(b"0123456789abcdef", b"").unwrap(),
            Some(u64::MAX) => {
                let r = c.finish_get(Digest::of(&all));
                log.push(format!("finish {r:?}"));
            }
            Some(o) => {
                let offset = o - 1;
                c.send_from(offset).unwrap();
                let body = b"0123456789";
                c.send_body(body.len() - offset as usize).unwrap();
                c.end_body(Digest::of(body)).unwrap();
            }
            None => {}
        }
        if more {
            continue;
        }
        match reads.next() {
            Some(r) => pending.extend_from_slice(r),
            None => {
                log.push(format!("eof {:?}", c.handle_eof()));
                return log;
            }
        }
    }
}

fn segmented_get(data: &[u8], seg: usize) -> Vec<u8> {
    let mut frames: Vec<(Fields<'_>, &[u8])> =
        std::vec![(segments::reply(data.len() as u64, 0, 7), &b""[..])];
    for s in data.chunks(seg.max(1)) {
        frames.push((segments::segment_header(s.len() as u64), s));
    }
    frames.push((end_header(Digest::of(data)), b""));
    wire(&frames)
}

#[test]
fn get_asks_in_segments_and_reports_the_bytes() {
    let mut c = C::new();
    c.get("dir/a.txt", 0).unwrap();
    assert_eq!(
        &sent(&mut c)[4..],
        br#"{"op":"get-segmented","total_size":0,"filename":"dir/a.txt"}"#
    );
    let log = run(&mut c, &segmented_get(b"hello world", 4), 5);
    assert_eq!(
        log,
        [
            "Started { size: 11, offset: 0, mtime: Some(7) }",
            "data \"hello world\"",
            "Received { md5: Digest(5eb63bbbe01eeed093cb22bb8f5acdc3) }",
            "finish Ok(Digest(5eb63bbbe01eeed093cb22bb8f5acdc3))",
            "eof Ok(())",
        ]
    );
    assert!(c.is_idle());
}

#[test]
fn an_old_server_gets_a_plain_get_from_the_same_offset() {
    let mut c = C::new();
    c.get("a", 3).unwrap();
    sent(&mut c);
    let mut reply = get_reply(6, 3, 9);
    reply.total_size = 3;
    let input = wire(&[
        (
            error_reply("get-segmented", "unknown operation (get, put)"),
            b"",
        ),
        (reply, b"def"),
        (end_header(Digest::of(b"def")), b""),
    ]);
    let log = run(&mut c, &input, 1);
    assert_eq!(
        log[0],
        r#"sent {"op":"get","total_size":0,"filename":"a","offset":3}"#
    );
    assert_eq!(log[1], "Started { size: 6, offset: 3, mtime: Some(9) }");
    assert_eq!(log[2], "data \"def\"");
}

#[test]
fn refusals_and_broken_transfers_end_the_get() {
    let cases: [(Vec<u8>, &str); 5] = [
        (
            wire(&[(error_reply("get", "a: no such file"), b"")]),
            "error server refused: a: no such file",
        ),
        (
            wire(&[
                (segments::reply(5, 0, 0), b""),
                (error_reply("end", SHUTTING_DOWN), b""),
            ]),
            "error the server is shutting down",
        ),
        (
            wire(&[(segments::reply(9, 2, 0), b"")]),
            "error server answered for offset Some(2), asked 0",
        ),
        (
            wire(&[
                (segments::reply(5, 0, 0), b""),
                (segments::segment_header(6), b"abcdef"),
            ]),
            "error the server sent more bytes than it announced",
        ),
        (
            segmented_get(b"abcdef", 2)[..60].to_vec(),
            "eof Err(Closed(\"mid-transfer\"))",
        ),
    ];
    for (input, want) in cases {
        let mut c = C::new();
        c.get("a", 0).unwrap();
        sent(&mut c);
        let log = run(&mut c, &input, 7);
        assert_eq!(log.last().unwrap(), want, "{log:?}");
    }
    assert_eq!(
        ClientError::Closed("mid-transfer").to_string(),
        "server closed the connection mid-transfer"
    );
}

#[test]
fn a_wrong_md5_is_a_mismatch_and_the_session_stays_usable() {
    let mut c = C::new();
    c.get("a", 0).unwrap();
    sent(&mut c);
    let mut input = segmented_get(b"abc", 3);
    // Replace the trailer's md5 with another one.
    let wrong = Digest::of(b"abd").to_string();
    let good = Digest::of(b"abc").to_string();
    let text = String::from_utf8_lossy(&input).replace(&good, &wrong);
    input = text.into_bytes();
    let log = run(&mut c, &input, 64);
    assert!(log[3].starts_with("finish Err(Md5Mismatch"), "{log:?}");
    assert!(c.is_idle());
    c.stat("a").unwrap();
}

#[test]
fn put_with_the_token_exchange_and_a_kept_prefix() {
    let mut c = C::new();
    c.login().unwrap();
    assert_eq!(&sent(&mut c)[4..], br#"{"op":"challenge","total_size":0}"#);
    let nonce = "ab".repeat(32);
    let input = wire(&[(challenge_reply(&nonce), b""), (auth_ok(), b"")]);
    let log = run(&mut c, &input, 3);
    assert_eq!(log[0], "Challenge");
    assert!(
        log[1].starts_with(r#"sent {"op":"auth","total_size":0,"token":""#),
        "{log:?}"
    );
    assert_eq!(log[2], "Authenticated");
    c.put("n.bin", 10, false, true).unwrap();
    assert_eq!(
        &sent(&mut c)[4..],
        br#"{"op":"put","total_size":0,"filename":"n.bin","size":10,"resume":true}"#
    );
    let md5 = Digest::of(b"0123456789");
    let input = wire(&[
        (ready_reply(4, Some(Digest::of(b"0123"))), b""),
        (file_reply("put", 10, md5, None), b""),
    ]);
    let log = run(&mut c, &input, 2);
    assert!(log[0].starts_with("Ready { offset: 4"), "{log:?}");
    assert!(
        log[1].starts_with(r#"sent {"op":"data","total_size":6,"offset":4}"#),
        "{log:?}"
    );
    assert!(log[1].contains(r#""op":"end""#), "{log:?}");
    assert_eq!(log[2], format!("Stored {{ size: Some(10), md5: {md5:?} }}"));
}

#[test]
fn put_checks_the_stored_md5_and_the_body_length() {
    let mut c = C::new();
    c.put("n", 10, false, false).unwrap();
    sent(&mut c);
    let input = wire(&[
        (ready_reply(0, None), b""),
        (file_reply("put", 10, Digest::of(b"x"), None), b""),
    ]);
    let log = run(&mut c, &input, 100);
    assert!(log
        .last()
        .unwrap()
        .starts_with("error server stored a different md5 (Some(Digest("));
    let mut c = C::new();
    c.put("n", 3, false, false).unwrap();
    let ready = wire(&[(ready_reply(0, None), b"")]);
    let (_, ev) = c.handle_input(&ready).unwrap();
    assert_eq!(
        ev,
        Some(ClientEvent::Ready {
            offset: 0,
            prefix: None
        })
    );
    c.send_from(0).unwrap();
    assert_eq!(c.send_body(4), Err(ClientError::BodyLength { left: 0 }));
    let mut c = C::new();
    c.put("n", 3, false, false).unwrap();
    c.handle_input(&wire(&[(ready_reply(0, None), b"")]))
        .unwrap();
    c.send_from(0).unwrap();
    c.send_body(2).unwrap();
    assert_eq!(
        c.end_body(Digest::of(b"ab")),
        Err(ClientError::BodyLength { left: 1 })
    );
    assert_eq!(c.send_from(0), Err(ClientError::OutOfOrder("send_from")));
}

#[test]
fn a_refused_proof_and_a_bad_nonce_end_the_exchange() {
    let mut c = C::new();
    c.login().unwrap();
    let log = run(&mut c, &wire(&[(challenge_reply("xyz"), b"")]), 50);
    assert_eq!(
        log.last().unwrap(),
        "error bad reply from the server: the server's challenge has no valid nonce"
    );
    let mut c = C::new();
    c.login().unwrap();
    let input = wire(&[
        (challenge_reply(&"0".repeat(64)), b""),
        (error_reply("auth", "wrong token"), b""),
    ]);
    let log = run(&mut c, &input, 50);
    assert_eq!(log.last().unwrap(), "error server refused: wrong token");
}

#[test]
fn list_and_stat() {
    let mut c = C::new();
    c.list(Some("sub")).unwrap();
    assert_eq!(
        &sent(&mut c)[4..],
        br#"{"op":"list","total_size":0,"filename":"sub"}"#
    );
    let body = b"{\"name\":\"a\",\"size\":1}\n";
    let log = run(
        &mut c,
        &wire(&[(list_reply(body.len() as u64, true), body)]),
        9,
    );
    assert_eq!(
        log[0],
        format!("Listing {{ len: {}, truncated: true }}", body.len())
    );
    assert_eq!(log[2], "ListEnd");
    c.stat("a").unwrap();
    sent(&mut c);
    let log = run(
        &mut c,
        &wire(&[(file_reply("stat", 1, Digest::of(b"a"), Some(5)), b"")]),
        9,
    );
    assert!(
        log[0].starts_with("Stat(FileInfo { size: 1, mtime: Some(5)"),
        "{log:?}"
    );
    let mut c = C::new();
    c.list(None).unwrap();
    let log = run(
        &mut c,
        &wire(&[(list_reply(MAX_LISTING + 1, false), b"")]),
        9,
    );
    assert!(log.last().unwrap().contains("exceeds"), "{log:?}");
}

#[test]
fn calls_out_of_order_are_refused() {
    let mut c = C::new();
    assert_eq!(
        c.finish_get(Digest::of(b"")),
        Err(ClientError::OutOfOrder("finish_get"))
    );
    assert_eq!(
        c.authenticate(b"t", b""),
        Err(ClientError::OutOfOrder("authenticate"))
    );
    c.get("a", 0).unwrap();
    assert_eq!(c.list(None), Err(ClientError::OutOfOrder("list")));
    assert!(matches!(
        c.get(&"n".repeat(600), 0),
        Err(ClientError::OutOfOrder(_))
    ));
    let mut c = C::new();
    assert!(matches!(
        c.get(&"n".repeat(600), 0),
        Err(ClientError::Name(_))
    ));
}

/// The session's first request for each kind of exchange.
fn started(kind: u8) -> C {
    let mut c = C::new();
    match kind % 5 {
        0 => c.get("a", 0).unwrap(),
        1 => c.put("a", 10, false, false).unwrap(),
        2 => c.list(None).unwrap(),
        3 => c.stat("a").unwrap(),
        _ => c.login().unwrap(),
    }
    sent(&mut c);
    c
}

proptest! {
    #[test]
    fn any_chunking_of_a_get_gives_the_same_events(
        data in proptest::collection::vec(any::<u8>(), 0..3000),
        seg in 1usize..700,
        chunk in 1usize..300,
    ) {
        let input = segmented_get(&data, seg);
        let whole = run(&mut started(0), &input, input.len());
        prop_assert_eq!(&whole, &run(&mut started(0), &input, chunk));
        prop_assert!(whole.iter().any(|l| l.starts_with("finish Ok")), "{:?}", whole);
    }

    #[test]
    fn any_chunking_of_other_exchanges_gives_the_same_events(
        kind in 1u8..5,
        chunk in 1usize..40,
    ) {
        let md5 = Digest::of(b"0123456789");
        let input = match kind {
            1 => wire(&[(ready_reply(3, Some(Digest::of(b"012"))), b""), (file_reply("put", 10, md5, None), b"")]),
            2 => wire(&[(list_reply(5, false), b"a\nbc\n")]),
            3 => wire(&[(file_reply("stat", 10, md5, Some(1)), b"")]),
            _ => wire(&[(challenge_reply(&"1".repeat(64)), b""), (auth_ok(), b"")]),
        };
        let whole = run(&mut started(kind), &input, input.len());
        prop_assert_eq!(whole, run(&mut started(kind), &input, chunk));
    }

    #[test]
    fn random_replies_never_panic(
        kind in any::<u8>(),
        input in proptest::collection::vec(any::<u8>(), 0..600),
        chunk in 1usize..64,
    ) {
        run(&mut started(kind), &input, chunk);
    }
}
