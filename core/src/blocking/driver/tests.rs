//! The driver over in-memory streams: a session gets every byte whatever
//! the read size, its output goes out, and the end of the stream, a full
//! buffer and failing streams are reported.

extern crate std;
use std::vec::Vec;

use super::*;
use crate::service::file::native::{end_header, error_reply, segments};
use crate::session::files::client::{ClientError, ClientEvent, FilesClient};
use crate::wire::{emit_frame_header, Digest};

/// A stream: reads hand out `input` at most `step` bytes at a time,
/// writes are recorded; `fail` makes the next read fail.
struct Mock {
    input: Vec<u8>,
    step: usize,
    written: Vec<u8>,
    flushes: usize,
    fail: bool,
}

#[derive(Debug, PartialEq)]
struct Broken;

impl embedded_io::Error for Broken {
    fn kind(&self) -> ErrorKind {
        ErrorKind::BrokenPipe
    }
}

impl embedded_io::ErrorType for Mock {
    type Error = Broken;
}

impl Read for Mock {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Broken> {
        if self.fail {
            return Err(Broken);
        }
        let n = self.step.min(buf.len()).min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input.drain(..n);
        Ok(n)
    }
}

impl Write for Mock {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Broken> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Broken> {
        self.flushes += 1;
        Ok(())
    }
}

fn frames(list: &[(crate::wire::Fields<'_>, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (h, body) in list {
        let mut buf = [0u8; 1024];
        let n = emit_frame_header(h, &mut buf).unwrap();
        out.extend_from_slice(&buf[..n]);
        out.extend_from_slice(body);
    }
    out
}

fn mock(input: Vec<u8>, step: usize) -> Mock {
    Mock {
        input,
        step,
        written: Vec::new(),
        flushes: 0,
        fail: false,
    }
}

type D = Driver<Mock, Vec<u8>>;

fn driver(input: Vec<u8>, step: usize, rx: usize) -> D {
    Driver::new(mock(input, step), std::vec![0; rx], std::vec![0; 64])
}

#[test]
fn a_get_is_driven_to_its_end_whatever_the_read_size() {
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let mut input = frames(&[(segments::reply(5000, 0, 1), b"")]);
    for s in data.chunks(1500) {
        input.extend(frames(&[(segments::segment_header(s.len() as u64), s)]));
    }
    input.extend(frames(&[(end_header(Digest::of(&data)), b"")]));
    for (step, rx) in [(1, 16), (7, 100), (4096, 4096), (100_000, 1 << 16)] {
        let mut d = driver(input.clone(), step, rx);
        let mut c: FilesClient = FilesClient::new();
        c.get("f", 0).unwrap();
        let mut got = Vec::new();
        let mut md5 = None;
        let end = d
            .drive(&mut c, |ev| -> Result<Flow, ()> {
                match ev {
                    ClientEvent::Data(b) => got.extend_from_slice(b),
                    ClientEvent::Received { md5: m } => {
                        md5 = Some(m);
                        return Ok(Flow::Stop);
                    }
                    _ => {}
                }
                Ok(Flow::Continue)
            })
            .unwrap();
        assert_eq!(end, Outcome::Stopped);
        assert_eq!(got, data);
        assert_eq!(c.finish_get(Digest::of(&got)), Ok(md5.unwrap()));
        // The request went out in one flush.
        assert!(d
            .io()
            .written
            .ends_with(br#""op":"get-segmented","total_size":0,"filename":"f"}"#));
        assert_eq!(d.io().flushes, 1);
        // Nothing more: a clean end between exchanges.
        assert_eq!(
            d.drive(&mut c, |_| Ok::<_, ()>(Flow::Continue)),
            Ok(Outcome::Closed)
        );
    }
}

#[test]
fn the_fallback_request_is_sent_by_the_driver() {
    let input = frames(&[(error_reply("get-segmented", "unknown operation"), b"")]);
    let mut d = driver(input, 3, 64);
    let mut c: FilesClient = FilesClient::new();
    c.get("f", 0).unwrap();
    let r = d.drive(&mut c, |_| Ok::<_, ()>(Flow::Continue));
    // The plain get went out, then the stream ended mid-transfer.
    assert!(d
        .io()
        .written
        .ends_with(br#"{"op":"get","total_size":0,"filename":"f"}"#));
    assert_eq!(
        r,
        Err(DriveError::Session(ClientError::Closed("mid-transfer")))
    );
}

#[test]
fn errors_of_the_stream_the_session_and_the_handler() {
    let mut d = driver(Vec::new(), 1, 16);
    d.io_mut().fail = true;
    let mut c: FilesClient = FilesClient::new();
    c.stat("f").unwrap();
    assert!(matches!(
        d.drive(&mut c, |_| Ok::<_, ()>(Flow::Continue)),
        Err(DriveError::Io(Broken))
    ));
    let input = frames(&[(error_reply("stat", "f: no such file"), b"")]);
    let mut d = driver(input, 100, 64);
    let mut c: FilesClient = FilesClient::new();
    c.stat("f").unwrap();
    let r = d.drive(&mut c, |_| Ok::<_, ()>(Flow::Continue));
    assert!(matches!(
        r,
        Err(DriveError::Session(ClientError::Refused(_)))
    ));
    let input = frames(&[(segments::reply(1, 0, 1), b"")]);
    let mut d = driver(input, 100, 64);
    let mut c: FilesClient = FilesClient::new();
    c.get("f", 0).unwrap();
    assert_eq!(
        d.drive(&mut c, |_| Err("disk full")),
        Err(DriveError::Handler("disk full"))
    );
}

/// A session that never consumes: the driver must not spin on a full
/// buffer.
struct Stubborn;

impl Session for Stubborn {
    type Event<'a> = ();
    type Error = ();
    fn handle_input<'a>(&'a mut self, _: &'a [u8]) -> Result<(usize, Option<()>), ()> {
        Ok((0, None))
    }
    fn poll_output(&mut self, _: &mut [u8]) -> usize {
        0
    }
    fn handle_eof(&mut self) -> Result<(), ()> {
        Ok(())
    }
}

#[test]
fn a_full_buffer_without_progress_is_an_error() {
    let mut d = driver(std::vec![b'x'; 100], 10, 32);
    assert_eq!(
        d.drive(&mut Stubborn, |_| Ok::<_, ()>(Flow::Continue)),
        Err(DriveError::Stuck)
    );
    assert_eq!(d.buffered().len(), 32);
    d.consume(40);
    assert!(d.buffered().is_empty());
}
