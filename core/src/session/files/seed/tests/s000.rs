//! Seed 000: bare names, `{}`, the md5 first.

use proptest::prelude::*;

use super::*;
use crate::service::file::seed000::header;

fn serve(store: &mut Disk, messages: &[&[u8]], out: usize) -> Seen {
    let mut s = Seed000Server::new(0, 60_000);
    drive(&mut s, store, messages, out, &mut quiet())
}

fn expected(data: &[u8]) -> Vec<u8> {
    let mut head = [0u8; 128];
    let n = header(Some((data.len() as u64, Digest::of(data))), &mut head).unwrap();
    let mut v = head[..n].to_vec();
    v.extend_from_slice(data);
    v
}

const MISSING: &[u8] = b"\x02\x00\x00\x00{}";

#[test]
fn a_name_gets_header_md5_and_bytes_then_the_next_name() {
    let mut store = Disk::new();
    let seen = serve(&mut store, &[b"a.txt", b"empty\r\n"], 4096);
    let mut want = expected(b"hello seeds\n");
    want.extend(expected(b""));
    assert_eq!(seen.sent, want);
    let json = br#"{"lenth": 12, "md5": "57161d8ea0afc8f2ad3ae0cf2f26c348", "size(MB)": 0.0}"#;
    assert_eq!(&seen.sent[4..4 + json.len()], json);
    assert_eq!(store.done, [(0, 12), (2, 0)]);
    assert!(seen.closed && seen.err.is_none());
}

#[test]
fn what_cannot_be_served_is_an_empty_object_and_the_session_goes_on() {
    let mut store = Disk::new();
    let names: [&[u8]; 5] = [b"nope", b"\xff\xfe", b"../etc/passwd", b"dir", b"a.txt"];
    let seen = serve(&mut store, &names, 4096);
    let mut want = MISSING.repeat(4);
    want.extend(expected(b"hello seeds\n"));
    assert_eq!(seen.sent, want);
    let why: Vec<&str> = store.refused.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        why,
        [
            "nope: no such file",
            "file name is not UTF-8",
            "../etc/passwd: '..' is not allowed in file names",
            "dir: is a directory",
        ]
    );
    assert!(store.refused.iter().all(|r| r.0 == "get"));
}

#[test]
fn a_busy_store_is_missing_too() {
    let mut store = Disk::new();
    store.busy = true;
    let seen = serve(&mut store, &[b"a.txt"], 4096);
    assert_eq!(seen.sent, MISSING);
    assert_eq!(store.refused[0].1, "a.txt: server busy");
}

#[test]
fn one_message_is_at_most_1024_bytes() {
    let mut s = Seed000Server::<usize>::new(0, 60_000);
    assert_eq!(s.handle_input(0, &[b'a'; 3000]).0, 1024);
    assert_eq!(s.handle_input(0, b"more").0, 0, "a reply is due first");
}

#[test]
fn shutdown_closes_between_names_and_lets_a_get_finish() {
    let mut store = Disk::new();
    let mut s = Seed000Server::<usize>::new(0, 60_000);
    s.handle_shutdown();
    assert!(s.wants_close());
    let mut s = Seed000Server::<usize>::new(0, 60_000);
    // Room for the header (seed000::HEADER_CAP), then pieces of 128.
    let mut buf = [0u8; 128];
    s.handle_input(0, b"a.txt");
    s.handle_shutdown();
    assert!(!s.wants_close());
    let mut sent = Vec::new();
    while let n @ 1.. = s.poll_output(0, &mut store, &mut buf).unwrap() {
        sent.extend_from_slice(&buf[..n]);
    }
    assert_eq!(sent, expected(b"hello seeds\n"));
    assert!(s.wants_close());
    assert_eq!(s.handle_input(0, b"a.txt").0, 0);
}

#[test]
fn idle_sessions_time_out() {
    let mut s = Seed000Server::<usize>::new(100, 1000);
    assert_eq!(s.poll_timeout(), Some(1100));
    s.handle_input(500, b"x");
    assert_eq!(s.poll_timeout(), Some(1500));
    s.handle_timeout(1499);
    assert!(!s.wants_close());
    s.handle_timeout(1500);
    assert!(s.wants_close());
}

#[test]
fn a_file_that_shrinks_ends_the_session() {
    let mut store = Disk::new();
    store.fake_size = Some(20);
    let seen = serve(&mut store, &[b"a.txt"], 4096);
    assert_eq!(seen.err, Some(Error::Shrank));
}

proptest! {
    #[test]
    fn any_output_buffer_gives_the_same_bytes(out in 128usize..5000, step in 1usize..70_000) {
        let names: [&[u8]; 3] = [b"big.bin", b"nope", b"a.txt"];
        let whole = serve(&mut Disk::new(), &names, 1 << 20);
        let mut store = Disk::new();
        store.step = step;
        let split = serve(&mut store, &names, out);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn random_messages_never_panic(msgs in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 0..1500), 0..6)) {
        let msgs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
        let seen = serve(&mut Disk::new(), &msgs, 300);
        prop_assert!(seen.err.is_none());
    }
}
