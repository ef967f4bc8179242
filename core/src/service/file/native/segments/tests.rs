use super::*;
extern crate std;
use crate::service::file::native::{end_header, error_reply, get_reply};
use crate::wire::{emit_frame_header, Digest, Fields, Header};
use proptest::prelude::*;
use std::vec::Vec;

fn frame<'a>(h: impl Into<Fields<'a>>, body: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; HEADER_CAP];
    let n = emit_frame_header(h, &mut buf).unwrap();
    let mut v = buf[..n].to_vec();
    v.extend_from_slice(body);
    v
}

fn data(body: &[u8]) -> Vec<u8> {
    let mut h = Header::with_op("data");
    h.total_size = body.len() as u64;
    frame(&h, body)
}

/// What a client makes of `stream` read `step` bytes at a time.
#[derive(Debug, PartialEq)]
enum Outcome {
    Done(Vec<u8>, Digest),
    Refused(Vec<u8>, std::string::String),
    Failed(SegmentError),
    Incomplete(Vec<u8>),
}

fn receive(stream: &[u8], step: usize) -> Outcome {
    let mut s = Segments::new();
    let mut got = Vec::new();
    for chunk in stream.chunks(step.max(1)) {
        let mut input = chunk;
        loop {
            let (used, ev) = match s.decode(input) {
                Ok(r) => r,
                Err(e) => return Outcome::Failed(e),
            };
            input = &input[used..];
            match ev {
                Some(TransferEvent::Data(b)) => got.extend_from_slice(b),
                Some(TransferEvent::End(d)) => return Outcome::Done(got, d),
                Some(TransferEvent::Refused(m)) => return Outcome::Refused(got, m.into()),
                Some(_) => {}
                None if input.is_empty() && used == 0 => break,
                None => {}
            }
        }
    }
    // Zero-length steps the decoder may still owe (a frame's end).
    for _ in 0..4 {
        match s.decode(&[]) {
            Ok((_, Some(TransferEvent::End(d)))) => return Outcome::Done(got, d),
            Ok(_) => {}
            Err(e) => return Outcome::Failed(e),
        }
    }
    Outcome::Incomplete(got)
}

fn file(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 7) as u8).collect()
}

fn segmented(content: &[u8], offset: usize, seg: usize) -> Vec<u8> {
    let mut h = get_reply(content.len() as u64, offset as u64, 1);
    h.total_size = 0;
    let mut v = frame(h, b"");
    for part in content[offset..].chunks(seg.max(1)) {
        v.extend(data(part));
    }
    v
}

const MD5: Digest = Digest([7; 16]);

#[test]
fn a_whole_file_and_a_shutdown_in_the_middle() {
    let f = file(5000);
    let mut s = segmented(&f, 1000, 1500);
    s.extend(frame(end_header(MD5), b""));
    assert_eq!(receive(&s, 4096), Outcome::Done(f[1000..].to_vec(), MD5));
    // The server stops after two segments and says why.
    let mut cut = segmented(&f[..4000], 1000, 1500);
    let mut h = get_reply(5000, 1000, 1);
    h.total_size = 0;
    cut.splice(
        ..frame(get_reply_zero(4000, 1000), b"").len(),
        frame(h, b""),
    );
    cut.extend(frame(error_reply("end", "server is shutting down"), b""));
    assert_eq!(
        receive(&cut, 7),
        Outcome::Refused(f[1000..4000].to_vec(), "server is shutting down".into())
    );
}

fn get_reply_zero(size: u64, offset: u64) -> Fields<'static> {
    Fields {
        total_size: 0,
        ..get_reply(size, offset, 1)
    }
}

#[test]
fn lies_and_mistakes_are_errors() {
    let f = file(100);
    // An end before all bytes.
    let mut short = segmented(&f[..60], 0, 30);
    short.splice(
        ..frame(get_reply_zero(60, 0), b"").len(),
        frame(get_reply_zero(100, 0), b""),
    );
    short.extend(frame(end_header(MD5), b""));
    assert_eq!(
        receive(&short, 9),
        Outcome::Failed(SegmentError::Short { missing: 40 })
    );
    // More than announced.
    let mut long = frame(get_reply_zero(10, 0), b"");
    long.extend(data(&f[..11]));
    assert_eq!(receive(&long, 3), Outcome::Failed(SegmentError::TooLong));
    // A reply with a body (a plain get's answer).
    let plain = frame(get_reply(10, 0, 1), &f[..10]);
    assert_eq!(
        receive(&plain, 64),
        Outcome::Failed(SegmentError::BadHeader)
    );
    // An empty segment, and a wrong op.
    let mut empty = frame(get_reply_zero(10, 0), b"");
    empty.extend(data(b""));
    assert_eq!(
        receive(&empty, 64),
        Outcome::Failed(SegmentError::EmptySegment)
    );
    let mut wrong = frame(get_reply_zero(10, 0), b"");
    wrong.extend(frame(&Header::with_op("stdout"), b""));
    assert_eq!(
        receive(&wrong, 64),
        Outcome::Failed(SegmentError::Transfer(TransferError::UnexpectedOp("data")))
    );
    // A segment beyond the limit is refused before its body is read.
    let mut big = Header::with_op("data");
    big.total_size = SEGMENT_MAX + 1;
    let mut huge = frame(get_reply_zero(SEGMENT_MAX * 4, 0), b"");
    huge.extend(frame(&big, b""));
    assert!(matches!(
        receive(&huge, 64),
        Outcome::Failed(SegmentError::Transfer(TransferError::Frame(_)))
    ));
    // A refusal instead of the header.
    let no = frame(error_reply("get", "x: no such file"), b"");
    assert_eq!(
        receive(&no, 5),
        Outcome::Refused(Vec::new(), "x: no such file".into())
    );
}

proptest! {
    /// However the stream is cut into reads, the client gets the same
    /// bytes and the same ending.
    #[test]
    fn any_chunking_gives_the_same_result(len in 0usize..3000, off in 0usize..3000,
                                          seg in 1usize..700, step in 1usize..200,
                                          stop in any::<bool>()) {
        let f = file(len);
        let off = off.min(len);
        let mut s = segmented(&f, off, seg);
        let want = if stop {
            s.extend(frame(error_reply("end", "server is shutting down"), b""));
            Outcome::Refused(f[off..].to_vec(), "server is shutting down".into())
        } else {
            s.extend(frame(end_header(MD5), b""));
            Outcome::Done(f[off..].to_vec(), MD5)
        };
        prop_assert_eq!(receive(&s, step), want);
    }

    /// Random bytes never panic and never produce more data than a
    /// header announced.
    #[test]
    fn random_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400),
                                 step in 1usize..50) {
        let _ = receive(&bytes, step);
    }
}
