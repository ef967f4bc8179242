//! The files session without sockets: exact reply bytes, refusals, the
//! end of a session, and any chunking of input and output.

mod full;

extern crate std;
use std::string::{String, ToString};
use std::vec::Vec;

use ::md5::{Digest as _, Md5};
use proptest::prelude::*;

use super::*;
use crate::wire::Digest;

pub(super) struct Mem {
    pub(super) files: Vec<(&'static str, Vec<u8>, u64)>,
    /// Bytes a read may still return (a file "shrinking").
    read_limit: Option<u64>,
    /// mtime reported after opening (a file "changing").
    touched: bool,
}

pub(super) fn md5_of(b: &[u8]) -> Digest {
    Digest(Md5::digest(b).into())
}

impl Mem {
    pub(super) fn new() -> Mem {
        Mem {
            files: std::vec![
                ("README.txt", b"hello board\n".to_vec(), 1_700_000_000),
                (
                    "blob.bin",
                    (0..=255u8).cycle().take(3000).collect(),
                    1_700_000_001
                ),
                ("empty", Vec::new(), 5),
            ],
            read_limit: None,
            touched: false,
        }
    }

    fn info(&self, i: usize) -> FileMeta {
        let (_, data, mtime) = &self.files[i];
        FileMeta {
            size: data.len() as u64,
            mtime: *mtime + u64::from(self.touched),
            md5: md5_of(data),
        }
    }
}

impl FileStore for Mem {
    type File = usize;
    fn open(&mut self, name: &str) -> Result<(usize, FileMeta), Refusal> {
        if name == "sub" {
            return Err(Refusal("is a directory"));
        }
        let i = self.files.iter().position(|f| f.0 == name);
        let i = i.ok_or(Refusal("no such file"))?;
        Ok((i, self.info(i)))
    }
    fn read(&mut self, file: usize, offset: u64, buf: &mut [u8]) -> Result<usize, Refusal> {
        let data = &self.files[file].1;
        let end = match self.read_limit {
            Some(l) => l.min(data.len() as u64),
            None => data.len() as u64,
        };
        let from = offset.min(end) as usize;
        let n = buf.len().min(end as usize - from);
        buf[..n].copy_from_slice(&data[from..from + n]);
        Ok(n)
    }
    fn meta(&mut self, file: usize) -> Result<FileMeta, Refusal> {
        Ok(self.info(file))
    }
    fn entry(&mut self, dir: &str, index: usize) -> Result<Option<Entry<'_>>, Refusal> {
        if !dir.is_empty() {
            return Err(Refusal("no such file"));
        }
        Ok(self.files.get(index).map(|(name, data, mtime)| Entry {
            name,
            dir: false,
            size: data.len() as u64,
            mtime: *mtime,
        }))
    }
}

fn frame(json: &str) -> Vec<u8> {
    let mut v = (json.len() as u32).to_le_bytes().to_vec();
    v.extend_from_slice(json.as_bytes());
    v
}

pub(super) fn request(json: &str) -> Vec<u8> {
    frame(json)
}

type Session = FilesServer<usize>;

/// Drives a session over `chunks` with an output buffer of `out` bytes;
/// returns everything sent and the first error.
fn run(store: &mut Mem, chunks: &[&[u8]], out: usize) -> (Vec<u8>, Option<Error>) {
    let mut s = Session::new(0, 60_000);
    let mut sent = Vec::new();
    let mut buf = std::vec![0u8; out];
    let mut drain = |s: &mut Session, store: &mut Mem, sent: &mut Vec<u8>| loop {
        match s.poll_output(0, store, &mut buf) {
            Ok(0) => return None,
            Ok(n) => sent.extend_from_slice(&buf[..n]),
            Err(e) => return Some(e),
        }
    };
    for chunk in chunks {
        let mut rest = *chunk;
        loop {
            if let Some(e) = drain(&mut s, store, &mut sent) {
                return (sent, Some(e));
            }
            if s.wants_close() {
                return (sent, None);
            }
            let (n, ev) = s.handle_input(0, rest);
            rest = &rest[n..];
            if ev.is_none() && rest.is_empty() {
                break;
            }
        }
    }
    let err = drain(&mut s, store, &mut sent);
    let err = err.or(s.handle_eof().err());
    let err = err.or(drain(&mut s, store, &mut sent));
    assert!(err.is_some() || s.wants_close());
    (sent, err)
}

fn serve(input: &[u8]) -> (Vec<u8>, Option<Error>) {
    run(&mut Mem::new(), &[input], MIN_OUTPUT)
}

/// Splits `bytes` into frames: (header JSON, body).
pub(super) fn frames(mut bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let n = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        let json = String::from_utf8(bytes[4..4 + n].to_vec()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let body = v["total_size"].as_u64().unwrap() as usize;
        out.push((json, bytes[4 + n..4 + n + body].to_vec()));
        bytes = &bytes[4 + n + body..];
    }
    out
}

#[test]
fn get_sends_header_bytes_and_md5_trailer() {
    let (out, err) = serve(&request(r#"{"op":"get","filename":"README.txt"}"#));
    assert_eq!(err, None);
    let f = frames(&out);
    assert_eq!(f.len(), 2);
    // The host's exact header (field order of the core's encoder).
    assert_eq!(
        f[0].0,
        r#"{"op":"get","total_size":12,"offset":0,"status":"ok","mtime":1700000000,"size":12}"#
    );
    assert_eq!(f[0].1, b"hello board\n");
    let md5 = md5_of(b"hello board\n").to_hex();
    let end = std::format!(
        r#"{{"op":"end","total_size":0,"md5":"{}","status":"ok"}}"#,
        core::str::from_utf8(&md5).unwrap()
    );
    assert_eq!(f[1].0, end);
}

#[test]
fn get_from_an_offset_and_of_an_empty_file() {
    let mut input = request(r#"{"op":"get","filename":"blob.bin","offset":2990}"#);
    input.extend(request(r#"{"op":"get","filename":"empty"}"#));
    let (out, _) = serve(&input);
    let f = frames(&out);
    assert_eq!(f.len(), 4);
    assert!(
        f[0].0.contains(r#""total_size":10,"offset":2990"#),
        "{}",
        f[0].0
    );
    assert_eq!(f[0].1, Mem::new().files[1].1[2990..]);
    // The trailer's md5 covers the whole file, as on the host.
    assert!(f[1]
        .0
        .contains(&std::format!("{}", md5_of(&Mem::new().files[1].1))));
    assert!(f[2].0.contains(r#""total_size":0"#));
    assert!(f[3].0.contains(r#""op":"end""#));
}

#[test]
fn refusals_name_the_file_and_the_session_goes_on() {
    let mut input = request(r#"{"op":"get","filename":"nope"}"#);
    input.extend(request(
        r#"{"op":"get","filename":"blob.bin","offset":3001}"#,
    ));
    input.extend(request(r#"{"op":"put","filename":"x","size":3}"#));
    input.extend(request(r#"{"op":"stat","filename":"sub"}"#));
    input.extend(request(r#"{"op":"frob","filename":"x"}"#));
    input.extend(request(r#"{"op":"get","filename":"../etc/passwd"}"#));
    input.extend(request(r#"{"op":"list","filename":"nodir"}"#));
    input.extend(request(r#"{"op":"stat","filename":"empty"}"#));
    let (out, err) = serve(&input);
    assert_eq!(err, None);
    let f: Vec<String> = frames(&out).into_iter().map(|f| f.0).collect();
    let e = |op: &str, msg: &str| {
        std::format!(r#"{{"op":"{op}","total_size":0,"status":"error","error":"{msg}"}}"#)
    };
    assert_eq!(f[0], e("get", "nope: no such file"));
    assert_eq!(
        f[1],
        e("get", "blob.bin: offset 3001 is past the end (3000 bytes)")
    );
    assert_eq!(f[2], e("put", "x: this server is read-only"));
    assert_eq!(f[3], e("stat", "sub: is a directory"));
    assert_eq!(
        f[4],
        e(
            "frob",
            "unknown operation (get, put, stat, list, challenge, auth)"
        )
    );
    assert_eq!(f[5], e("get", "'..' is not allowed in file names"));
    assert_eq!(f[6], e("list", "nodir: no such file"));
    let md5 = md5_of(b"");
    assert_eq!(
        f[7],
        std::format!(
            r#"{{"op":"stat","total_size":0,"md5":"{md5}","status":"ok","mtime":5,"size":0}}"#
        )
    );
}

#[test]
fn list_lines_are_the_hosts() {
    let (out, _) = serve(&request(r#"{"op":"list"}"#));
    let f = frames(&out);
    assert_eq!(f.len(), 1);
    assert!(f[0].0.starts_with(r#"{"op":"list","total_size":"#));
    let text = String::from_utf8(f[0].1.clone()).unwrap();
    let want: String = Mem::new()
        .files
        .iter()
        .map(|(n, d, m)| {
            serde_json::json!({"name": n, "dir": false, "size": d.len(), "mtime": m}).to_string()
                + "\n"
        })
        .collect();
    assert_eq!(text, want);
}

#[test]
fn a_bad_frame_is_answered_then_closed() {
    let (out, err) = serve(b"\xff\xff\xff\xffgarbage");
    assert_eq!(err, None);
    let f = frames(&out);
    assert_eq!(f.len(), 1);
    assert!(f[0].0.contains(r#""op":"error""#));
    assert!(
        f[0].0.contains("bad request: negative header length"),
        "{}",
        f[0].0
    );
    // A request with a body is a bad request too (requests carry none).
    let mut body = request(r#"{"op":"get","filename":"a","total_size":3}"#);
    body.extend_from_slice(b"abc");
    let (out, _) = serve(&body);
    assert!(frames(&out)[0].0.contains("bad request: body of 3 bytes"));
}

#[test]
fn end_of_input_inside_a_request_is_an_error() {
    let r = request(r#"{"op":"stat","filename":"empty"}"#);
    let (out, err) = serve(&r[..7]);
    assert!(out.is_empty());
    assert!(matches!(err, Some(Error::Truncated(_))), "{err:?}");
}

#[test]
fn a_changed_file_ends_with_a_refusal_a_shrunk_one_fails() {
    let mut store = Mem::new();
    let mut s = Session::new(0, 1000);
    let r = request(r#"{"op":"get","filename":"README.txt"}"#);
    assert_eq!(s.handle_input(0, &r), (r.len(), Some(Event::Get)));
    let mut buf = [0u8; MIN_OUTPUT];
    let mut out = Vec::new();
    for _ in 0..2 {
        let n = s.poll_output(0, &mut store, &mut buf).unwrap();
        out.extend_from_slice(&buf[..n]);
    }
    store.touched = true;
    let n = s.poll_output(0, &mut store, &mut buf).unwrap();
    out.extend_from_slice(&buf[..n]);
    let f = frames(&out);
    assert_eq!(f.len(), 2);
    assert!(f[1].0.contains("README.txt: file changed while being sent"));
    assert!(f[1].0.contains(r#""op":"end""#));

    let mut store = Mem::new();
    store.read_limit = Some(100);
    let (_, err) = run(
        &mut store,
        &[&request(r#"{"op":"get","filename":"blob.bin"}"#)],
        MIN_OUTPUT,
    );
    assert_eq!(err, Some(Error::Shrank));
}

#[test]
fn idle_sessions_time_out_and_activity_moves_the_deadline() {
    let mut s = Session::new(100, 1000);
    assert_eq!(s.poll_timeout(), Some(1100));
    s.handle_timeout(1099);
    assert!(!s.wants_close());
    let r = request(r#"{"op":"stat","filename":"empty"}"#);
    s.handle_input(600, &r[..3]);
    assert_eq!(s.poll_timeout(), Some(1600));
    s.handle_timeout(1600);
    assert!(s.wants_close());
}

#[test]
fn small_output_buffers_wait_for_room_for_a_header() {
    let mut store = Mem::new();
    let mut s = Session::new(0, 1000);
    let r = request(r#"{"op":"stat","filename":"README.txt"}"#);
    s.handle_input(0, &r);
    let mut buf = [0u8; 512];
    assert_eq!(s.poll_output(0, &mut store, &mut buf[..10]), Ok(0));
    assert!(s.is_replying());
    let n = s.poll_output(0, &mut store, &mut buf).unwrap();
    assert!(n > 10);
    assert!(!s.is_replying());
}

fn script() -> Vec<u8> {
    let mut v = Vec::new();
    for r in [
        r#"{"op":"list"}"#,
        r#"{"op":"get","filename":"blob.bin","offset":17}"#,
        r#"{"op":"put","filename":"up","size":9}"#,
        r#"{"op":"stat","filename":"README.txt"}"#,
        r#"{"op":"get","filename":"missing"}"#,
        r#"{"op":"get","filename":"README.txt"}"#,
    ] {
        v.extend(request(r));
    }
    v
}

proptest! {
    #[test]
    fn any_chunking_and_output_size_gives_the_same_bytes(
        cuts in proptest::collection::vec(0usize..2000, 0..12),
        out in 200usize..2000,
    ) {
        let input = script();
        let (whole, err) = run(&mut Mem::new(), &[&input], 4096);
        prop_assert_eq!(err, None);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % input.len()).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut at = 0;
        for c in cuts {
            chunks.push(&input[at..c.max(at)]);
            at = c.max(at);
        }
        chunks.push(&input[at..]);
        let (split, err) = run(&mut Mem::new(), &chunks, out);
        prop_assert_eq!(err, None);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn random_input_never_panics(input in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (out, _) = run(&mut Mem::new(), &[&input], MIN_OUTPUT);
        // Whatever was sent is whole frames.
        let _ = frames(&out);
    }

    #[test]
    fn random_requests_never_panic(
        op in "(get|put|stat|list|x)",
        name in "[a-zA-Z./\"\\\\é]{0,20}",
        offset in 0u64..5000,
    ) {
        let json = serde_json::json!({"op": op, "filename": name, "offset": offset}).to_string();
        let (out, _) = run(&mut Mem::new(), &[&request(&json)], 300);
        prop_assert!(!frames(&out).is_empty());
    }
}

/// A directory of `n` generated entries.
struct Many(usize, String);

impl FileStore for Many {
    type File = usize;
    fn open(&mut self, _: &str) -> Result<(usize, FileMeta), Refusal> {
        Err(Refusal("no such file"))
    }
    fn read(&mut self, _: usize, _: u64, _: &mut [u8]) -> Result<usize, Refusal> {
        Ok(0)
    }
    fn meta(&mut self, _: usize) -> Result<FileMeta, Refusal> {
        Err(Refusal("no such file"))
    }
    fn entry(&mut self, _: &str, index: usize) -> Result<Option<Entry<'_>>, Refusal> {
        if index >= self.0 {
            return Ok(None);
        }
        self.1 = std::format!("f{index:05}");
        Ok(Some(Entry {
            name: &self.1,
            dir: index % 2 == 1,
            size: index as u64,
            mtime: 0,
        }))
    }
}

#[test]
fn listings_are_cut_at_max_list_and_say_so() {
    for (n, cut) in [(MAX_LIST, false), (MAX_LIST + 1, true)] {
        let mut store = Many(n, String::new());
        let mut s = Session::new(0, 1000);
        let r = request(r#"{"op":"list"}"#);
        assert_eq!(s.handle_input(0, &r).1, Some(Event::List));
        let mut out = Vec::new();
        let mut buf = [0u8; 1000];
        while let Ok(k @ 1..) = s.poll_output(0, &mut store, &mut buf) {
            out.extend_from_slice(&buf[..k]);
        }
        let f = frames(&out);
        assert_eq!(f[0].0.contains(r#""truncated":true"#), cut, "{}", f[0].0);
        let text = String::from_utf8(f[0].1.clone()).unwrap();
        assert_eq!(text.lines().count(), MAX_LIST);
        assert!(text.ends_with("\"name\":\"f09999\",\"size\":9999}\n"));
    }
}

#[test]
fn a_directory_that_changes_while_listed_fails() {
    let mut store = Many(3, String::new());
    let mut s = Session::new(0, 1000);
    s.handle_input(0, &request(r#"{"op":"list"}"#));
    let mut buf = [0u8; 1000];
    assert!(s.poll_output(0, &mut store, &mut buf).unwrap() > 0);
    store.0 = 2;
    assert_eq!(
        s.poll_output(0, &mut store, &mut buf),
        Err(Error::ListChanged)
    );
    assert!(s.wants_close());
}

#[test]
fn segmented_gets_and_tokens_are_refused_as_unknown_so_clients_fall_back() {
    let mut input = request(r#"{"op":"get-segmented","filename":"blob.bin"}"#);
    input.extend(request(r#"{"op":"challenge"}"#));
    input.extend(request(r#"{"op":"get","filename":"empty"}"#));
    let (out, err) = serve(&input);
    assert_eq!(err, None);
    let f: Vec<String> = frames(&out).into_iter().map(|f| f.0).collect();
    let unknown = "unknown operation (get, put, stat, list, challenge, auth)";
    assert!(f[0].contains(r#""op":"get-segmented""#), "{}", f[0]);
    assert!(f[0].contains(unknown), "{}", f[0]);
    assert!(f[1].contains(r#""op":"challenge""#) && f[1].contains(unknown));
    // The plain get after them is served.
    assert!(f[2].contains(r#""op":"get""#) && f[2].contains(r#""status":"ok""#));
}
