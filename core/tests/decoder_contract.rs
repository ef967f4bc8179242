//! The decoder contract of docs/PROTOCOL.md, checked on the public API of
//! the session decoders outside `codec/`: `decode` returns `None` only
//! when all of its input was consumed. A finished transfer or upload must
//! not claim to have eaten the bytes that follow it (the next request).

use wirekit_core::service::file::native::segments::{self, Segments};
use wirekit_core::service::file::native::{
    end_header, get_reply, Transfer, TransferEvent, HEADER_CAP,
};
use wirekit_core::service::file::seed002::{
    chunk_header, size_prefix, Upload, UploadEvent, CHUNK_HEADER_CAP,
};
use wirekit_core::wire::{emit_frame_header, Digest, Fields};

fn frame<'a>(h: impl Into<Fields<'a>>, body: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; HEADER_CAP];
    let n = emit_frame_header(h, &mut buf).unwrap();
    let mut v = buf[..n].to_vec();
    v.extend_from_slice(body);
    v
}

#[test]
fn a_finished_transfer_leaves_the_next_request_unconsumed() {
    let file = b"0123456789";
    let mut s = frame(get_reply(10, 0, 7), file);
    s.extend(frame(end_header(Digest::of(file)), b""));
    let next = b"next request";
    s.extend_from_slice(next);
    let mut t = Transfer::new("get", u64::MAX);
    let mut input = &s[..];
    loop {
        let (used, ev) = t.decode(input).unwrap();
        input = &input[used..];
        match ev {
            None => assert!(input.is_empty(), "None with {} bytes left", input.len()),
            Some(TransferEvent::End(_)) => break,
            Some(_) => {}
        }
    }
    assert_eq!(input, next);
    assert!(t.is_done());
    // After the end: nothing is consumed, and the answer is not `None`.
    let (used, ev) = t.decode(input).unwrap();
    assert_eq!(used, 0);
    assert_eq!(ev, Some(TransferEvent::End(Digest::of(file))));
}

/// A segmented get: `None` only with all input taken, between segments
/// too (a `data` header and a segment's end are events), and after the
/// end the next request is left alone. Failed before: a `data` header
/// returned `None` with its segment's bytes unread, and a finished
/// decoder `(0, None)`.
#[test]
fn a_segmented_get_leaves_nothing_unreported_and_the_next_request_unconsumed() {
    let file = b"0123456789abcdef";
    let mut s = frame(segments::reply(16, 0, 7), b"");
    for part in file.chunks(5) {
        s.extend(frame(segments::segment_header(part.len() as u64), part));
    }
    s.extend(frame(end_header(Digest::of(file)), b""));
    let next = b"next request";
    s.extend_from_slice(next);
    let mut t = Segments::new();
    let mut input = &s[..];
    let mut got = Vec::new();
    loop {
        let (used, ev) = t.decode(input).unwrap();
        input = &input[used..];
        match ev {
            None => assert!(input.is_empty(), "None with {} bytes left", input.len()),
            Some(TransferEvent::Data(b)) => got.extend_from_slice(b),
            Some(TransferEvent::End(_)) => break,
            Some(_) => {}
        }
    }
    assert_eq!(got, file);
    assert_eq!(input, next);
    let (used, ev) = t.decode(input).unwrap();
    assert_eq!(used, 0);
    assert_eq!(ev, Some(TransferEvent::End(Digest::of(file))));
}

#[test]
fn a_finished_seed002_upload_leaves_the_next_command_unconsumed() {
    let file = b"hello, seed 002";
    let mut s = size_prefix(file.len() as u64).unwrap().to_vec();
    let mut h = [0u8; CHUNK_HEADER_CAP];
    let n = chunk_header("f.bin", file, &mut h).unwrap();
    s.extend_from_slice(&h[..n]);
    s.extend_from_slice(file);
    let next = b"get f.bin";
    s.extend_from_slice(next);
    let mut up = Upload::new(1000);
    let mut input = &s[..];
    loop {
        let (used, ev) = up.decode(input).unwrap();
        input = &input[used..];
        match ev {
            None => assert!(input.is_empty(), "None with {} bytes left", input.len()),
            Some(UploadEvent::Done) => break,
            Some(_) => {}
        }
    }
    assert_eq!(input, next);
    let (used, ev) = up.decode(input).unwrap();
    assert_eq!(used, 0);
    assert_eq!(ev, Some(UploadEvent::Done));
}
