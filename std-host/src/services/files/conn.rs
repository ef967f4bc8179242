//! A client connection with one bounded read buffer: decoders borrow the
//! buffered bytes (`buf[lo..hi]`) and report how many they consumed, so no
//! byte is copied twice and memory stays fixed whatever the file size.
//! The socket is plain TCP or a TLS session over it ([`Stream`]).

use std::io::{self, Read, Write};
use std::net::TcpStream;

use rustls::{ClientConnection, StreamOwned};

use crate::runtime::conn::Activity;

/// A client's byte stream: the socket, or a TLS session on it.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS (boxed: rustls' state is large).
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    /// The TCP socket underneath (timeouts, peeking a plain one).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }

    /// True for a TLS session.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// `len` bytes of keying material exported from the TLS session with
    /// `label` (RFC 8446 §7.5), or nothing on plain TCP: the channel
    /// binding of an authentication proof.
    pub fn binding(&self, label: &[u8], len: usize) -> io::Result<Vec<u8>> {
        match self {
            Stream::Plain(_) => Ok(Vec::new()),
            Stream::Tls(s) => {
                let mut out = vec![0u8; len];
                s.conn
                    .export_keying_material(&mut out, label, Some(b""))
                    .map_err(io::Error::other)?;
                Ok(out)
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            // A peer that closes without close_notify: every files dialect
            // frames its data with lengths (and md5s), so a cut is seen
            // there; here it is an end of stream like on plain TCP.
            Stream::Tls(s) => match s.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                r => r,
            },
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

impl Drop for Stream {
    /// Ends a TLS session properly, so the server sees a clean close
    /// rather than a truncation.
    fn drop(&mut self) {
        if let Stream::Tls(s) = self {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
    }
}

/// Read buffer size: large enough to keep a loopback transfer at memory
/// speed, small enough to hold one per connection.
pub const BUF: usize = 256 * 1024;

/// A socket and its read buffer.
pub struct Conn {
    /// The socket (writes go straight to it).
    pub stream: Stream,
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
    /// Wraps a connected socket or TLS session.
    pub fn new(stream: Stream) -> Conn {
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
