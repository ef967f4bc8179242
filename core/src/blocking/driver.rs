//! The blocking driver: runs any [`Session`] over an [`embedded_io`]
//! `Read + Write` byte stream (a UART, a smoltcp socket wrapper, or an OS
//! socket through `embedded-io-adapters`), so a blocking client has no
//! read loop of its own: it starts an exchange on its session, then lets
//! [`Driver::drive`] move the bytes and hand it the events.
//!
//! The driver owns no memory: the receive and send buffers are the
//! caller's (`B`: an array, a borrowed slice, or a `Vec` on a host), and
//! the receive buffer's size is the read size, which is what a bulk
//! transfer's speed depends on. It keeps no clock: timeouts are the
//! stream's (a socket's read timeout comes back as an I/O error).

use embedded_io::{Error as _, ErrorKind, Read, Write};

use crate::session::Session;

/// What the event handler wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading and reporting events.
    Continue,
    /// Return from [`Driver::drive`] (the caller acts on the session,
    /// then drives again).
    Stop,
}

/// How [`Driver::drive`] ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The handler returned [`Flow::Stop`].
    Stopped,
    /// The peer closed the stream where the session allows it.
    Closed,
}

/// Why driving stopped: the session's error (`S`), the stream's (`I`),
/// or the event handler's (`H`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriveError<S, I, H> {
    /// The session refused the conversation.
    Session(S),
    /// Reading or writing failed.
    Io(I),
    /// The event handler failed.
    Handler(H),
    /// The receive buffer is full and the session takes none of it (a
    /// session breaking its contract, or a buffer too small for it).
    Stuck,
}

impl<S: core::fmt::Display, I: core::fmt::Debug, H: core::fmt::Display> core::fmt::Display
    for DriveError<S, I, H>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Session(e) => write!(f, "{e}"),
            Self::Io(e) => write!(f, "i/o error: {e:?}"),
            Self::Handler(e) => write!(f, "{e}"),
            Self::Stuck => f.write_str("the session takes no input from a full buffer"),
        }
    }
}

impl<S, I, H> core::error::Error for DriveError<S, I, H>
where
    S: core::fmt::Display + core::fmt::Debug,
    I: core::fmt::Debug,
    H: core::fmt::Display + core::fmt::Debug,
{
}

/// A byte stream `T` with a receive buffer and a send buffer (`B`).
pub struct Driver<T, B> {
    io: T,
    rx: B,
    tx: B,
    /// `rx[lo..hi]`: received, not yet consumed by the session.
    lo: usize,
    hi: usize,
}

impl<T, B> Driver<T, B>
where
    T: Read + Write,
    B: AsRef<[u8]> + AsMut<[u8]>,
{
    /// Wraps `io`. `rx` is the read buffer (its size is the most one read
    /// takes); `tx` the buffer output is moved through on its way to `io`
    /// (one write per fill of it: at least a header's size).
    pub fn new(io: T, rx: B, tx: B) -> Self {
        Driver {
            io,
            rx,
            tx,
            lo: 0,
            hi: 0,
        }
    }

    /// The stream (for its settings: timeouts, TLS state).
    pub fn io(&self) -> &T {
        &self.io
    }

    /// The stream, mutably.
    pub fn io_mut(&mut self) -> &mut T {
        &mut self.io
    }

    /// Received bytes no session has consumed yet.
    pub fn buffered(&self) -> &[u8] {
        &self.rx.as_ref()[self.lo..self.hi]
    }

    /// Marks `n` buffered bytes consumed (at most what is buffered).
    pub fn consume(&mut self, n: usize) {
        self.lo = (self.lo + n).min(self.hi);
    }

    /// Reads once more after the buffered bytes; `Ok(0)` is the end of
    /// the stream (or a full buffer: see [`Driver::is_full`]).
    pub fn fill(&mut self) -> Result<usize, T::Error> {
        let rx = self.rx.as_mut();
        if self.lo == self.hi {
            (self.lo, self.hi) = (0, 0);
        } else if self.hi == rx.len() && self.lo > 0 {
            rx.copy_within(self.lo..self.hi, 0);
            (self.lo, self.hi) = (0, self.hi - self.lo);
        }
        if self.hi == rx.len() {
            return Ok(0);
        }
        let n = loop {
            match self.io.read(&mut rx[self.hi..]) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        self.hi += n;
        Ok(n)
    }

    /// True when the receive buffer holds nothing but unconsumed bytes.
    pub fn is_full(&self) -> bool {
        self.lo == 0 && self.hi == self.rx.as_ref().len()
    }

    /// Writes `bytes` to the stream as they are (a body the caller sends
    /// itself, after [`Driver::flush`] sent the session's header).
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), T::Error> {
        self.io.write_all(bytes)
    }

    /// Sends everything the session has queued, then flushes the stream;
    /// returns the number of bytes sent.
    pub fn flush<S: Session>(&mut self, s: &mut S) -> Result<usize, T::Error> {
        let mut sent = 0;
        loop {
            let tx = self.tx.as_mut();
            let n = s.poll_output(tx);
            if n == 0 {
                break;
            }
            self.io.write_all(&tx[..n])?;
            sent += n;
        }
        if sent > 0 {
            self.io.flush()?;
        }
        Ok(sent)
    }

    /// Runs the session: sends its output, feeds it the stream's bytes
    /// and hands each event to `on_event`, until the handler says
    /// [`Flow::Stop`] or the stream ends where the session allows it.
    /// Output the session queued while handling the last event is sent
    /// before this returns.
    pub fn drive<S, F, H>(
        &mut self,
        s: &mut S,
        mut on_event: F,
    ) -> Result<Outcome, DriveError<S::Error, T::Error, H>>
    where
        S: Session,
        F: for<'a> FnMut(S::Event<'a>) -> Result<Flow, H>,
    {
        loop {
            self.flush(s).map_err(DriveError::Io)?;
            // The event borrows the buffer and the session: it is handled
            // (and gone) by the end of this block.
            let (used, progressed, flow) = {
                let input = &self.rx.as_ref()[self.lo..self.hi];
                let (used, ev) = s.handle_input(input).map_err(DriveError::Session)?;
                let progressed = used > 0 || ev.is_some();
                let flow = match ev {
                    Some(ev) => on_event(ev).map_err(DriveError::Handler)?,
                    None => Flow::Continue,
                };
                (used, progressed, flow)
            };
            self.consume(used);
            if flow == Flow::Stop {
                self.flush(s).map_err(DriveError::Io)?;
                return Ok(Outcome::Stopped);
            }
            if progressed {
                continue;
            }
            if self.is_full() {
                return Err(DriveError::Stuck);
            }
            if self.fill().map_err(DriveError::Io)? == 0 {
                s.handle_eof().map_err(DriveError::Session)?;
                return Ok(Outcome::Closed);
            }
        }
    }
}

// The tests drive the files client session.
#[cfg(all(test, feature = "files"))]
mod tests;
