//! The seed client sessions without sockets: the exact requests, each
//! dialect's events, broken answers, and any chunking of the server's
//! bytes.

extern crate std;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::service::file::{seed000, seed002};

fn sent(c: &mut SeedClient) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 61];
    loop {
        let n = c.poll_output(&mut buf);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Feeds `input` in reads of `chunk` bytes (the first `whole` bytes in
/// one read: seed 004's size text comes alone); logs the events, data
/// joined, and what was sent meanwhile.
fn run(c: &mut SeedClient, input: &[u8], whole: usize, chunk: usize) -> Vec<String> {
    let mut log = Vec::new();
    let mut data = Vec::new();
    let mut pending: Vec<u8> = input[..whole].to_vec();
    let mut reads = input[whole..].chunks(chunk.max(1));
    loop {
        let out = sent(c);
        if !out.is_empty() {
            log.push(format!("sent {}", String::from_utf8_lossy(&out)));
        }
        let (used, ev) = match c.handle_input(&pending) {
            Ok(r) => r,
            Err(e) => {
                log.push(format!("error {e}"));
                return log;
            }
        };
        let more = used > 0 || ev.is_some();
        let mut verify = false;
        match ev {
            Some(SeedEvent::Data(b)) => data.extend_from_slice(b),
            Some(e) => {
                if !data.is_empty() {
                    log.push(format!("data {}", String::from_utf8_lossy(&data)));
                }
                verify = matches!(e, SeedEvent::Received { md5: Some(_) });
                log.push(format!("{e:?}"));
            }
            None => {}
        }
        pending.drain(..used);
        if verify {
            log.push(format!("finish {:?}", c.finish_get(Digest::of(&data))));
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

fn seed000_answer(data: &[u8]) -> Vec<u8> {
    let mut head = [0u8; seed000::HEADER_CAP];
    let n = seed000::header(Some((data.len() as u64, Digest::of(data))), &mut head).unwrap();
    let mut out = head[..n].to_vec();
    out.extend_from_slice(data);
    out
}

fn seed002_answer(data: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = seed002::size_prefix(data.len() as u64).unwrap().to_vec();
    for c in data.chunks(chunk.max(1)) {
        let mut head = [0u8; seed002::CHUNK_HEADER_CAP];
        let n = seed002::chunk_header("a.txt", c, &mut head).unwrap();
        out.extend_from_slice(&head[..n]);
        out.extend_from_slice(c);
    }
    out
}

fn seed004_answer(data: &[u8]) -> Vec<u8> {
    let mut out = data.len().to_string().into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(&Digest::of(data).to_hex());
    out
}

fn get(d: SeedDialect) -> SeedClient {
    let mut c = SeedClient::get(d, "a.txt").unwrap();
    sent(&mut c);
    c
}

#[test]
fn the_requests_are_the_seed_clients() {
    let mut c = SeedClient::get(SeedDialect::Seed000, "dir/a b.txt").unwrap();
    assert_eq!(sent(&mut c), b"dir/a b.txt");
    let mut c = SeedClient::get(SeedDialect::Seed002, "a.txt").unwrap();
    assert_eq!(sent(&mut c), b"get a.txt");
    let mut c = SeedClient::put("a.txt", 3).unwrap();
    assert_eq!(sent(&mut c), b"put a.txt");
    let long = "n".repeat(1100);
    assert!(matches!(
        SeedClient::get(SeedDialect::Seed004, &long),
        Err(SeedError::TooLong)
    ));
    assert!(matches!(
        SeedClient::get(SeedDialect::Seed000, &long),
        Err(SeedError::TooLong)
    ));
    assert_eq!(
        SeedClient::put("a", 1 << 31).err(),
        Some(SeedError::TooBig { size: 1 << 31 })
    );
}

#[test]
fn each_dialect_downloads_with_its_checks() {
    let data = b"hello seeds\n";
    let md5 = Digest::of(data);
    let log = run(&mut get(SeedDialect::Seed000), &seed000_answer(data), 0, 5);
    assert_eq!(
        log,
        [
            "Started { size: 12 }".to_string(),
            "data hello seeds\n".into(),
            format!("Received {{ md5: Some({md5:?}) }}"),
            format!("finish Ok({md5:?})"),
            "eof Ok(())".into(),
        ]
    );
    let log = run(
        &mut get(SeedDialect::Seed002),
        &seed002_answer(data, 5),
        0,
        3,
    );
    assert_eq!(
        log,
        [
            "Started { size: 12 }",
            "data hello seeds\n",
            "Received { md5: None }",
            "eof Ok(())"
        ]
    );
    let log = run(&mut get(SeedDialect::Seed004), &seed004_answer(data), 2, 7);
    assert_eq!(log[0], "Started { size: 12 }");
    assert_eq!(log[1], "sent ready to recv file");
    assert_eq!(log[4], format!("finish Ok({md5:?})"));
}

#[test]
fn empty_files_end_at_once() {
    for (d, input, whole) in [
        (SeedDialect::Seed000, seed000_answer(b""), 0),
        (SeedDialect::Seed002, seed002_answer(b"", 1), 0),
        (SeedDialect::Seed004, seed004_answer(b""), 1),
    ] {
        let log = run(&mut get(d), &input, whole, 100);
        assert_eq!(log[0], "Started { size: 0 }", "{d:?} {log:?}");
        assert!(
            log.iter().any(|l| l.starts_with("Received")),
            "{d:?} {log:?}"
        );
        assert_eq!(log.last().unwrap(), "eof Ok(())", "{d:?} {log:?}");
    }
}

#[test]
fn broken_answers_are_errors() {
    let mut wrong_chunk = seed002_answer(b"abcdef", 6);
    *wrong_chunk.last_mut().unwrap() = b'X';
    let mut no_md5 = seed002::size_prefix(1).unwrap().to_vec();
    no_md5.extend_from_slice(b"\x02\x00\x00\x00{}x");
    let cases: [(SeedDialect, Vec<u8>, usize, &str); 10] = [
        (
            SeedDialect::Seed000,
            b"\x02\x00\x00\x00{}".to_vec(),
            0,
            "error no such file on the server (文件不存在)",
        ),
        (
            SeedDialect::Seed000,
            b"\x03\x00\x00\x00{x}".to_vec(),
            0,
            "error header is not JSON",
        ),
        (
            SeedDialect::Seed000,
            b"\x0c\x00\x00\x00{\"md5\": \"x\"}".to_vec(),
            0,
            "error header without lenth",
        ),
        (
            SeedDialect::Seed000,
            b"\x00\x00\x01\x00".to_vec(),
            0,
            "error bad header length: length 65536 exceeds the limit of 8188 bytes",
        ),
        (
            SeedDialect::Seed000,
            {
                let a = seed000_answer(b"abc");
                a[..a.len() - 1].to_vec()
            },
            0,
            "eof Err(Missing { left: 1 })",
        ),
        (SeedDialect::Seed002, Vec::new(), 0, "eof Err(NoSize)"),
        (SeedDialect::Seed002, wrong_chunk, 0, "error md5 mismatch"),
        (SeedDialect::Seed002, no_md5, 0, "error chunk without md5"),
        (
            SeedDialect::Seed004,
            b"error: no such file".to_vec(),
            19,
            "error server answered: error: no such file",
        ),
        (
            SeedDialect::Seed004,
            [&b"3abc"[..], &[b'z'; 32]].concat(),
            1,
            "error server sent a malformed md5",
        ),
    ];
    for (d, input, whole, want) in cases {
        let log = run(&mut get(d), &input, whole, 4);
        assert!(log.last().unwrap().starts_with(want), "{d:?}: {log:?}");
    }
}

#[test]
fn put_sends_the_preamble_with_the_first_chunk_and_checks_the_answer() {
    let data: Vec<u8> = (0..seed002::CHUNK + 10).map(|i| i as u8).collect();
    let mut c = SeedClient::put("up.bin", data.len() as u64).unwrap();
    assert_eq!(sent(&mut c), b"put up.bin");
    assert_eq!(c.chunk(&data[..10]), Err(SeedError::ChunkLength));
    c.chunk(&data[..seed002::CHUNK]).unwrap();
    let first = sent(&mut c);
    assert_eq!(first[..4], seed002::size_prefix(data.len() as u64).unwrap());
    let mut head = [0u8; seed002::CHUNK_HEADER_CAP];
    let n = seed002::chunk_header("up.bin", &data[..seed002::CHUNK], &mut head).unwrap();
    assert_eq!(first[4..], head[..n]);
    assert_eq!(c.end_put(), Err(SeedError::ChunkLength));
    c.chunk(&data[seed002::CHUNK..]).unwrap();
    let n = seed002::chunk_header("up.bin", &data[seed002::CHUNK..], &mut head).unwrap();
    assert_eq!(sent(&mut c), head[..n]);
    c.end_put().unwrap();
    let log = run(&mut c, "up.bin 上传成功".as_bytes(), 0, 100);
    assert_eq!(log, ["Stored", "eof Ok(())"]);

    let mut c = SeedClient::put("e", 0).unwrap();
    sent(&mut c);
    c.end_put().unwrap();
    assert_eq!(sent(&mut c), [0, 0, 0, 0]);
    let log = run(&mut c, b"no", 0, 100);
    assert_eq!(log, ["error server answered: no"]);
    let mut c = SeedClient::put("e", 0).unwrap();
    c.end_put().unwrap();
    let log = run(&mut c, b"", 0, 100);
    assert_eq!(
        log,
        [
            "sent put e\0\0\0\0",
            "eof Err(Cut(\"waiting for the answer\"))"
        ]
    );
}

proptest! {
    #[test]
    fn any_chunking_gives_the_same_events(
        data in proptest::collection::vec(any::<u8>(), 0..2000),
        seg in 1usize..500,
        chunk in 1usize..200,
        which in 0u8..3,
    ) {
        let (d, input, whole) = match which {
            0 => (SeedDialect::Seed000, seed000_answer(&data), 0),
            1 => (SeedDialect::Seed002, seed002_answer(&data, seg), 0),
            _ => (SeedDialect::Seed004, seed004_answer(&data), data.len().to_string().len()),
        };
        let all = run(&mut get(d), &input, whole, input.len() - whole);
        prop_assert_eq!(&all, &run(&mut get(d), &input, whole, chunk));
        prop_assert_eq!(all.last().unwrap(), "eof Ok(())");
    }

    #[test]
    fn random_answers_never_panic(
        input in proptest::collection::vec(any::<u8>(), 0..600),
        chunk in 1usize..64,
        which in 0u8..4,
    ) {
        let mut c = match which {
            0 => get(SeedDialect::Seed000),
            1 => get(SeedDialect::Seed002),
            2 => get(SeedDialect::Seed004),
            _ => {
                let mut c = SeedClient::put("p", 0).unwrap();
                c.end_put().unwrap();
                c
            }
        };
        run(&mut c, &input, 0, chunk);
    }
}
