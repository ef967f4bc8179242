use super::*;
extern crate std;
use proptest::prelude::*;
use std::vec::Vec;

/// The bytes a seed 002 client sends for `put` of `file` cut in `chunk`s.
fn upload_stream(file: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&size_prefix(file.len() as u64).unwrap());
    for c in file.chunks(chunk.max(1)) {
        let mut h = [0u8; CHUNK_HEADER_CAP];
        let n = chunk_header("f.bin", c, &mut h).unwrap();
        out.extend_from_slice(&h[..n]);
        out.extend_from_slice(c);
    }
    out
}

fn run(up: &mut Upload, chunks: &[&[u8]]) -> Result<(Vec<u8>, bool), UploadError> {
    let mut data = Vec::new();
    for chunk in chunks {
        let mut input = *chunk;
        loop {
            let (used, ev) = up.decode(input)?;
            input = &input[used..];
            match ev {
                None => {
                    assert!(input.is_empty(), "None means all input was consumed");
                    break;
                }
                Some(UploadEvent::Data(b)) => data.extend_from_slice(b),
                Some(
                    UploadEvent::Size(_) | UploadEvent::Chunk { .. } | UploadEvent::ChunkVerified,
                ) => {}
                Some(UploadEvent::Done) => return Ok((data, true)),
            }
        }
    }
    // Flush the end of the last frame.
    for _ in 0..3 {
        if let (_, Some(UploadEvent::Done)) = up.decode(&[])? {
            return Ok((data, true));
        }
    }
    Ok((data, false))
}

#[test]
fn header_matches_json_dumps() {
    let mut h = [0u8; CHUNK_HEADER_CAP];
    let n = chunk_header("a.txt", b"hi\n", &mut h).unwrap();
    let json =
        br#"{"file_name": "a.txt", "file_size": 3, "md5": "764efa883dda1e11db47671c4a3bbd9e"}"#;
    assert_eq!(&h[4..n], json);
    assert_eq!(&h[..4], &(json.len() as u32).to_le_bytes());
}

#[test]
fn commands() {
    assert_eq!(parse_command(b"put x.bin\n"), Ok((Verb::Put, "x.bin")));
    assert_eq!(parse_command(b"get a b"), Err(CommandError::Malformed));
    assert_eq!(parse_command(b"get"), Err(CommandError::Malformed));
    assert_eq!(parse_command(b"del a"), Err(CommandError::UnknownVerb));
    assert_eq!(size_prefix(1 << 31), None);
    assert_eq!(command_len(b"put a.txt\x91\x01\x00\x00"), 9);
    assert_eq!(
        command_len(b"put a.txtAB\x00\x00"),
        11,
        "no header: best effort"
    );
    let mut s = b"put a.txt".to_vec();
    s.extend(upload_stream(&[1u8; 0x4241], 100_000));
    assert_eq!(&s[9..11], b"AB");
    assert_eq!(command_len(&s), 9, "the chunk header pins the boundary");
    assert_eq!(command_len(b"get a.txt"), 9);
    assert_eq!(command_len(&[b'a'; 2000]), MAX_COMMAND);
}

#[test]
fn corrupted_chunk_is_refused() {
    let file = b"line one\nline two\n";
    let mut s = upload_stream(file, 9);
    let last = s.len() - 1;
    s[last] ^= 1;
    let mut up = Upload::new(1000);
    assert_eq!(
        run(&mut up, &[&s]),
        Err(UploadError::ChunkMismatch { offset: 9 })
    );
}

#[test]
fn limits_are_enforced() {
    let s = upload_stream(&[7u8; 100], 10);
    let mut up = Upload::new(50);
    assert_eq!(
        run(&mut up, &[&s]),
        Err(UploadError::TooLarge {
            size: 100,
            limit: 50
        })
    );
    let mut up = Upload::new(1000);
    assert_eq!(
        run(&mut up, &[&(-5i32).to_le_bytes()]),
        Err(UploadError::NegativeSize)
    );
    // A chunk announcing more than the file has left.
    let mut s = size_prefix(2).unwrap().to_vec();
    let mut h = [0u8; CHUNK_HEADER_CAP];
    let n = chunk_header("f", b"abc", &mut h).unwrap();
    s.extend_from_slice(&h[..n]);
    let mut up = Upload::new(1000);
    assert_eq!(
        run(&mut up, &[&s]),
        Err(UploadError::BadChunkSize {
            len: 3,
            remaining: 2
        })
    );
}

#[test]
fn empty_file_is_done_at_once() {
    let mut up = Upload::new(10);
    assert_eq!(
        run(&mut up, &[&upload_stream(b"", 4)]),
        Ok((Vec::new(), true))
    );
}

proptest! {
    #[test]
    fn any_chunking_round_trips(file in prop::collection::vec(any::<u8>(), 0..600), chunk in 1usize..200, cut in any::<usize>()) {
        let s = upload_stream(&file, chunk);
        let cut = cut % (s.len() + 1);
        let mut up = Upload::new(10_000);
        prop_assert_eq!(run(&mut up, &[&s[..cut], &s[cut..]]).unwrap(), (file.clone(), true));
        let bytes: Vec<&[u8]> = s.chunks(1).collect();
        let mut up = Upload::new(10_000);
        prop_assert_eq!(run(&mut up, &bytes).unwrap(), (file, true));
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut up = Upload::new(1 << 20);
        let _ = run(&mut up, &[&bytes]);
    }
}
