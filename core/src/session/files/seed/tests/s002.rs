//! Seed 002: chunked gets with pauses, uploads under the policy.

use proptest::prelude::*;

use super::*;
use crate::service::file::access::Policy;
use crate::service::file::seed002::{chunk_header, size_prefix, CHUNK, CHUNK_HEADER_CAP};
use crate::session::files::Uploads;

const PAUSE: u64 = 50;

fn uploads(loopback: bool, max_size: u64) -> Uploads {
    let policy = Policy {
        token: false,
        writable: false,
        loopback,
    };
    Uploads { policy, max_size }
}

fn session() -> Seed002Server<usize> {
    Seed002Server::new(0, 60_000, PAUSE).with_uploads(uploads(true, 1 << 20))
}

/// A driver that accepts and stores every upload.
fn yes(s: &mut Seed002Server<usize>, ev: &str) {
    match ev {
        "Put" => s.put_ready(),
        "PutEnd" => s.put_stored(),
        _ => {}
    }
}

fn serve(s: &mut Seed002Server<usize>, store: &mut Disk, msgs: &[&[u8]], out: usize) -> Seen {
    drive(s, store, msgs, out, &mut yes)
}

/// What a get of `data` sends.
fn get_bytes(name: &str, data: &[u8]) -> Vec<u8> {
    let mut v = size_prefix(data.len() as u64).unwrap().to_vec();
    for c in data.chunks(CHUNK) {
        let mut h = [0u8; CHUNK_HEADER_CAP];
        let n = chunk_header(name, c, &mut h).unwrap();
        v.extend_from_slice(&h[..n]);
        v.extend_from_slice(c);
    }
    v
}

/// What a seed client sends after `put NAME` for `data` in `line`-byte
/// chunks.
fn put_stream(name: &str, data: &[u8], line: usize) -> Vec<u8> {
    let mut v = size_prefix(data.len() as u64).unwrap().to_vec();
    for c in data.chunks(line.max(1)) {
        let mut h = [0u8; CHUNK_HEADER_CAP];
        let n = chunk_header(name, c, &mut h).unwrap();
        v.extend_from_slice(&h[..n]);
        v.extend_from_slice(c);
    }
    v
}

#[test]
fn a_get_is_the_size_then_chunks_with_a_pause_between() {
    let mut store = Disk::new();
    let seen = serve(&mut session(), &mut store, &[b"get big.bin"], 1 << 20);
    assert_eq!(seen.sent, get_bytes("big.bin", store.data("big.bin")));
    assert_eq!(store.done, [(1, 200_000)]);

    // The clock: the second chunk is due a pause after the first.
    let mut s = session();
    let mut buf = std::vec![0u8; 1 << 17];
    s.handle_input(0, b"get big.bin");
    assert_eq!(s.poll_output(10, &mut store, &mut buf), Ok(4));
    let first = s.poll_output(10, &mut store, &mut buf).unwrap();
    assert!(first > CHUNK);
    assert_eq!(s.poll_output(10, &mut store, &mut buf), Ok(0));
    assert!(s.is_replying());
    assert_eq!(s.poll_timeout(), Some(10 + PAUSE));
    assert_eq!(s.poll_output(59, &mut store, &mut buf), Ok(0));
    assert!(s.poll_output(60, &mut store, &mut buf).unwrap() > CHUNK);
}

#[test]
fn small_buffers_read_each_chunk_twice_for_the_same_bytes() {
    let mut store = Disk::new();
    let whole = serve(&mut session(), &mut store, &[b"get big.bin"], 1 << 20);
    let mut store = Disk::new();
    store.step = 1000;
    let small = serve(&mut session(), &mut store, &[b"get big.bin"], MIN_OUTPUT);
    assert_eq!(small, whole);
}

#[test]
fn a_get_that_cannot_be_served_closes_the_connection() {
    for (name, why) in [
        ("nope", "nope: no such file"),
        ("../x", "../x: '..' is not allowed in file names"),
        (
            "huge",
            "a.txt: seed 002 cannot send 2147483648 bytes: they do not fit its 'i' size field",
        ),
    ] {
        let mut store = Disk::new();
        let cmd = match name {
            "huge" => {
                store.fake_size = Some(1 << 31);
                "get a.txt".to_string()
            }
            _ => std::format!("get {name}"),
        };
        let seen = serve(
            &mut session(),
            &mut store,
            &[cmd.as_bytes(), b"get a.txt"],
            4096,
        );
        assert_eq!(seen.sent, b"", "{name}");
        assert!(seen.closed, "{name}");
        assert_eq!(store.refused, [("get".to_string(), why.to_string())]);
    }
}

#[test]
fn a_bad_command_is_dropped_and_the_session_goes_on() {
    let mut store = Disk::new();
    let msgs: [&[u8]; 3] = [b"ls", b"get a b", b"get a.txt"];
    let seen = serve(&mut session(), &mut store, &msgs, 4096);
    assert_eq!(seen.sent, get_bytes("a.txt", b"hello seeds\n"));
    let why: Vec<&str> = store.refused.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        why,
        [
            "expected 'get NAME' or 'put NAME'",
            "expected 'get NAME' or 'put NAME'"
        ]
    );
}

#[test]
fn a_put_is_received_checked_and_answered() {
    let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    let mut msg = b"put up.bin".to_vec();
    // The seed client's command and size often arrive in one read.
    msg.extend(put_stream("up.bin", &data, 700));
    let seen = serve(
        &mut session(),
        &mut Disk::new(),
        &[&msg, b"get a.txt"],
        4096,
    );
    assert_eq!(seen.data, data);
    assert_eq!(seen.events[..3], ["Put", "PutEnd", "Get"]);
    let mut want = "up.bin 上传成功".as_bytes().to_vec();
    want.extend(get_bytes("a.txt", b"hello seeds\n"));
    assert_eq!(seen.sent, want);
}

#[test]
fn a_refused_put_is_read_to_its_end_then_answered() {
    let stream = put_stream("up.bin", &[1; 3000], 1000);
    let mut s = Seed002Server::new(0, 60_000, PAUSE).with_uploads(uploads(false, 1 << 20));
    let msgs: [&[u8]; 3] = [b"put up.bin", &stream, b"get a.txt"];
    let mut store = Disk::new();
    let seen = serve(&mut s, &mut store, &msgs, 4096);
    assert!(seen.data.is_empty() && !seen.events.contains(&"Put".to_string()));
    let text = String::from_utf8(seen.sent).unwrap();
    assert!(
        text.starts_with("up.bin 上传失败: read-only: this server takes no uploads"),
        "{text}"
    );
    assert!(text.ends_with("hello seeds\n"), "then the get: {text}");
    // A board's read-only session refuses as well.
    let mut s = Seed002Server::new(0, 60_000, PAUSE);
    let seen = serve(&mut s, &mut Disk::new(), &[b"put up.bin", &stream], 4096);
    assert_eq!(
        seen.sent,
        "up.bin 上传失败: up.bin: this server is read-only".as_bytes()
    );
}

#[test]
fn the_drivers_refusal_is_the_answer() {
    let stream = put_stream("up.bin", &[1; 3000], 1000);
    let mut busy = |s: &mut Seed002Server<usize>, ev: &str| {
        if ev == "Put" {
            s.put_refused("server busy: too many transfers");
        }
    };
    let mut store = Disk::new();
    let seen = drive(
        &mut session(),
        &mut store,
        &[b"put up.bin", &stream],
        4096,
        &mut busy,
    );
    assert_eq!(
        seen.sent,
        "up.bin 上传失败: server busy: too many transfers".as_bytes()
    );
    // A failed write mid-stream: the rest is drained, then the answer.
    let full = |s: &mut Seed002Server<usize>, ev: &str| match ev {
        "Put" => s.put_ready(),
        "PutEnd" => s.put_stored(),
        _ => {}
    };
    let mut s = session();
    let mut buf = [0u8; 4096];
    s.handle_input(0, b"put up.bin");
    let (n, ev) = s.handle_input(0, &stream);
    assert_eq!(ev, Some(Event::Put));
    full(&mut s, "Put");
    let (m, ev) = s.handle_input(0, &stream[n..]);
    assert!(matches!(ev, Some(Event::Data(_))));
    s.put_refused("no space left on the server");
    let (k, ev) = s.handle_input(0, &stream[n + m..]);
    assert_eq!((n + m + k, ev), (stream.len(), Some(Event::Refused)));
    let n = s.poll_output(0, &mut store, &mut buf).unwrap();
    assert_eq!(
        &buf[..n],
        "up.bin 上传失败: no space left on the server".as_bytes()
    );
}

#[test]
fn a_broken_stream_is_answered_at_once_and_closes() {
    let mut corrupt = put_stream("c.bin", &[7; 2000], 1000);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    let huge = (2_000_000i32).to_le_bytes();
    let negative = (-5i32).to_le_bytes();
    for (stream, text, event) in [
        (
            &corrupt[..],
            "md5 mismatch in the chunk at byte 1000",
            "PutFailed",
        ),
        (
            &huge[..],
            "file of 2000000 bytes exceeds the limit of 1048576 bytes",
            "Refused",
        ),
        (&negative[..], "negative file size", "Refused"),
    ] {
        let seen = serve(
            &mut session(),
            &mut Disk::new(),
            &[b"put c.bin", stream],
            4096,
        );
        let want = std::format!("c.bin 上传失败: {text}");
        assert_eq!(String::from_utf8(seen.sent).unwrap(), want);
        assert_eq!(seen.events.last().unwrap(), event);
        assert!(seen.closed);
    }
}

#[test]
fn the_end_of_input_inside_an_upload_is_an_error() {
    let stream = put_stream("up.bin", &[1; 3000], 1000);
    let seen = serve(
        &mut session(),
        &mut Disk::new(),
        &[b"put up.bin", &stream[..2500]],
        4096,
    );
    assert_eq!(seen.err, Some(Error::UploadCut));
    assert!(seen.closed);
}

#[test]
fn shutdown_lets_the_upload_finish_then_closes() {
    let stream = put_stream("up.bin", &[1; 3000], 1000);
    let mut s = session();
    s.handle_input(0, b"put up.bin");
    s.handle_shutdown();
    assert!(!s.wants_close());
    let seen = serve(&mut s, &mut Disk::new(), &[&stream, b"get a.txt"], 4096);
    assert_eq!(seen.sent, "up.bin 上传成功".as_bytes());
    assert!(seen.closed);
    let mut s = session();
    s.handle_shutdown();
    assert!(s.wants_close());
}

proptest! {
    #[test]
    fn any_split_of_an_upload_gives_the_same_result(
        len in 0usize..6000,
        line in 1usize..2500,
        cuts in proptest::collection::vec(0usize..8000, 0..10),
    ) {
        let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let stream = put_stream("u.bin", &data, line);
        let whole = serve(&mut session(), &mut Disk::new(), &[b"put u.bin", &stream], 4096);
        prop_assert_eq!(&whole.data, &data);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(stream.len())).collect();
        cuts.sort();
        let mut pieces: Vec<&[u8]> = std::vec![b"put u.bin"];
        let mut at = 0;
        for c in cuts.into_iter().chain([stream.len()]) {
            pieces.push(&stream[at..c]);
            at = c;
        }
        let split = serve(&mut session(), &mut Disk::new(), &pieces, MIN_OUTPUT);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn no_upload_takes_more_than_it_announced_or_the_limit(
        announced in any::<i32>(),
        chunks in proptest::collection::vec((0u64..3000, 0usize..3000), 0..6),
    ) {
        // Chunk headers whose file_size says anything, over bytes that
        // may be fewer or more.
        let mut stream = announced.to_le_bytes().to_vec();
        for (said, have) in chunks {
            let body: Vec<u8> = (0..have).map(|i| i as u8).collect();
            let md5 = Digest::of(&body[..(said as usize).min(have)]);
            let mut h = [0u8; CHUNK_HEADER_CAP];
            let n = crate::service::file::seed002::chunk_header_md5("l.bin", said, md5, &mut h);
            stream.extend_from_slice(&h[..n.unwrap()]);
            stream.extend_from_slice(&body);
        }
        let max = 4000;
        let mut s = Seed002Server::new(0, 60_000, PAUSE).with_uploads(uploads(true, max));
        let seen = serve(&mut s, &mut Disk::new(), &[b"put l.bin", &stream], MIN_OUTPUT);
        let limit = u64::try_from(announced).unwrap_or(0).min(max);
        prop_assert!(seen.data.len() as u64 <= limit);
        let answer = String::from_utf8(seen.sent).unwrap();
        prop_assert!(answer.is_empty() || answer.starts_with("l.bin 上传"), "{}", answer);
    }

    #[test]
    fn random_input_never_panics(
        msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1500), 0..6),
        put in any::<bool>(),
    ) {
        let mut pieces: Vec<&[u8]> = std::vec![];
        if put {
            pieces.push(b"put r.bin");
        }
        pieces.extend(msgs.iter().map(|m| &m[..]));
        let seen = serve(&mut session(), &mut Disk::new(), &pieces, MIN_OUTPUT);
        prop_assert!(seen.err.is_none() || seen.err == Some(Error::UploadCut));
    }
}
