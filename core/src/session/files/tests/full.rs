//! The host's extension ([`Full`]) without sockets: segmented gets and
//! shutdown, the token exchange, uploads and their refusals, and any
//! chunking of a whole conversation.

extern crate std;
use std::string::String;
use std::vec::Vec;

use proptest::prelude::*;

use super::{frames, md5_of, request, Mem};
use crate::service::auth::{nonce_hex, proof_in};
use crate::service::file::access::{Policy, DOMAIN};
use crate::service::file::native::{data_header, end_header};
use crate::session::files::*;
use crate::wire::emit_frame_header;

type Host = FilesServer<usize, REQUEST_HEADER_CAP, Full>;

const TOKEN: &[u8] = b"0123456789abcdef-token";
const RANDOM: [u8; 32] = [1; 32];

fn host(token: bool, loopback: bool) -> Host {
    let policy = Policy {
        token,
        writable: false,
        loopback,
    };
    Host::with_extension(
        0,
        60_000,
        Full::new(Uploads {
            policy,
            max_size: 1000,
        }),
    )
}

fn frame_of<'a>(h: impl Into<crate::wire::Fields<'a>>, body: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 1024];
    let n = emit_frame_header(h, &mut buf).unwrap();
    let mut v = buf[..n].to_vec();
    v.extend_from_slice(body);
    v
}

/// A data frame and its trailer, as `wirekit put` sends them.
fn upload(offset: u64, data: &[u8], md5: Digest) -> Vec<u8> {
    let mut v = frame_of(data_header(offset, data.len() as u64), data);
    v.extend(frame_of(end_header(md5), b""));
    v
}

fn proof() -> String {
    let nonce = nonce_hex(&RANDOM);
    let nonce = core::str::from_utf8(&nonce).unwrap();
    String::from_utf8(proof_in(DOMAIN, TOKEN, nonce, b"").to_vec()).unwrap()
}

/// What a driver that says yes to everything saw.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    sent: Vec<u8>,
    written: Vec<u8>,
    events: Vec<String>,
    err: Option<Error>,
}

/// Drives `s` over `chunks` (output `out` bytes at a time), answering
/// every event as a willing host would; `stop_after` output calls, a
/// shutdown.
fn drive(s: &mut Host, store: &mut Mem, chunks: &[&[u8]], out: usize) -> Seen {
    let mut seen = Seen::default();
    let mut buf = std::vec![0u8; out];
    for chunk in chunks {
        let mut rest = *chunk;
        loop {
            loop {
                match s.poll_output(0, store, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => seen.sent.extend_from_slice(&buf[..n]),
                    Err(e) => {
                        seen.err = Some(e);
                        return seen;
                    }
                }
            }
            if s.wants_close() {
                return seen;
            }
            let (n, ev) = s.handle_input(0, rest);
            rest = &rest[n..];
            let Some(ev) = ev else {
                // All taken, or nothing more is (the session closes).
                if rest.is_empty() || n == 0 {
                    break;
                }
                continue;
            };
            if let Event::Data(b) = ev {
                seen.written.extend_from_slice(b);
                continue;
            }
            seen.events.push(std::format!("{ev:?}"));
            match ev {
                Event::Challenge => s.send_challenge(&RANDOM),
                Event::Auth => {
                    s.verify(Some(TOKEN), b"");
                }
                Event::Put => s.put_ready(0, None),
                Event::PutRestart => seen.written.clear(),
                Event::PutEnd => {
                    if s.put_check(md5_of(&seen.written)) {
                        s.put_stored();
                    }
                    seen.written.clear();
                }
                _ => {}
            }
        }
    }
    loop {
        match s.poll_output(0, store, &mut buf) {
            Ok(0) => break,
            Ok(n) => seen.sent.extend_from_slice(&buf[..n]),
            Err(e) => {
                seen.err = Some(e);
                break;
            }
        }
    }
    seen
}

fn heads(seen: &Seen) -> Vec<String> {
    frames(&seen.sent).into_iter().map(|f| f.0).collect()
}

#[test]
fn a_segmented_get_sends_data_frames_then_the_md5() {
    let mut store = Mem::new();
    let big: Vec<u8> = (0..(2 << 20) + 5).map(|i| (i % 251) as u8).collect();
    store.files.push(("big", big.clone(), 9));
    let mut s = host(false, true);
    let r = request(r#"{"op":"get-segmented","filename":"big","offset":5}"#);
    let seen = drive(&mut s, &mut store, &[&r], 1 << 16);
    let f = frames(&seen.sent);
    assert!(
        f[0].0.contains(r#""op":"get","total_size":0,"offset":5"#),
        "{}",
        f[0].0
    );
    let ops: Vec<usize> = f[1..4].iter().map(|f| f.1.len()).collect();
    assert_eq!(ops, [1 << 20, 1 << 20, 0]);
    let body: Vec<u8> = f[1..3].iter().flat_map(|f| f.1.clone()).collect();
    assert_eq!(body, big[5..]);
    assert!(
        f[3].0.contains(&std::format!("{}", md5_of(&big))),
        "{}",
        f[3].0
    );
}

#[test]
fn shutdown_stops_a_segmented_get_at_a_boundary_then_says_goodbye() {
    let mut store = Mem::new();
    store.files.push(("big", std::vec![3u8; 3 << 20], 9));
    let mut s = host(false, true);
    let r = request(r#"{"op":"get-segmented","filename":"big"}"#);
    s.handle_input(0, &r);
    let mut buf = std::vec![0u8; 1 << 16];
    let mut sent = Vec::new();
    // The reply header, the first segment's header and some bytes.
    for _ in 0..3 {
        let n = s.poll_output(0, &mut store, &mut buf).unwrap();
        sent.extend_from_slice(&buf[..n]);
    }
    s.handle_shutdown();
    while let Ok(n @ 1..) = s.poll_output(0, &mut store, &mut buf) {
        sent.extend_from_slice(&buf[..n]);
    }
    assert!(s.wants_close());
    let f = frames(&sent);
    assert_eq!(f.len(), 4, "get, one whole segment, end error, goodbye");
    assert_eq!(f[1].1.len(), 1 << 20);
    assert!(f[2].0.contains(r#""op":"end""#) && f[2].0.contains(SHUTTING_DOWN));
    assert!(f[3].0.contains(r#""op":"error""#) && f[3].0.contains(SHUTTING_DOWN));
    // An idle session just says goodbye; a read-only one too.
    let mut idle: FilesServer<usize> = FilesServer::new(0, 1000);
    idle.handle_shutdown();
    let n = idle.poll_output(0, &mut store, &mut buf).unwrap();
    assert!(frames(&buf[..n])[0].0.contains(SHUTTING_DOWN));
    assert!(idle.wants_close());
}

#[test]
fn the_token_exchange_opens_uploads_and_a_wrong_proof_closes() {
    let mut input = request(r#"{"op":"put","filename":"u","size":3}"#);
    input.extend(request(r#"{"op":"challenge"}"#));
    input.extend(request(&std::format!(
        r#"{{"op":"auth","token":"{}"}}"#,
        proof()
    )));
    input.extend(request(r#"{"op":"put","filename":"u","size":3}"#));
    input.extend(upload(0, b"abc", md5_of(b"abc")));
    let seen = drive(
        &mut host(true, false),
        &mut Mem::new(),
        &[&input],
        MIN_OUTPUT,
    );
    let f = heads(&seen);
    assert!(f[0].contains("authentication required"), "{}", f[0]);
    let nonce = nonce_hex(&RANDOM);
    assert!(
        f[1].contains(core::str::from_utf8(&nonce).unwrap()),
        "{}",
        f[1]
    );
    assert_eq!(f[2], r#"{"op":"auth","total_size":0,"status":"ok"}"#);
    assert!(f[3].contains(r#""offset":0,"status":"ready""#), "{}", f[3]);
    assert!(
        f[4].contains(r#""op":"put""#) && f[4].contains(r#""size":3"#),
        "{}",
        f[4]
    );
    assert_eq!(
        seen.events,
        ["Refused", "Challenge", "Auth", "Put", "PutEnd"]
    );

    let mut bad = request(r#"{"op":"challenge"}"#);
    bad.extend(request(r#"{"op":"auth","token":"00"}"#));
    bad.extend(request(r#"{"op":"stat","filename":"empty"}"#));
    let mut s = host(true, false);
    let seen = drive(&mut s, &mut Mem::new(), &[&bad], MIN_OUTPUT);
    let f = heads(&seen);
    assert_eq!(f.len(), 2, "nothing after a wrong proof: {f:?}");
    assert!(f[1].contains("authentication failed: wrong token"));
    assert!(s.wants_close());
}

#[test]
fn challenges_without_a_token_or_too_often_are_refused() {
    let seen = drive(
        &mut host(false, true),
        &mut Mem::new(),
        &[&request(r#"{"op":"challenge"}"#)],
        MIN_OUTPUT,
    );
    assert!(heads(&seen)[0].contains("this server has no upload token"));
    let mut s = host(true, true);
    assert_eq!(
        s.handle_input(0, &request(r#"{"op":"challenge"}"#)).1,
        Some(Event::Challenge)
    );
    assert!(s.is_replying());
    s.refuse_throttled(7);
    let mut buf = [0u8; MIN_OUTPUT];
    let n = s.poll_output(0, &mut Mem::new(), &mut buf).unwrap();
    assert!(frames(&buf[..n])[0].0.contains("try again in 7 s"));
    assert!(s.wants_close());
}

#[test]
fn uploads_are_refused_by_policy_size_and_md5() {
    let mut input = request(r#"{"op":"put","filename":"a","size":3}"#);
    input.extend(request(r#"{"op":"stat","filename":"empty"}"#));
    let seen = drive(
        &mut host(false, false),
        &mut Mem::new(),
        &[&input],
        MIN_OUTPUT,
    );
    assert!(heads(&seen)[0].contains("read-only: this server takes no uploads"));
    assert!(heads(&seen)[1].contains(r#""op":"stat""#));

    let mut input = request(r#"{"op":"put","filename":"a","size":1001}"#);
    input.extend(request(r#"{"op":"put","filename":"a","size":3}"#));
    input.extend(upload(0, b"abc", md5_of(b"abd")));
    let seen = drive(
        &mut host(false, true),
        &mut Mem::new(),
        &[&input],
        MIN_OUTPUT,
    );
    let f = heads(&seen);
    assert!(
        f[0].contains("a: 1001 bytes exceeds the limit of 1000 bytes"),
        "{}",
        f[0]
    );
    assert!(f[2].contains("a: md5 mismatch: client says"), "{}", f[2]);
}

#[test]
fn a_data_frame_that_does_not_match_the_offer_fails_the_upload() {
    let mut input = request(r#"{"op":"put","filename":"a","size":3}"#);
    input.extend(upload(1, b"bc", md5_of(b"abc")));
    let mut s = host(false, true);
    let seen = drive(&mut s, &mut Mem::new(), &[&input], MIN_OUTPUT);
    assert!(heads(&seen)[1].contains("a: data frame does not match the offer (offset 1)"));
    assert_eq!(seen.events, ["Put", "PutFailed"]);
    assert!(s.wants_close());
}

#[test]
fn a_refused_write_drains_the_frame_and_the_session_goes_on() {
    let mut s = host(false, true);
    let mut store = Mem::new();
    let mut input = request(r#"{"op":"put","filename":"a","size":6}"#);
    input.extend(upload(0, b"abcdef", md5_of(b"abcdef")));
    input.extend(request(r#"{"op":"stat","filename":"empty"}"#));
    let (n, ev) = s.handle_input(0, &input);
    assert_eq!(ev, Some(Event::Put));
    s.put_ready(0, None);
    let mut rest = &input[n..];
    let mut buf = [0u8; MIN_OUTPUT];
    let mut sent = Vec::new();
    let mut events = Vec::new();
    while !rest.is_empty() {
        while let Ok(k @ 1..) = s.poll_output(0, &mut store, &mut buf) {
            sent.extend_from_slice(&buf[..k]);
        }
        let (k, ev) = s.handle_input(0, &rest[..rest.len().min(40)]);
        rest = &rest[k..];
        let data = matches!(ev, Some(Event::Data(_)));
        events.extend(ev.map(|e| std::format!("{e:?}")));
        if data {
            s.put_refused("a: no space left on the server");
        }
    }
    while let Ok(k @ 1..) = s.poll_output(0, &mut store, &mut buf) {
        sent.extend_from_slice(&buf[..k]);
    }
    let f: Vec<String> = frames(&sent).into_iter().map(|f| f.0).collect();
    assert!(f[1].contains("a: no space left on the server"), "{f:?}");
    assert!(f[2].contains(r#""op":"stat""#), "{f:?}");
    assert_eq!(events.iter().filter(|e| e.starts_with("Data")).count(), 1);
    assert!(!s.wants_close());
}

#[test]
fn a_resumed_upload_started_over_and_one_cut_short() {
    let mut s = host(false, true);
    let mut input = request(r#"{"op":"put","filename":"a","size":3,"resume":true}"#);
    let (n, _) = s.handle_input(0, &input);
    input.drain(..n);
    s.put_ready(2, Some(md5_of(b"ab")));
    let mut buf = [0u8; MIN_OUTPUT];
    let k = s.poll_output(0, &mut Mem::new(), &mut buf).unwrap();
    assert!(frames(&buf[..k])[0].0.contains(r#""offset":2"#));
    let data = upload(0, b"abc", md5_of(b"abc"));
    assert_eq!(s.handle_input(0, &data).1, Some(Event::PutRestart));
    // Cut short: the driver keeps the partial.
    let mut s = host(false, true);
    s.handle_input(0, &request(r#"{"op":"put","filename":"a","size":3}"#));
    s.put_ready(0, None);
    let _ = s.poll_output(0, &mut Mem::new(), &mut buf);
    s.handle_input(0, &upload(0, b"abc", md5_of(b"abc"))[..20]);
    assert_eq!(s.handle_eof(), Err(Error::UploadCut));
    assert!(s.wants_close());
}

#[test]
fn a_session_rests_between_requests_until_it_learns_something() {
    let mut s = host(true, false);
    let mut store = Mem::new();
    let mut buf = [0u8; MIN_OUTPUT];
    assert!(s.is_resting());
    let r = request(r#"{"op":"stat","filename":"empty"}"#);
    s.handle_input(0, &r[..5]);
    assert!(!s.is_resting(), "inside a request");
    s.handle_input(0, &r[5..]);
    assert!(!s.is_resting(), "replying");
    while let Ok(1..) = s.poll_output(0, &mut store, &mut buf) {}
    assert!(s.is_resting());
    // A nonce given, then a proof made: the connection has state.
    s.handle_input(0, &request(r#"{"op":"challenge"}"#));
    s.send_challenge(&RANDOM);
    while let Ok(1..) = s.poll_output(0, &mut store, &mut buf) {}
    assert!(!s.is_resting());
    let auth = request(&std::format!(r#"{{"op":"auth","token":"{}"}}"#, proof()));
    s.handle_input(0, &auth);
    assert!(s.verify(Some(TOKEN), b""));
    while let Ok(1..) = s.poll_output(0, &mut store, &mut buf) {}
    assert!(!s.is_resting());
}

fn script() -> Vec<u8> {
    let mut v = Vec::new();
    for r in [
        r#"{"op":"challenge"}"#.into(),
        std::format!(r#"{{"op":"auth","token":"{}"}}"#, proof()),
        r#"{"op":"put","filename":"up","size":700}"#.into(),
    ] {
        v.extend(request(&r));
    }
    let data: Vec<u8> = (0..700u32).map(|i| (i * 7) as u8).collect();
    v.extend(upload(0, &data, md5_of(&data)));
    for r in [
        r#"{"op":"get-segmented","filename":"blob.bin","offset":17}"#,
        r#"{"op":"stat","filename":"README.txt"}"#,
        r#"{"op":"list"}"#,
        r#"{"op":"put","filename":"x","size":2}"#,
    ] {
        v.extend(request(r));
    }
    v.extend(upload(0, b"xy", md5_of(b"xz")));
    v
}

proptest! {
    #[test]
    fn any_chunking_of_a_whole_conversation_gives_the_same_bytes(
        cuts in proptest::collection::vec(0usize..4000, 0..16),
        out in MIN_OUTPUT..3000,
    ) {
        let input = script();
        let whole = drive(&mut host(true, false), &mut Mem::new(), &[&input], 4096);
        prop_assert_eq!(whole.err, None);
        prop_assert_eq!(frames(&whole.sent).len(), 11);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % input.len()).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut at = 0;
        for c in cuts {
            chunks.push(&input[at..c]);
            at = c;
        }
        chunks.push(&input[at..]);
        let split = drive(&mut host(true, false), &mut Mem::new(), &chunks, out);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn random_input_to_a_host_session_never_panics(
        input in proptest::collection::vec(any::<u8>(), 0..800),
        prefix in 0usize..4,
    ) {
        // Random bytes alone, or after a valid start (inside an upload).
        let mut all = Vec::new();
        let script = script();
        let starts = [0, 30, 160, 230];
        all.extend_from_slice(&script[..starts[prefix].min(script.len())]);
        all.extend_from_slice(&input);
        let seen = drive(&mut host(true, false), &mut Mem::new(), &[&all], MIN_OUTPUT);
        let _ = frames(&seen.sent);
    }
}
