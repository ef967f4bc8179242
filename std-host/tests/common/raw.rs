//! A raw TCP chat client that reads the server's frames
//! (`"{stamp} {sender}\n{body}\n\n"`), every read bounded by a timeout.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};

use super::proc::WAIT;

/// One frame: the header line and the body line, without newlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// `YYYY/MM/DD HH:MM:SS sender`.
    pub head: String,
    /// The said line or the notice.
    pub body: String,
}

/// A connected raw client.
pub struct Raw {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Raw {
    /// Connects, with a read timeout of [`WAIT`].
    pub fn connect(addr: SocketAddr) -> Raw {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(WAIT)).expect("timeout");
        let w = s.try_clone().expect("clone");
        Raw {
            r: BufReader::new(s),
            w,
        }
    }

    /// The local address (what the server shows as `ip:port`).
    pub fn local(&self) -> SocketAddr {
        self.w.local_addr().expect("local addr")
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).expect("send");
    }

    /// The writing half, e.g. for a sender thread.
    pub fn writer(&self) -> TcpStream {
        self.w.try_clone().expect("clone")
    }

    /// The next frame; `None` at end of stream. Panics on a timeout or a
    /// frame that does not end with an empty line.
    pub fn frame(&mut self) -> Option<Frame> {
        let mut lines = [String::new(), String::new(), String::new()];
        for (i, l) in lines.iter_mut().enumerate() {
            match self.r.read_line(l) {
                Ok(0) if i == 0 => return None,
                Ok(0) => panic!("stream ended inside a frame: {lines:?}"),
                Ok(_) => {}
                Err(e) => panic!("reading a frame: {e}"),
            }
        }
        assert_eq!(lines[2], "\n", "frame ends with an empty line: {lines:?}");
        Some(Frame {
            head: lines[0].trim_end_matches('\n').to_owned(),
            body: lines[1].trim_end_matches('\n').to_owned(),
        })
    }

    /// Reads frames until one whose body contains `needle`, returning it.
    pub fn until(&mut self, needle: &str) -> Frame {
        loop {
            match self.frame() {
                Some(f) if f.body.contains(needle) => return f,
                Some(_) => {}
                None => panic!("stream ended before a frame with {needle:?}"),
            }
        }
    }

    /// Waits for the server to close the connection, skipping frames.
    pub fn until_closed(&mut self) -> Vec<Frame> {
        let mut seen = Vec::new();
        while let Some(f) = self.frame() {
            seen.push(f);
        }
        seen
    }
}

/// Checks a header is `YYYY/MM/DD HH:MM:SS sender`, the seed's format, and
/// returns the sender.
pub fn sender_of(head: &str) -> &str {
    let (stamp, sender) = head.split_at(19.min(head.len()));
    let shape: String = stamp
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(shape, "9999/99/99 99:99:99", "stamp of {head:?}");
    sender.strip_prefix(' ').expect("space after the stamp")
}
