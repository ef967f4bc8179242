//! Unit and property tests of the frame decoder: chunking independence,
//! limits checked before buffering, md5 verdicts, truncation.

use super::*;
use crate::wire::{emit_frame_header, short_string};

extern crate std;
use std::boxed::Box;
use std::vec::Vec as StdVec;

/// Collected events with owned data, to compare decodings.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Header(Box<Header>),
    Body(StdVec<u8>),
    End(Md5Verdict),
}

fn frame(header: &Header, body: &[u8]) -> StdVec<u8> {
    let mut buf = [0u8; 1024];
    let n = emit_frame_header(header, &mut buf).unwrap();
    let mut v = buf[..n].to_vec();
    v.extend_from_slice(body);
    v
}

/// Decodes `chunks` in order, merging adjacent body events.
fn run(dec: &mut FrameDecoder<256>, chunks: &[&[u8]]) -> Result<StdVec<Owned>, FrameError> {
    let mut out: StdVec<Owned> = StdVec::new();
    for chunk in chunks {
        let mut input = *chunk;
        loop {
            let (used, ev) = dec.decode(input)?;
            input = &input[used..];
            match ev {
                None => break,
                Some(Event::Header(h)) => out.push(Owned::Header(Box::new(h.clone()))),
                Some(Event::Body(b)) => match out.last_mut() {
                    Some(Owned::Body(v)) => v.extend_from_slice(b),
                    _ => out.push(Owned::Body(b.to_vec())),
                },
                Some(Event::End(v)) => out.push(Owned::End(v)),
            }
        }
        assert!(input.is_empty(), "None must mean all input consumed");
    }
    Ok(out)
}

fn header(total: u64, md5: Option<Digest>) -> Header {
    let mut h = Header::with_op("x");
    h.total_size = total;
    h.md5 = md5;
    h
}

/// The texts as the `format!` strings wrote them before they were written
/// piece by piece (files refusals send them).
#[test]
fn error_texts_are_the_format_strings() {
    use std::format;
    use std::string::ToString;
    let (d, e) = (Digest::of(b"a"), Digest::of(b"b"));
    let hex = |x: Digest| std::string::String::from_utf8(x.to_hex().to_vec()).unwrap();
    let cases = [
        (
            FrameError::NegativeHeaderLength { value: i32::MIN },
            format!("negative header length {}", i32::MIN),
        ),
        (
            FrameError::HeaderTooLarge {
                len: u32::MAX,
                limit: 7,
            },
            format!("header of {} bytes exceeds the limit of 7 bytes", u32::MAX),
        ),
        (FrameError::EmptyHeader, "empty header".to_string()),
        (
            FrameError::Header(HeaderError::StringTooLong { limit: 512 }),
            "header string longer than 512 bytes".to_string(),
        ),
        (
            FrameError::Header(HeaderError::BufferTooSmall { limit: 3 }),
            "header does not fit in 3 bytes".to_string(),
        ),
        (
            FrameError::Header(HeaderError::NotJson),
            "header is not a JSON object".to_string(),
        ),
        (
            FrameError::BodyTooLarge {
                total_size: u64::MAX,
                limit: 0,
            },
            format!("body of {} bytes exceeds the limit of 0 bytes", u64::MAX),
        ),
        (
            FrameError::Md5Mismatch {
                expected: d,
                actual: e,
            },
            format!("md5 mismatch: header says {}, body is {}", hex(d), hex(e)),
        ),
    ];
    for (err, want) in cases {
        assert_eq!(err.to_string(), want);
    }
    for part in [Part::Prefix, Part::Header, Part::Body] {
        let err = FrameError::Truncated { part, missing: 12 };
        let want = format!("stream ended inside the frame {part:?} (12 bytes missing)");
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn one_byte_at_a_time_equals_whole() {
    let body = b"hello world";
    let mut stream = frame(&header(11, Some(Digest::of(body))), body);
    stream.extend(frame(&header(0, None), b""));
    let whole = run(&mut FrameDecoder::new(), &[&stream]).unwrap();
    let bytes: StdVec<&[u8]> = stream.chunks(1).collect();
    let split = run(&mut FrameDecoder::new(), &bytes).unwrap();
    assert_eq!(whole, split);
    assert_eq!(whole.len(), 5);
    assert_eq!(whole[1], Owned::Body(body.to_vec()));
    assert_eq!(whole[2], Owned::End(Md5Verdict::Match(Digest::of(body))));
    assert_eq!(whole[4], Owned::End(Md5Verdict::Absent));
}

#[test]
fn limits_are_checked_before_buffering() {
    let mut dec: FrameDecoder<256> = FrameDecoder::new();
    assert_eq!(
        dec.decode(&300u32.to_le_bytes()).err(),
        Some(FrameError::HeaderTooLarge {
            len: 300,
            limit: 256
        })
    );
    // Fatal errors stick.
    assert!(dec.decode(b"{}").is_err());
    let mut dec: FrameDecoder<256> = FrameDecoder::new();
    assert_eq!(
        dec.decode(&[0, 0, 0, 0x80]).err(),
        Some(FrameError::NegativeHeaderLength { value: i32::MIN })
    );
    let mut dec: FrameDecoder<256> = FrameDecoder::with_limits(Limits {
        max_body: 10,
        ..Limits::default()
    });
    let f = frame(&header(11, None), b"");
    assert_eq!(
        run(&mut dec, &[&f]).err(),
        Some(FrameError::BodyTooLarge {
            total_size: 11,
            limit: 10
        })
    );
}

#[test]
fn md5_mismatch_is_reported_and_recoverable() {
    let good = b"abc";
    let mut stream = frame(&header(3, Some(Digest::of(good))), b"abd");
    stream.extend(frame(&header(3, Some(Digest::of(good))), good));
    let mut dec: FrameDecoder<256> = FrameDecoder::new();
    let err = run(&mut dec, &[&stream]).unwrap_err();
    assert_eq!(
        err,
        FrameError::Md5Mismatch {
            expected: Digest::of(good),
            actual: Digest::of(b"abd")
        }
    );
    // The decoder resumes with the next frame.
    let skip = stream.len() / 2;
    let rest = run(&mut dec, &[&stream[skip..]]).unwrap();
    assert_eq!(
        rest.last(),
        Some(&Owned::End(Md5Verdict::Match(Digest::of(good))))
    );
}

#[test]
fn a_decoder_without_md5_does_not_verify() {
    // A wrong digest: the hashing decoder fails, the one without MD5
    // passes the same frame through and says the digest went unchecked.
    let stream = frame(&header(3, Some(Digest::of(b"abc"))), b"abd");
    let mut dec: FrameDecoder<256, false> = FrameDecoder::new();
    let mut input = &stream[..];
    let mut events = StdVec::new();
    while let (used, Some(ev)) = dec.decode(input).unwrap() {
        input = &input[used..];
        events.push(match ev {
            Event::Header(h) => Owned::Header(Box::new(h.clone())),
            Event::Body(b) => Owned::Body(b.to_vec()),
            Event::End(v) => Owned::End(v),
        });
    }
    assert_eq!(events[1], Owned::Body(b"abd".to_vec()));
    assert_eq!(events[2], Owned::End(Md5Verdict::Unverifiable));
    // Without a digest in the header: Absent, as with MD5.
    let stream = frame(&header(2, None), b"ok");
    let (used, _) = dec.decode(&stream).unwrap();
    let (n, _) = dec.decode(&stream[used..]).unwrap();
    let (_, end) = dec.decode(&stream[used + n..]).unwrap();
    assert!(
        matches!(end, Some(Event::End(Md5Verdict::Absent))),
        "{end:?}"
    );
}

#[test]
fn lenient_md5_is_unverifiable() {
    let json = br#"{"total_size": 2, "md5": "12387459560yhsdjsncvnchfuuiokwjdndb"}"#;
    let mut stream = (json.len() as u32).to_le_bytes().to_vec();
    stream.extend_from_slice(json);
    stream.extend_from_slice(b"ok");
    let strict = run(&mut FrameDecoder::new(), &[&stream]).unwrap_err();
    assert_eq!(strict, FrameError::Header(HeaderError::InvalidMd5));
    let mut dec: FrameDecoder<256> = FrameDecoder::with_limits(Limits {
        strict_md5: false,
        ..Limits::default()
    });
    let events = run(&mut dec, &[&stream]).unwrap();
    assert_eq!(events.last(), Some(&Owned::End(Md5Verdict::Unverifiable)));
}

#[test]
fn finish_reports_truncation() {
    let f = frame(&header(5, None), b"he");
    let mut dec: FrameDecoder<256> = FrameDecoder::new();
    run(&mut dec, &[&f]).unwrap();
    assert_eq!(
        dec.finish(),
        Err(FrameError::Truncated {
            part: Part::Body,
            missing: 3
        })
    );
    let mut dec: FrameDecoder<256> = FrameDecoder::new();
    run(&mut dec, &[&f[..6]]).unwrap();
    assert!(matches!(
        dec.finish(),
        Err(FrameError::Truncated {
            part: Part::Header,
            ..
        })
    ));
    let mut dec: FrameDecoder<256> = FrameDecoder::new();
    run(&mut dec, &[&f[..2]]).unwrap();
    assert_eq!(
        dec.finish(),
        Err(FrameError::Truncated {
            part: Part::Prefix,
            missing: 2
        })
    );
    assert_eq!(FrameDecoder::<256>::new().finish(), Ok(()));
}

#[test]
fn header_fields_survive() {
    let mut h = header(1, None);
    h.filename = short_string("文件.txt");
    let f = frame(&h, b"z");
    let ev = run(&mut FrameDecoder::new(), &[&f]).unwrap();
    assert_eq!(ev[0], Owned::Header(Box::new(h)));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// A stream of 1..5 frames, the offsets where each frame ends, and the
    /// events the frames were built from (the oracle).
    fn frames() -> impl Strategy<Value = (StdVec<u8>, StdVec<usize>, StdVec<Owned>)> {
        prop::collection::vec(
            (
                prop::collection::vec(any::<u8>(), 0..200),
                any::<bool>(),
                "[a-z\u{4e00}-\u{4e10}\"\\\\]{0,20}",
            ),
            1..5,
        )
        .prop_map(|frames| {
            let mut out = StdVec::new();
            let mut ends = StdVec::new();
            let mut events = StdVec::new();
            for (body, with_md5, name) in &frames {
                let mut h = header(body.len() as u64, with_md5.then(|| Digest::of(body)));
                h.filename = short_string(name);
                out.extend(frame(&h, body));
                ends.push(out.len());
                events.push(Owned::Header(Box::new(h)));
                if !body.is_empty() {
                    events.push(Owned::Body(body.clone()));
                }
                events.push(Owned::End(if *with_md5 {
                    Md5Verdict::Match(Digest::of(body))
                } else {
                    Md5Verdict::Absent
                }));
            }
            (out, ends, events)
        })
    }

    proptest! {
        /// Oracle: random frames, encoded, cut into random chunks, decode
        /// to the headers, bodies and verdicts they were built from.
        #[test]
        fn any_chunking_gives_back_the_frames((stream, _ends, expect) in frames(), cuts in crate::codec::chunking::cuts()) {
            let chunks = crate::codec::chunking::split(&stream, &cuts);
            let mut dec = FrameDecoder::new();
            prop_assert_eq!(run(&mut dec, &chunks).unwrap(), expect);
            prop_assert_eq!(dec.finish(), Ok(()));
        }

        #[test]
        fn every_strict_prefix_is_partial((stream, ends, _) in frames()) {
            for cut in 0..stream.len() {
                let mut dec = FrameDecoder::new();
                // Never an error: a prefix of a valid stream only needs more.
                let events = run(&mut dec, &[&stream[..cut]]).unwrap();
                let complete = ends.iter().filter(|&&e| e <= cut).count();
                prop_assert_eq!(events.iter().filter(|e| matches!(e, Owned::End(_))).count(), complete);
                let at_boundary = cut == 0 || ends.contains(&cut);
                prop_assert_eq!(dec.finish().is_ok(), at_boundary, "cut {}", cut);
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), split in any::<usize>()) {
            let split = split % (bytes.len() + 1);
            let mut dec: FrameDecoder<256> = FrameDecoder::new();
            let _ = run(&mut dec, &[&bytes[..split], &bytes[split..]]);
            let _ = dec.finish();
        }
    }
}
