//! The server side of every exec dialect (see `docs/PROTOCOL.md`, "exec"):
//! the same answers, in the same words, as `wirekit serve`'s exec, exec-len
//! and exec-ack listeners.
//!
//! One request at a time: while a reply is waiting in the output buffer,
//! a challenge is pending or a command runs, [`ExecServer::handle_input`]
//! consumes nothing, so a pipelining client waits in the transport's
//! buffers, never in this session's memory.

use core::fmt::Write as _;

use heapless::String;

use super::{Error, Held, Outbox, Stream, DEFAULT_OUTBOX, HEADER_ROOM};
use crate::codec::frame::{Event as FrameEvent, FrameDecoder, Limits};
use crate::service::exec::ack::AckServer;
use crate::service::exec::foreign::Foreign;
use crate::service::exec::native::{ClientMsg, ServerMsg};
use crate::service::exec::{auth, check_command, detect, Dialect, Ending, MAX_NATIVE_COMMAND};
use crate::wire::TEXT_CAP;

mod text;

/// Which exec listener a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `exec`: native frames, or a seed client's bare command text
    /// answered in the seeds' JSON-header framing (told by the first read).
    Exec,
    /// `exec-len`: bare command text, a 4-byte length + output.
    Len,
    /// `exec-ack`: bare command text, the size as text, the client's ack,
    /// the output.
    Ack,
}

/// What the driver knows before the first byte.
#[derive(Debug, Clone, Copy)]
pub struct Config<'a> {
    /// The listener.
    pub flavor: Flavor,
    /// The shared token clients must prove (`None`: nobody is asked,
    /// loopback only, the driver's rule).
    pub token: Option<&'a [u8]>,
    /// The TLS exporter value the proof is bound to (empty in clear text).
    pub binding: &'a [u8],
    /// Whether the peer's address may use the service (`--exec-allow`).
    pub allowed: bool,
}

/// What a step did, for the driver to act on or log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'i> {
    /// Another protocol's message reached a port that runs what it reads:
    /// nothing was run or answered, the session closes.
    Foreign(Foreign),
    /// The peer's address is not allowed: refused, the session closes.
    NotAllowed,
    /// A client asks to authenticate: check the throttle, then call
    /// [`ExecServer::challenge`] with fresh random bytes, or
    /// [`ExecServer::refuse`].
    NeedChallenge,
    /// A proof failed (count it against the source): refused, closing.
    AuthFailed,
    /// A proof was accepted.
    Authenticated,
    /// A command came before authentication, or in a seed dialect that
    /// cannot authenticate: refused, closing.
    Unauthenticated,
    /// A request was refused with an error reply (a bad frame or command).
    Refused,
    /// Run this command (raw bytes for `sh -c`); then call
    /// [`ExecServer::handle_child_exit`] or [`ExecServer::refuse_command`].
    Run {
        /// The command, in the input given to `handle_input`.
        command: &'i [u8],
    },
}

/// How replies are framed on this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Native,
    Json,
    Len,
    Ack,
}

/// Where the conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing read yet (the dialect is not known).
    Start,
    /// Waiting for the next request.
    Idle,
    /// [`Event::NeedChallenge`] is out, the driver's answer not in.
    Challenging,
    /// [`Event::Run`] is out; the command's output streams (native).
    Running,
    /// Seed 004: the size is out, the client's ack not in; the body is
    /// the session's note or the driver's held output.
    AwaitAck { note: bool },
    /// Seed dialects: `left` bytes of the driver's held output still to
    /// take.
    Body { left: u64 },
    /// Closing once the output buffer is empty.
    Closed,
}

/// What one step of the frame decoder gave, without its borrow.
enum Part {
    Header(u64),
    Body(usize),
    End,
}

/// The header limit of native client frames (the host's).
const HEADER_CAP: usize = 1024;

/// Longest text of a refusal's body in the seed dialects.
const NOTE_CAP: usize = TEXT_CAP + 16;

/// One connection's exec session; `O` is its output buffer (at least
/// [`HEADER_ROOM`] + 1; each native output frame carries at most
/// `O - HEADER_ROOM` bytes).
///
/// It holds no command: a command is handed to the driver from the
/// driver's own input ([`Event::Run`] borrows it), so a native frame's body
/// (at most [`MAX_NATIVE_COMMAND`] bytes) is taken only once it is whole in
/// the input; until then `handle_input` consumes nothing more and the
/// driver reads on. An idle connection costs the session's few KiB only.
pub struct ExecServer<'a, const O: usize = DEFAULT_OUTBOX> {
    cfg: Config<'a>,
    mode: Mode,
    phase: Phase,
    authed: bool,
    /// The nonce of the challenge sent, until a proof for it arrives.
    nonce: Option<[u8; 2 * auth::NONCE_LEN]>,
    dec: FrameDecoder<HEADER_CAP>,
    ack: AckServer,
    /// The size of the native frame body the input must hold whole.
    body_wait: Option<u64>,
    /// A seed-dialect refusal's body, sent after its header (and ack).
    note: String<NOTE_CAP>,
    /// Close once the current reply is out.
    close_after: bool,
    /// No command was read yet (the address check is made on the first).
    first: bool,
    out: Outbox<O>,
}

impl<'a, const O: usize> ExecServer<'a, O> {
    /// A session for one new connection.
    pub fn new(cfg: Config<'a>) -> Self {
        ExecServer {
            cfg,
            mode: Mode::Native,
            phase: Phase::Start,
            authed: cfg.token.is_none(),
            nonce: None,
            dec: FrameDecoder::with_limits(Limits {
                max_header: HEADER_CAP as u32,
                max_body: MAX_NATIVE_COMMAND as u64,
                ..Limits::default()
            }),
            ack: AckServer::new(),
            body_wait: None,
            note: String::new(),
            close_after: false,
            first: true,
            out: Outbox::default(),
        }
    }

    /// True once the driver should close: after a refusal went out, after
    /// foreign input, after the client's end of input.
    pub fn wants_close(&self) -> bool {
        self.phase == Phase::Closed && self.out.is_empty()
    }

    /// True if the connection speaks the native protocol (known after the
    /// first input): its output streams, nothing is held.
    pub fn is_native(&self) -> bool {
        self.mode == Mode::Native && self.phase != Phase::Start
    }

    /// How many bytes of held output (see [`Held`]) the session takes now
    /// with [`ExecServer::handle_child_output`]; 0 when none.
    pub fn output_wanted(&self) -> usize {
        match self.phase {
            Phase::Body { left } if self.out.is_empty() => {
                usize::try_from(left).map_or(O, |l| l.min(O))
            }
            _ => 0,
        }
    }

    /// Moves the next bytes to send into `buf`; 0 when there are none.
    pub fn poll_output(&mut self, buf: &mut [u8]) -> usize {
        self.out.pop(buf)
    }

    /// Consumes received bytes up to the end of the next request (native:
    /// a frame; seed dialects: this call's bytes are one read, one
    /// command, as the seeds' `recv(1024)`), and says what to do.
    pub fn handle_input<'i>(&mut self, input: &'i [u8]) -> (usize, Option<Event<'i>>) {
        if input.is_empty() || !self.out.is_empty() {
            return (0, None);
        }
        if self.phase == Phase::Start {
            self.start(input);
            if self.mode == Mode::Native && !self.cfg.allowed {
                let _ = self.refuse("refused: your address is not allowed (--exec-allow)");
                return (input.len(), Some(Event::NotAllowed));
            }
            self.phase = Phase::Idle;
        }
        match (self.mode, self.phase) {
            (Mode::Native, Phase::Idle) => self.native_input(input),
            (Mode::Ack, Phase::AwaitAck { note }) => self.ack_input(input, note),
            (_, Phase::Idle) => self.text_input(input),
            _ => (0, None),
        }
    }

    /// Picks the framing from the listener and the first read.
    fn start(&mut self, first: &[u8]) {
        self.mode = match (self.cfg.flavor, detect(first)) {
            (Flavor::Exec, Dialect::Native) => Mode::Native,
            (Flavor::Exec, Dialect::Text) => Mode::Json,
            (Flavor::Len, _) => Mode::Len,
            (Flavor::Ack, _) => Mode::Ack,
        };
    }

    /// Decodes native frames until one is whole, then answers it.
    fn native_input<'i>(&mut self, input: &'i [u8]) -> (usize, Option<Event<'i>>) {
        let (mut used, mut body) = (0, 0..0);
        loop {
            if let Some(n) = self.body_wait {
                // A body is taken whole: wait until the input holds it.
                if ((input.len() - used) as u64) < n {
                    return (used, None);
                }
                self.body_wait = None;
            }
            let (n, part) = match self.dec.decode(&input[used..]) {
                Ok((n, None)) => return (used + n, None),
                Ok((n, Some(FrameEvent::Header(h)))) => (n, Part::Header(h.total_size)),
                Ok((n, Some(FrameEvent::Body(b)))) => (n, Part::Body(b.len())),
                Ok((n, Some(FrameEvent::End(_)))) => (n, Part::End),
                Err(e) => {
                    let mut msg: String<TEXT_CAP> = String::new();
                    let _ = write!(msg, "bad frame: {e}");
                    let _ = self.refuse(&msg);
                    return (input.len(), Some(Event::Refused));
                }
            };
            let start = used;
            used += n;
            match part {
                Part::Header(size) => self.body_wait = (size > 0).then_some(size),
                Part::Body(len) => body = start..start + len,
                Part::End => return (used, self.on_frame(&input[body])),
            }
        }
    }

    /// Answers a whole native frame whose body is `body`.
    fn on_frame<'i>(&mut self, body: &'i [u8]) -> Option<Event<'i>> {
        let h = self.dec.header();
        let msg = match ClientMsg::parse(h, MAX_NATIVE_COMMAND as u64) {
            Ok(m) => m,
            Err(e) => {
                let mut msg: String<TEXT_CAP> = String::new();
                let _ = write!(msg, "bad request: {e}");
                let _ = self.refuse(&msg);
                return Some(Event::Refused);
            }
        };
        match msg {
            ClientMsg::Hello if self.cfg.token.is_some() => {
                self.phase = Phase::Challenging;
                Some(Event::NeedChallenge)
            }
            ClientMsg::Hello => {
                // The output buffer is empty (input is only taken then),
                // so a header fits; the same below.
                let _ = self.send(ServerMsg::Ready);
                None
            }
            ClientMsg::Auth(proof) => {
                let ok = match (self.cfg.token, self.nonce.take()) {
                    (None, _) => true,
                    (Some(t), Some(n)) => {
                        let nonce = core::str::from_utf8(&n).unwrap_or("");
                        auth::verify(t, nonce, self.cfg.binding, proof)
                    }
                    (Some(_), None) => false,
                };
                if !ok {
                    let _ = self.refuse("authentication failed: wrong token");
                    return Some(Event::AuthFailed);
                }
                self.authed = true;
                let _ = self.send(ServerMsg::Ready);
                Some(Event::Authenticated)
            }
            ClientMsg::Exec(_) if !self.authed => {
                let msg = "authentication required: this server needs a token (--token-file)";
                let _ = self.refuse(msg);
                Some(Event::Unauthenticated)
            }
            ClientMsg::Exec(_) => self.command(body, MAX_NATIVE_COMMAND),
        }
    }

    /// Checks a command and starts it, or refuses it.
    fn command<'i>(&mut self, cmd: &'i [u8], limit: usize) -> Option<Event<'i>> {
        self.phase = Phase::Running;
        if let Err(e) = check_command(cmd, limit) {
            let mut msg: String<TEXT_CAP> = String::new();
            let _ = write!(msg, "{e}");
            let _ = self.refuse_command(&msg);
            return Some(Event::Refused);
        }
        Some(Event::Run { command: cmd })
    }

    /// Answers [`Event::NeedChallenge`]: sends a challenge for the nonce
    /// made of these random bytes.
    pub fn challenge(&mut self, random: &[u8; auth::NONCE_LEN]) -> Result<(), Error> {
        if self.phase != Phase::Challenging {
            return Err(Error::OutOfOrder("challenge"));
        }
        let nonce = auth::nonce_hex(random);
        self.phase = Phase::Idle;
        self.send(ServerMsg::Challenge(
            core::str::from_utf8(&nonce).unwrap_or(""),
        ))?;
        self.nonce = Some(nonce);
        Ok(())
    }

    /// Refuses with `msg` and closes: the dialect's error form (a native
    /// `error` frame; a seed reply with exit code 255 whose body says
    /// `wirekit: MSG`). For the seed dialects only while a command runs,
    /// since their refusal answers a command.
    pub fn refuse(&mut self, msg: &str) -> Result<(), Error> {
        self.close_after = true;
        if self.mode == Mode::Native {
            let r = self.send(ServerMsg::Error(msg));
            self.phase = Phase::Closed;
            return r;
        }
        if self.phase != Phase::Running {
            // A seed reply cannot start in the middle of another one.
            self.phase = Phase::Closed;
            return Err(Error::OutOfOrder("refuse"));
        }
        self.refuse_command(msg)
    }

    /// Answers the running command with an error instead (no free slot,
    /// it could not be started); the connection goes on.
    pub fn refuse_command(&mut self, msg: &str) -> Result<(), Error> {
        if self.phase != Phase::Running {
            return Err(Error::OutOfOrder("refuse_command"));
        }
        if self.mode == Mode::Native {
            self.phase = Phase::Idle;
            return self.send(ServerMsg::Error(msg));
        }
        self.text_refusal(msg)
    }

    /// Takes up to `data.len()` bytes of command output; returns how many
    /// (0 while earlier output waits in [`ExecServer::poll_output`]).
    /// Native: while the command runs, each call one `stdout`/`stderr`
    /// frame. Seed dialects: the held output, when
    /// [`ExecServer::output_wanted`] asks for it (`stream` is ignored).
    pub fn handle_child_output(&mut self, stream: Stream, data: &[u8]) -> Result<usize, Error> {
        match (self.mode, self.phase) {
            (Mode::Native, Phase::Running) => {
                if !self.out.is_empty() || data.is_empty() {
                    return Ok(0);
                }
                let n = data.len().min(O.saturating_sub(HEADER_ROOM));
                let msg = match stream {
                    Stream::Stdout => ServerMsg::Stdout(n as u64),
                    Stream::Stderr => ServerMsg::Stderr(n as u64),
                };
                self.out.push_header(&msg.header())?;
                self.out.push(&data[..n])?;
                Ok(n)
            }
            (_, Phase::Body { left }) => {
                let n = data.len().min(self.output_wanted());
                self.out.push(&data[..n])?;
                let left = left - n as u64;
                self.phase = Phase::Body { left };
                if left == 0 {
                    self.reply_done();
                }
                Ok(n)
            }
            _ => Err(Error::OutOfOrder("handle_child_output")),
        }
    }

    /// The command ended: native, the `exit` frame; seed dialects, the
    /// reply's header announcing the `held` output, which follows.
    pub fn handle_child_exit(
        &mut self,
        ending: Ending,
        truncated: bool,
        held: Held,
    ) -> Result<(), Error> {
        if self.phase != Phase::Running {
            return Err(Error::OutOfOrder("handle_child_exit"));
        }
        if self.mode == Mode::Native {
            self.phase = Phase::Idle;
            let marker = ending.marker();
            let exit = ServerMsg::Exit {
                code: ending.exit_code(),
                truncated,
                note: marker.as_deref().map(str::trim),
            };
            return self.send(exit);
        }
        self.reply_header(ending.exit_code(), truncated, held, None, false)
    }

    /// The client closed its side (call once all input was consumed).
    pub fn handle_eof(&mut self) -> Result<(), Error> {
        match self.phase {
            Phase::Idle if self.mode == Mode::Native && !self.dec.is_idle() => {
                self.refuse("connection closed inside a frame")
            }
            Phase::AwaitAck { .. } => {
                self.phase = Phase::Closed;
                Err(Error::NoAck)
            }
            // A command runs or a reply goes out: the driver finishes it
            // (its writes fail if the client is gone).
            Phase::Running | Phase::Body { .. } => Ok(()),
            _ => {
                self.phase = Phase::Closed;
                Ok(())
            }
        }
    }

    fn send(&mut self, msg: ServerMsg<'_>) -> Result<(), Error> {
        self.out.push_header(&msg.header())
    }
}
