//! A blocking client's connection (the files and exec clients): the TCP
//! socket or a TLS session over it ([`Stream`], opened by [`connect`]),
//! run through the core's blocking driver
//! (`wirekit_core::blocking::Driver`, via `embedded-io-adapters`), which
//! moves the bytes of every client session ([`Link`]). One bounded read
//! buffer per connection: the sessions borrow what it holds and say how
//! much they consumed, so no byte is copied twice and memory stays fixed
//! whatever the file size. Timeouts are the TCP socket's, so they hold
//! under TLS too.
//!
//! Over TLS the stream also yields the channel binding of a token proof:
//! keying material exported from this TLS session (RFC 8446 §7.5), so a
//! proof relayed by a man in the middle, who holds a different session
//! with the server, fails.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use std::time::Duration;

use anyhow::{anyhow, Context as _};
use embedded_io_adapters::std::FromStd;
use rustls::{ClientConnection, StreamOwned};
use wirekit_core::blocking::{DriveError, Driver, Flow, Outcome};
use wirekit_core::session::Session;

use crate::client::resolve;
use crate::tls::client::{ClientTls, TlsClientOpts};

/// Connects to `addr` (as the user typed it: TLS trust on first use
/// remembers it) within `timeout`, with that read and write timeout, and
/// with TLS options that ask for it finishes the handshake (the server's
/// certificate checked) within the same timeout.
pub fn connect(addr: &str, timeout: Duration, tls: &TlsClientOpts) -> anyhow::Result<Stream> {
    // Refuse bad TLS options (a bad pin, a known-hosts file) before
    // touching the network.
    let tls = ClientTls::from_opts(tls, addr)?;
    let sa = resolve(addr)?;
    let tcp =
        TcpStream::connect_timeout(&sa, timeout).with_context(|| format!("connecting to {sa}"))?;
    let _ = tcp.set_nodelay(true);
    tcp.set_write_timeout(Some(timeout))?;
    tcp.set_read_timeout(Some(timeout))?;
    match tls {
        None => Ok(Stream::Plain(tcp)),
        Some(tls) => Ok(Stream::Tls(Box::new(tls.connect_blocking(tcp).map_err(
            |e| {
                anyhow!(
                    "{e:#}; is {addr} a TLS listener (`--listen SERVICE+tls=ADDR` on the server)?"
                )
            },
        )?))),
    }
}

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

/// Output buffer size: a request header of the largest size.
const TX: usize = 4096;

/// A connection driven by the core's blocking driver.
pub struct Link {
    drv: Driver<FromStd<Stream>, Vec<u8>>,
    /// The server's first answer was looked at.
    pub probed: bool,
}

impl Link {
    /// Wraps a connected socket or TLS session.
    pub fn new(stream: Stream) -> Link {
        Link {
            drv: Driver::new(FromStd::new(stream), vec![0u8; BUF], vec![0u8; TX]),
            probed: false,
        }
    }

    /// The stream (timeouts, TLS binding).
    pub fn stream(&self) -> &Stream {
        self.drv.io().inner()
    }

    /// Bytes received and not consumed yet.
    pub fn buffered(&self) -> &[u8] {
        self.drv.buffered()
    }

    /// Reads once more into the buffer; `Ok(0)` at end of stream.
    pub fn fill(&mut self) -> io::Result<usize> {
        self.drv.fill()
    }

    /// Marks `n` buffered bytes consumed.
    pub fn consume(&mut self, n: usize) {
        self.drv.consume(n)
    }

    /// Writes `bytes` as they are (a body, a seed's text).
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.drv.write_all(bytes)?;
        self.drv.io_mut().inner_mut().flush()
    }

    /// Writes `bytes` without flushing (a body's chunks; the next flush or
    /// a header sends what TLS buffered).
    pub fn write_body(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.drv.write_all(bytes)
    }

    /// Sends what `s` has queued, in one write; returns those bytes (for
    /// the first-answer check).
    pub fn send_output<S: Session>(&mut self, s: &mut S) -> io::Result<Vec<u8>> {
        let mut sent = Vec::new();
        let mut buf = [0u8; TX];
        loop {
            let n = s.poll_output(&mut buf);
            if n == 0 {
                break;
            }
            sent.extend_from_slice(&buf[..n]);
        }
        if !sent.is_empty() {
            self.send(&sent)?;
        }
        Ok(sent)
    }

    /// Runs `s` until `on_event` says stop (`Ok(true)`), or the stream ends
    /// where the session allows it (`Ok(false)`).
    pub fn drive<S, F>(&mut self, s: &mut S, on_event: F) -> anyhow::Result<bool>
    where
        S: Session,
        S::Error: std::error::Error + Send + Sync + 'static,
        F: for<'a> FnMut(S::Event<'a>) -> anyhow::Result<Flow>,
    {
        match self.drv.drive(s, on_event) {
            Ok(Outcome::Stopped) => Ok(true),
            Ok(Outcome::Closed) => Ok(false),
            // Kept as the session's error type, so callers can reword one.
            Err(DriveError::Session(e)) => Err(anyhow::Error::new(e)),
            Err(DriveError::Io(e)) => Err(e.into()),
            Err(DriveError::Handler(e)) => Err(e),
            Err(DriveError::Stuck) => Err(anyhow!("the server's message does not fit the buffer")),
        }
    }
}
