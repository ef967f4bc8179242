//! Blocking I/O over [`embedded_io`]'s `Read` and `Write`, so the same
//! protocol code runs over an OS socket (through an adapter such as
//! `embedded-io-adapters`) and over a smoltcp socket on a microcontroller:
//! [`Driver`] runs any [`crate::session::Session`] (the files clients are
//! driven by it), and the thin frame helpers below read and write single
//! frames.
//!
//! ```
//! use wirekit_core::blocking::{write_frame, FrameReader};
//! use wirekit_core::codec::frame::Event;
//! use wirekit_core::wire::Header;
//!
//! let mut wire = [0u8; 128];
//! let mut out = &mut wire[..];
//! let header = Header::with_op("stdout");
//! write_frame(&mut out, header, b"hi\n", &mut [0u8; 256]).unwrap();
//! let written = 128 - out.len();
//!
//! let mut reader: FrameReader<&[u8], 256, 16> = FrameReader::new(&wire[..written]);
//! let mut body = [0u8; 3];
//! let mut at = 0;
//! let verdict = reader
//!     .read_frame(|ev| {
//!         if let Event::Body(b) = ev {
//!             body[at..at + b.len()].copy_from_slice(b);
//!             at += b.len();
//!         }
//!     })
//!     .unwrap();
//! assert!(verdict.is_some());
//! assert_eq!(&body, b"hi\n");
//! assert_eq!(reader.read_frame(|_| {}).unwrap(), None); // clean end of stream
//! ```

use embedded_io::{Read, Write};

pub mod driver;
pub use driver::{DriveError, Driver, Flow, Outcome};

use crate::codec::frame::{
    Event, FrameDecoder, FrameError, Limits, Md5Verdict, DEFAULT_HEADER_CAP,
};
use crate::wire::{emit_frame_header, EncodeError, Header};

/// Errors of the blocking helpers: the transport's, or the protocol's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoError<E> {
    /// The reader or writer failed.
    Io(E),
    /// The bytes read are not a valid frame stream (includes a stream that
    /// ends inside a frame).
    Frame(FrameError),
    /// The frame could not be written.
    Encode(EncodeError),
}

impl<E: core::fmt::Debug> core::fmt::Display for IoError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "i/o error: {e:?}"),
            Self::Frame(e) => write!(f, "{e}"),
            Self::Encode(e) => write!(f, "{e}"),
        }
    }
}

impl<E: core::fmt::Debug> core::error::Error for IoError<E> {}

/// Reads frames from a blocking reader through a fixed `B`-byte buffer and
/// a [`FrameDecoder`] with an `H`-byte header buffer.
pub struct FrameReader<R, const H: usize = DEFAULT_HEADER_CAP, const B: usize = 4096> {
    reader: R,
    decoder: FrameDecoder<H>,
    buf: [u8; B],
    start: usize,
    end: usize,
}

impl<R: Read, const H: usize, const B: usize> FrameReader<R, H, B> {
    /// Wraps `reader` with default limits.
    pub fn new(reader: R) -> Self {
        Self::with_limits(reader, Limits::default())
    }

    /// Wraps `reader` with explicit decoder limits.
    pub fn with_limits(reader: R, limits: Limits) -> Self {
        FrameReader {
            reader,
            decoder: FrameDecoder::with_limits(limits),
            buf: [0; B],
            start: 0,
            end: 0,
        }
    }

    /// Reads one whole frame, handing each event to `on_event`. Returns
    /// the MD5 verdict, or `None` if the stream ended cleanly before a new
    /// frame began. Bytes read past the frame are kept for the next call.
    pub fn read_frame<F>(
        &mut self,
        mut on_event: F,
    ) -> Result<Option<Md5Verdict>, IoError<R::Error>>
    where
        F: FnMut(Event<'_>),
    {
        loop {
            // Decode first, even from an empty slice: a frame's End needs
            // no input and must not wait for a read that may never return.
            let input = &self.buf[self.start..self.end];
            let (used, event) = self.decoder.decode(input).map_err(IoError::Frame)?;
            self.start += used;
            match event {
                Some(Event::End(verdict)) => return Ok(Some(verdict)),
                Some(ev) => on_event(ev),
                None => {
                    let n = self.reader.read(&mut self.buf).map_err(IoError::Io)?;
                    if n == 0 {
                        self.decoder.finish().map_err(IoError::Frame)?;
                        return Ok(None);
                    }
                    self.start = 0;
                    self.end = n;
                }
            }
        }
    }

    /// Gives the reader back; buffered bytes not yet decoded are dropped.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

/// Writes one frame: `header` (its `total_size` set to `body.len()`), then
/// the body. `scratch` must hold the encoded header.
pub fn write_frame<W: Write>(
    writer: &mut W,
    mut header: Header,
    body: &[u8],
    scratch: &mut [u8],
) -> Result<(), IoError<W::Error>> {
    header.total_size = body.len() as u64;
    let n = emit_frame_header(&header, scratch).map_err(IoError::Encode)?;
    writer.write_all(&scratch[..n]).map_err(IoError::Io)?;
    writer.write_all(body).map_err(IoError::Io)?;
    writer.flush().map_err(IoError::Io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Digest;

    /// A reader handing out at most `step` bytes per call.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl embedded_io::ErrorType for Trickle<'_> {
        type Error = core::convert::Infallible;
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn frames_round_trip_through_a_trickling_reader() {
        let mut wire = [0u8; 512];
        let mut out = &mut wire[..];
        let mut scratch = [0u8; 256];
        let mut h = Header::with_op("a");
        h.md5 = Some(Digest::of(b"first body"));
        write_frame(&mut out, h, b"first body", &mut scratch).unwrap();
        write_frame(&mut out, Header::with_op("b"), b"", &mut scratch).unwrap();
        let len = 512 - out.len();
        for step in [1, 3, 7, 64] {
            let mut r: FrameReader<_, 256, 8> = FrameReader::new(Trickle {
                data: &wire[..len],
                step,
            });
            let mut body = [0u8; 10];
            let mut at = 0;
            let v = r
                .read_frame(|ev| {
                    if let Event::Body(b) = ev {
                        body[at..at + b.len()].copy_from_slice(b);
                        at += b.len();
                    }
                })
                .unwrap();
            assert_eq!(v, Some(Md5Verdict::Match(Digest::of(b"first body"))));
            assert_eq!(&body, b"first body");
            assert_eq!(r.read_frame(|_| {}).unwrap(), Some(Md5Verdict::Absent));
            assert_eq!(r.read_frame(|_| {}).unwrap(), None);
        }
    }

    #[test]
    fn truncated_stream_is_an_error() {
        let mut r: FrameReader<&[u8], 256, 8> = FrameReader::new(&b"\x10\x00\x00\x00{\"total"[..]);
        assert!(matches!(
            r.read_frame(|_| {}),
            Err(IoError::Frame(FrameError::Truncated { .. }))
        ));
    }
}
