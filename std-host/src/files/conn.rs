//! A connection with one bounded read buffer: decoders borrow the
//! buffered bytes (`buf[lo..hi]`) and report how many they consumed, so no
//! byte is copied twice and memory stays fixed whatever the file size.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use crate::serve::conn::Activity;

/// Read buffer size: large enough to keep a loopback transfer at memory
/// speed, small enough to hold one per connection.
pub const BUF: usize = 256 * 1024;

/// A socket and its read buffer.
pub struct Conn {
    /// The socket (writes go straight to it).
    pub stream: TcpStream,
    /// The buffer; `buf[lo..hi]` is received but not yet consumed.
    pub buf: Box<[u8]>,
    /// Start of the unconsumed bytes.
    pub lo: usize,
    /// End of the received bytes.
    pub hi: usize,
    /// Touched whenever bytes move (the server's idle watch).
    pub activity: Option<Activity>,
}

impl Conn {
    /// Wraps a connected socket.
    pub fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buf: vec![0u8; BUF].into_boxed_slice(),
            lo: 0,
            hi: 0,
            activity: None,
        }
    }

    /// True if no received byte is waiting.
    pub fn is_drained(&self) -> bool {
        self.lo == self.hi
    }

    /// Reads more bytes after the unconsumed ones; `Ok(0)` is end of stream.
    pub fn fill(&mut self) -> io::Result<usize> {
        if self.lo == self.hi {
            self.lo = 0;
            self.hi = 0;
        } else if self.hi == self.buf.len() {
            self.buf.copy_within(self.lo..self.hi, 0);
            self.hi -= self.lo;
            self.lo = 0;
        }
        let n = loop {
            match self.stream.read(&mut self.buf[self.hi..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        self.hi += n;
        self.touch();
        Ok(n)
    }

    /// Fills only if nothing is buffered; `Ok(false)` at end of stream.
    pub fn fill_if_drained(&mut self) -> io::Result<bool> {
        Ok(!self.is_drained() || self.fill()? > 0)
    }

    /// One message of the seeds' text dialects: what one `recv(max)` on
    /// the other side would see (buffered bytes first). `None` at end of
    /// stream.
    pub fn read_message(&mut self, max: usize) -> io::Result<Option<Vec<u8>>> {
        if !self.fill_if_drained()? {
            return Ok(None);
        }
        let n = (self.hi - self.lo).min(max);
        let msg = self.buf[self.lo..self.lo + n].to_vec();
        self.lo += n;
        Ok(Some(msg))
    }

    /// Reads exactly `out.len()` bytes (buffered ones first).
    pub fn read_exact(&mut self, out: &mut [u8]) -> io::Result<()> {
        let mut got = 0;
        while got < out.len() {
            if !self.fill_if_drained()? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let n = (self.hi - self.lo).min(out.len() - got);
            out[got..got + n].copy_from_slice(&self.buf[self.lo..self.lo + n]);
            self.lo += n;
            got += n;
        }
        Ok(())
    }

    /// Writes all of `bytes` to the socket.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.touch();
        Ok(())
    }

    /// Records activity for bytes moved outside [`Conn::send`] and
    /// [`Conn::fill`].
    pub fn touch(&self) {
        if let Some(a) = &self.activity {
            a.touch();
        }
    }
}
