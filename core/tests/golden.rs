//! Golden vectors: frames produced by Python's `struct`/`json`/`hashlib`
//! exactly as the seeds produce them must decode to what Python put in, and
//! frames wirekit-core writes must decode in Python the way the seeds'
//! clients read them.
//!
//! Python ran once, by `golden_vectors.py`; its output is checked in under
//! `tests/vectors/`, so `cargo test` needs no Python. `scripts/golden-vectors`
//! reruns the script and compares (the live cross-check in `scripts/test`).
//!
//! - `python_frames.txt`: `golden_vectors.py make`.
//! - `wirekit_frames.txt`: the frames this test writes (compared byte for
//!   byte), fed to `golden_vectors.py check`, whose output must be
//!   `wirekit_frames.decoded.txt` (which this test also computes).

use wirekit_core::codec::frame::{Event, FrameDecoder, Limits, Md5Verdict};
use wirekit_core::wire::{emit_frame_header, short_string, Digest, Header};

fn vectors(name: &str) -> String {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn unhex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex(b: &[u8]) -> String {
    if b.is_empty() {
        return "-".into();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Decodes one frame, lenient about md5 like a seed-compatible client.
fn decode(frame: &[u8]) -> (Header, Vec<u8>, Option<Md5Verdict>) {
    let mut dec: FrameDecoder = FrameDecoder::with_limits(Limits {
        strict_md5: false,
        ..Limits::default()
    });
    let (mut header, mut body, mut verdict) = (None, Vec::new(), None);
    let mut input = frame;
    loop {
        let (used, ev) = dec.decode(input).expect("valid frame");
        input = &input[used..];
        match ev {
            Some(Event::Header(h)) => header = Some(h.clone()),
            Some(Event::Body(b)) => body.extend_from_slice(b),
            Some(Event::End(v)) => verdict = Some(v),
            None => break,
        }
    }
    (header.expect("a header"), body, verdict)
}

#[test]
fn python_frames_decode_to_what_python_put_in() {
    let vectors = vectors("python_frames.txt");
    let mut count = 0;
    for line in vectors.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let [name, frame, fname, size, md5, body] = f[..] else {
            panic!("bad vector line {line}")
        };
        let (h, got_body, verdict) = decode(&unhex(frame));
        let fname = String::from_utf8(unhex(fname)).unwrap();
        assert_eq!(
            h.filename.as_deref().unwrap_or(""),
            fname,
            "{name} filename"
        );
        assert_eq!(h.total_size, size.parse::<u64>().unwrap(), "{name} size");
        assert_eq!(got_body, unhex(body), "{name} body");
        if md5 != "-" {
            assert_eq!(h.md5, Digest::from_hex(md5.as_bytes()), "{name} md5");
        }
        let expect_verdict = match name {
            "seed001_exec" => Some(Md5Verdict::Unverifiable),
            // Only the header of the 1 TB frame is in the vector.
            "seed002_1tb_header" => None,
            "seed000_missing" => Some(Md5Verdict::Absent),
            _ => Some(Md5Verdict::Match(Digest::of(&got_body))),
        };
        assert_eq!(verdict, expect_verdict, "{name} verdict");
        count += 1;
    }
    assert_eq!(count, 5, "all vectors checked");
}

#[test]
fn wirekit_frames_decode_in_python_like_the_seeds() {
    let cases: [(&str, &str, &[u8], bool); 3] = [
        ("plain", "a.txt", b"hello", false),
        ("unicode", "目录/\"名\"\\n.txt", "你好\n".as_bytes(), true),
        ("empty", "e", b"", true),
    ];
    let mut input = String::new();
    let mut expect = String::new();
    for (name, fname, body, md5) in cases {
        let h = Header {
            filename: short_string(fname),
            total_size: body.len() as u64,
            md5: md5.then(|| Digest::of(body)),
            ..Header::default()
        };
        let mut buf = vec![0u8; 1024];
        let n = emit_frame_header(&h, &mut buf).unwrap();
        buf.truncate(n);
        buf.extend_from_slice(body);
        input += &format!("{name} {}\n", hex(&buf));
        let md5 = h.md5.map_or("-".into(), |d| d.to_string());
        expect += &format!(
            "{name} {} {} {md5} {}\n",
            hex(fname.as_bytes()),
            body.len(),
            hex(body)
        );
    }
    assert_eq!(
        input,
        vectors("wirekit_frames.txt"),
        "wirekit's frames changed"
    );
    assert_eq!(
        expect,
        vectors("wirekit_frames.decoded.txt"),
        "python's reading"
    );
}
