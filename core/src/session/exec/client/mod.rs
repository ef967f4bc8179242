//! The client side of every exec dialect, as `wirekit exec` and
//! `wirekit shell` speak it: the native handshake (hello, challenge, the
//! token's proof), a command at a time, and its output and end decoded
//! into events, whatever the server's framing.
//!
//! The seed dialects carry no exit code and no stderr: their replies are
//! stdout, exit code 0, except a short reply that is wirekit's refusal line
//! (see [`crate::service::answer::seed_exec_refusal`]), reported as
//! [`ClientEvent::Refused`]; such short replies are held (at most
//! [`REFUSAL_PEEK`] bytes) until they are whole.

// A [`ClientError`] carries the server's words inline (no allocation in
// core): a few hundred bytes, returned once per failed session, which is
// cheaper than a second lookup API for the text.
#![allow(clippy::result_large_err)]

use core::ops::Range;

use heapless::{String, Vec};

use super::{Outbox, Stream, HEADER_ROOM};
use crate::codec::frame::{Event as FrameEvent, FrameDecoder, Limits};
use crate::codec::length::{LengthDecoder, LengthEvent};
use crate::service::answer::seed_exec_refusal;
use crate::service::exec::ack::{parse_size_text, CLIENT_ACK};
use crate::service::exec::native::{ClientMsg, ServerMsg, MAX_CHUNK};
use crate::service::exec::{auth, check_command, MAX_NATIVE_COMMAND, MAX_TEXT_COMMAND};
use crate::wire::{SECRET_CAP, TEXT_CAP};

mod error;
pub use error::ClientError;

/// Seed-dialect replies up to this size are held whole before they are
/// reported: wirekit's server words a refusal as one short line.
pub const REFUSAL_PEEK: usize = 512;

/// Largest reply a seed-dialect client accepts (the 4-byte length's range).
pub const MAX_SEED_REPLY: u64 = i32::MAX as u64;

/// The default output buffer of a client: a whole native command frame.
pub const CLIENT_OUTBOX: usize = MAX_NATIVE_COMMAND + HEADER_ROOM;

/// Which framing the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// wirekit's native protocol (streams, exit code, token).
    Native,
    /// The seeds' JSON-header reply (seeds 001/002 "ultimate").
    Json,
    /// The seeds' 4-byte length reply (seeds 000/001).
    Len,
    /// Seed 004's size text, ack, output.
    Ack,
}

/// What the server said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEvent<'s> {
    /// The server asks for the token: call [`ExecClient::authenticate`].
    Challenge,
    /// The session is open: commands may be sent.
    Ready,
    /// Output of the command (seed dialects: always `Stdout`).
    Output(Stream, &'s [u8]),
    /// The server refused the command, for this reason; it is over.
    Refused(&'s [u8]),
    /// The command ended with this exit code (seed dialects: 0).
    Exit {
        /// The code.
        code: i32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// The hello is out, the first answer not in.
    Hello,
    /// A challenge came; the proof is the driver's call.
    Challenged(String<SECRET_CAP>),
    /// The proof is out.
    Authing,
    /// Ready for a command.
    Idle,
    /// A native command runs: output frames until `exit` or `error`.
    Native,
    /// A seed JSON reply is being read.
    Json,
    /// A seed length reply is being read.
    Len,
    /// Seed 004: the size text is awaited.
    AckSize,
    /// Seed 004: `left` bytes of output to come.
    AckBody { left: u64 },
    /// A seed reply was reported whole; its exit (code 0) is next.
    Done,
    /// An error ended the session.
    Failed,
}

/// What a step found, without borrowing the session.
enum Step {
    None,
    Challenge,
    Ready,
    Output(Stream, Range<usize>),
    /// The held reply, as output.
    Held,
    RefusedByHeader,
    RefusedByHeld,
    Exit(i32),
}

/// One connection's client session; `O` bytes of output buffer (a native
/// command is at most `O - HEADER_ROOM` bytes).
pub struct ExecClient<const O: usize = CLIENT_OUTBOX> {
    framing: Framing,
    state: State,
    dec: FrameDecoder<1024>,
    len: LengthDecoder,
    /// A short seed reply, held until whole (`None`: a long one streams).
    held: Option<Vec<u8, REFUSAL_PEEK>>,
    out: Outbox<O>,
}

impl<const O: usize> ExecClient<O> {
    /// A session on a new connection; a native one starts with its hello
    /// (in [`ExecClient::poll_output`]).
    pub fn new(framing: Framing) -> Self {
        let max_body = match framing {
            Framing::Native => MAX_CHUNK,
            _ => MAX_SEED_REPLY,
        };
        let mut c = ExecClient {
            framing,
            state: State::Idle,
            dec: FrameDecoder::with_limits(Limits {
                max_header: 1024,
                max_body,
                // The seeds' servers send a placeholder md5.
                strict_md5: false,
                reject_mismatch: true,
            }),
            len: LengthDecoder::new(MAX_SEED_REPLY as u32),
            held: None,
            out: Outbox::default(),
        };
        if framing == Framing::Native {
            c.state = State::Hello;
            // An empty buffer takes a hello.
            let _ = c.out.push_header(&ClientMsg::Hello.header());
        }
        c
    }

    /// Moves the next bytes to send into `buf`; 0 when there are none.
    pub fn poll_output(&mut self, buf: &mut [u8]) -> usize {
        self.out.pop(buf)
    }

    /// True when a command may be sent.
    pub fn is_idle(&self) -> bool {
        self.state == State::Idle
    }

    /// Longest command this framing carries.
    pub fn command_limit(&self) -> usize {
        match self.framing {
            Framing::Native => MAX_NATIVE_COMMAND.min(O.saturating_sub(HEADER_ROOM)),
            _ => MAX_TEXT_COMMAND,
        }
    }

    /// Answers [`ClientEvent::Challenge`] with the token's proof, bound to
    /// `binding` (the TLS exporter value; empty in clear text).
    pub fn authenticate(&mut self, token: &[u8], binding: &[u8]) -> Result<(), ClientError> {
        let State::Challenged(nonce) = &self.state else {
            return Err(ClientError::OutOfOrder("authenticate"));
        };
        let proof = auth::proof(token, nonce, binding);
        let proof = core::str::from_utf8(&proof).unwrap_or("");
        self.out
            .push_header(&ClientMsg::Auth(proof).header())
            .map_err(|_| ClientError::Encode)?;
        self.state = State::Authing;
        Ok(())
    }

    /// Sends a command (checked first: a refused one leaves the session
    /// as it was).
    pub fn send_command(&mut self, cmd: &[u8]) -> Result<(), ClientError> {
        if self.state != State::Idle {
            return Err(ClientError::OutOfOrder("send_command"));
        }
        check_command(cmd, self.command_limit()).map_err(ClientError::Command)?;
        if self.framing == Framing::Native {
            let h = ClientMsg::Exec(cmd.len() as u64).header();
            self.out.push_header(&h).map_err(|_| ClientError::Encode)?;
        }
        self.out.push(cmd).map_err(|_| ClientError::Encode)?;
        self.held = None;
        self.state = match self.framing {
            Framing::Native => State::Native,
            Framing::Json => State::Json,
            Framing::Len => State::Len,
            Framing::Ack => State::AckSize,
        };
        Ok(())
    }

    /// Consumes the server's bytes up to the next event. Call again (even
    /// with no input) while it returns one.
    pub fn handle_input<'s>(
        &'s mut self,
        input: &'s [u8],
    ) -> Result<(usize, Option<ClientEvent<'s>>), ClientError> {
        let (used, step) = self
            .step(input)
            .inspect_err(|_| self.state = State::Failed)?;
        let ev = match step {
            Step::None => None,
            Step::Challenge => Some(ClientEvent::Challenge),
            Step::Ready => Some(ClientEvent::Ready),
            Step::Output(stream, r) => Some(ClientEvent::Output(stream, &input[r])),
            Step::Held => Some(ClientEvent::Output(
                Stream::Stdout,
                self.held.as_deref().unwrap_or(&[]),
            )),
            Step::RefusedByHeader => {
                let why = self.dec.header().error.as_deref().unwrap_or("error");
                Some(ClientEvent::Refused(why.as_bytes()))
            }
            Step::RefusedByHeld => {
                let held = self.held.as_deref().unwrap_or(&[]);
                Some(ClientEvent::Refused(
                    seed_exec_refusal(held).unwrap_or(held),
                ))
            }
            Step::Exit(code) => Some(ClientEvent::Exit { code }),
        };
        Ok((used, ev))
    }

    /// The server closed the connection: fine only between commands.
    pub fn handle_eof(&mut self) -> Result<(), ClientError> {
        match self.state {
            State::Idle => Ok(()),
            _ => {
                self.state = State::Failed;
                Err(ClientError::Closed)
            }
        }
    }

    fn step(&mut self, input: &[u8]) -> Result<(usize, Step), ClientError> {
        match self.state {
            State::Hello | State::Authing | State::Native | State::Json => self.frames(input),
            State::Len => self.length(input),
            State::AckSize if input.is_empty() => Ok((0, Step::None)),
            State::AckSize => {
                // The size comes alone: the server waits for the ack
                // before sending anything else (the dialect's point).
                let size = parse_size_text(input, MAX_SEED_REPLY).map_err(ClientError::BadSize)?;
                self.out.push(CLIENT_ACK).map_err(|_| ClientError::Encode)?;
                self.start_reply(size);
                self.state = State::AckBody { left: size };
                let step = match size {
                    0 => self.end_reply(),
                    _ => Step::None,
                };
                Ok((input.len(), step))
            }
            State::AckBody { left } => Ok(self.ack_body(input, left)),
            State::Done => {
                self.state = State::Idle;
                Ok((0, Step::Exit(0)))
            }
            State::Failed => Err(ClientError::OutOfOrder("handle_input")),
            State::Challenged(_) | State::Idle => Ok((0, Step::None)),
        }
    }

    /// Frames: the handshake, native output, a seed JSON reply.
    fn frames(&mut self, input: &[u8]) -> Result<(usize, Step), ClientError> {
        let mut used = 0;
        loop {
            let (n, part) = match self.dec.decode(&input[used..]) {
                Ok((n, None)) => return Ok((used + n, Step::None)),
                Ok((n, Some(FrameEvent::Header(_)))) => (n, None),
                Ok((n, Some(FrameEvent::Body(b)))) => (n, Some(b.len())),
                Ok((n, Some(FrameEvent::End(_)))) => {
                    used += n;
                    match self.frame_end()? {
                        // An output frame's end: read on.
                        Step::None => continue,
                        step => return Ok((used, step)),
                    }
                }
                Err(e) => return Err(ClientError::BadFrame(e)),
            };
            let start = used;
            used += n;
            let Some(len) = part else { continue };
            let h = self.dec.header();
            // A seed JSON reply with `error` is wirekit refusing: its body
            // repeats the reason, which the event gives once.
            if self.state == State::Json && h.error.is_some() && h.op.is_none() {
                continue;
            }
            let stream = match h.is_op("stderr") {
                true => Stream::Stderr,
                false => Stream::Stdout,
            };
            return Ok((used, Step::Output(stream, start..start + len)));
        }
    }

    /// A whole frame: what it means where the session stands.
    fn frame_end(&mut self) -> Result<Step, ClientError> {
        let h = self.dec.header();
        if self.state == State::Json {
            self.state = State::Idle;
            return Ok(match h.error {
                Some(_) => Step::RefusedByHeader,
                None => Step::Exit(h.exit_code.unwrap_or(0)),
            });
        }
        let msg = match ServerMsg::parse(h) {
            Ok(m) => m,
            Err(e) if self.state == State::Hello => {
                return Err(ClientError::BadFirstReply {
                    error: e,
                    said: h.error.clone(),
                })
            }
            Err(e) => return Err(ClientError::BadMessage(e)),
        };
        let (next, step) = match (&self.state, msg) {
            (State::Hello | State::Authing, ServerMsg::Ready) => (State::Idle, Step::Ready),
            (State::Hello, ServerMsg::Challenge(n)) => {
                let mut nonce = String::new();
                // The header's nonce has the same capacity.
                let _ = nonce.push_str(n);
                (State::Challenged(nonce), Step::Challenge)
            }
            (State::Hello | State::Authing, ServerMsg::Error(e)) => {
                let mut said: String<TEXT_CAP> = String::new();
                let _ = said.push_str(e);
                return Err(ClientError::Server(said));
            }
            (State::Native, ServerMsg::Stdout(_) | ServerMsg::Stderr(_)) => {
                (State::Native, Step::None)
            }
            (State::Native, ServerMsg::Exit { code, .. }) => (State::Idle, Step::Exit(code)),
            (State::Native, ServerMsg::Error(_)) => (State::Idle, Step::RefusedByHeader),
            _ => {
                let op = h.op.as_deref().unwrap_or("?");
                let mut said: String<TEXT_CAP> = String::new();
                let _ = said.push_str(op);
                return Err(ClientError::Unexpected(said));
            }
        };
        self.state = next;
        Ok(step)
    }

    /// A seed length reply.
    fn length(&mut self, input: &[u8]) -> Result<(usize, Step), ClientError> {
        let mut used = 0;
        loop {
            let (n, ev) = self
                .len
                .decode(&input[used..])
                .map_err(ClientError::BadLength)?;
            let start = used;
            used += n;
            match ev {
                None => return Ok((used, Step::None)),
                Some(LengthEvent::Start { len }) => self.start_reply(u64::from(len)),
                Some(LengthEvent::Body(b)) => {
                    if let Some(step) = self.body(start..start + b.len(), input) {
                        return Ok((used, step));
                    }
                }
                Some(LengthEvent::End) => return Ok((used, self.end_reply())),
            }
        }
    }

    /// Seed 004's output after the ack.
    fn ack_body(&mut self, input: &[u8], left: u64) -> (usize, Step) {
        let n = usize::try_from(left).map_or(input.len(), |l| l.min(input.len()));
        if n == 0 && left > 0 {
            return (0, Step::None);
        }
        let left = left - n as u64;
        self.state = State::AckBody { left };
        match (self.body(0..n, input), left) {
            // The last piece of a long reply: its exit is next.
            (Some(out), 0) => {
                self.state = State::Done;
                (n, out)
            }
            (None, 0) => (n, self.end_reply()),
            (step, _) => (n, step.unwrap_or(Step::None)),
        }
    }

    /// A seed reply of `len` bytes starts: a short one is held.
    fn start_reply(&mut self, len: u64) {
        self.held = (len <= REFUSAL_PEEK as u64).then(Vec::new);
    }

    /// A piece of a seed reply: held, or output now.
    fn body(&mut self, r: Range<usize>, input: &[u8]) -> Option<Step> {
        match &mut self.held {
            // Fits: the reply is at most REFUSAL_PEEK bytes.
            Some(h) => {
                let _ = h.extend_from_slice(&input[r]);
                None
            }
            None => Some(Step::Output(Stream::Stdout, r)),
        }
    }

    /// A seed reply is whole: a refusal, the held output, or the end.
    fn end_reply(&mut self) -> Step {
        self.state = State::Idle;
        match self.held.as_deref() {
            Some(h) if seed_exec_refusal(h).is_some() => Step::RefusedByHeld,
            Some(h) if !h.is_empty() => {
                self.state = State::Done;
                Step::Held
            }
            _ => Step::Exit(0),
        }
    }
}

/// The exec client as a [`Session`](crate::session::Session), so the
/// blocking driver ([`crate::blocking::Driver`]) runs it like the files
/// clients.
impl<const O: usize> crate::session::Session for ExecClient<O> {
    type Event<'a> = ClientEvent<'a>;
    type Error = ClientError;

    fn handle_input<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<ClientEvent<'a>>), ClientError> {
        ExecClient::handle_input(self, input)
    }

    fn poll_output(&mut self, buf: &mut [u8]) -> usize {
        ExecClient::poll_output(self, buf)
    }

    fn handle_eof(&mut self) -> Result<(), ClientError> {
        ExecClient::handle_eof(self)
    }
}

#[cfg(test)]
mod tests;
