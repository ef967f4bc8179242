use super::*;
extern crate std;
use crate::wire::{emit_frame_header, Fields};
use proptest::prelude::*;
use std::vec::Vec;

fn frame<'a>(h: impl Into<Fields<'a>>, body: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; HEADER_CAP];
    let n = emit_frame_header(h, &mut buf).unwrap();
    let mut v = buf[..n].to_vec();
    v.extend_from_slice(body);
    v
}

fn receive(
    t: &mut Transfer,
    stream: &[u8],
    step: usize,
) -> Result<(Vec<u8>, Option<Digest>), TransferError> {
    let mut data = Vec::new();
    for chunk in stream.chunks(step.max(1)) {
        let mut input = chunk;
        loop {
            let (used, ev) = t.decode(input)?;
            input = &input[used..];
            match ev {
                Some(TransferEvent::Header(h)) => assert!(h.is_op("get") || h.is_op("data")),
                Some(TransferEvent::Data(b)) => data.extend_from_slice(b),
                Some(TransferEvent::End(d)) => return Ok((data, Some(d))),
                Some(TransferEvent::Refused(m)) => return Ok((m.as_bytes().to_vec(), None)),
                Some(TransferEvent::BodyEnd | TransferEvent::Segment) => {}
                None => {
                    assert!(input.is_empty(), "None means all input was consumed");
                    break;
                }
            }
        }
    }
    for _ in 0..2 {
        if let (_, Some(TransferEvent::End(d))) = t.decode(&[])? {
            return Ok((data, Some(d)));
        }
    }
    Ok((data, None))
}

#[test]
fn requests_parse_and_names_are_checked() {
    let mut h = request("put", "a/b.txt").unwrap();
    h.size = Some(10);
    h.force = Some(true);
    assert_eq!(
        parse_request(&h),
        Ok(Request::Put {
            name: "a/b.txt",
            size: 10,
            force: true,
            resume: false
        })
    );
    let h = request("get", "../../etc/passwd").unwrap();
    assert_eq!(
        parse_request(&h),
        Err(RequestError::Name(NameError::ParentDir))
    );
    let h = request("get", "/etc/passwd").unwrap();
    assert_eq!(
        parse_request(&h),
        Err(RequestError::Name(NameError::Absolute))
    );
    let h = request("put", "x").unwrap();
    assert_eq!(parse_request(&h), Err(RequestError::NoSize));
    assert_eq!(
        parse_request(&Header::with_op("list")),
        Ok(Request::List { dir: "" })
    );
    assert_eq!(
        parse_request(&Header::with_op("rm")),
        Err(RequestError::UnknownOp)
    );
    let mut h = request("stat", "x").unwrap();
    h.total_size = 1;
    assert_eq!(parse_request(&h), Err(RequestError::UnexpectedBody));
    assert!(name_string(&"a".repeat(600)).is_err());
}

#[test]
fn get_transfer_with_trailer() {
    let file = b"0123456789";
    let mut s = frame(get_reply(10, 4, 7), &file[4..]);
    s.extend(frame(end_header(Digest::of(file)), b""));
    let mut t = Transfer::new("get", u64::MAX);
    assert_eq!(
        receive(&mut t, &s, 3),
        Ok((file[4..].to_vec(), Some(Digest::of(file))))
    );
    assert!(t.is_done());
}

#[test]
fn refusals_and_wrong_frames() {
    let s = frame(error_reply("get", "no such file: x"), b"");
    let mut t = Transfer::new("get", u64::MAX);
    assert_eq!(
        receive(&mut t, &s, 100),
        Ok((b"no such file: x".to_vec(), None))
    );
    let s = frame(data_header(0, 2), b"ab");
    let mut t = Transfer::new("get", u64::MAX);
    assert_eq!(
        receive(&mut t, &s, 100),
        Err(TransferError::UnexpectedOp("get"))
    );
    let mut s = frame(data_header(0, 2), b"ab");
    s.extend(frame(&Header::with_op("end"), b""));
    let mut t = Transfer::new("data", u64::MAX);
    assert_eq!(receive(&mut t, &s, 100), Err(TransferError::NoMd5));
    let s = frame(data_header(0, 20), b"");
    let mut t = Transfer::new("data", 10);
    assert!(matches!(
        receive(&mut t, &s, 100),
        Err(TransferError::Frame(_))
    ));
}

proptest! {
    #[test]
    fn any_chunking_round_trips(file in prop::collection::vec(any::<u8>(), 0..500), step in 1usize..64) {
        let mut s = frame(data_header(0, file.len() as u64), &file);
        s.extend(frame(end_header(Digest::of(&file)), b""));
        let mut t = Transfer::new("data", u64::MAX);
        prop_assert_eq!(receive(&mut t, &s, step).unwrap(), (file.clone(), Some(Digest::of(&file))));
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut t = Transfer::new("get", 1 << 20);
        let _ = receive(&mut t, &bytes, 7);
    }
}
