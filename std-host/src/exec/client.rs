//! The exec clients: `wirekit exec ADDR -- CMD…` runs one command and exits
//! with its exit code; `wirekit shell ADDR` is the seeds' `>>> ` loop. Output
//! is written as raw bytes as it arrives, never decoded, so a multi-byte
//! character split between reads (seed 004's decode error) cannot break it.
//!
//! `--dialect` picks the framing: `native` (default: stdout and stderr
//! apart, exit code, authentication) or a seed server's `exec` (JSON
//! header), `len` (4-byte length) or `ack` (size text, ack, output); the
//! seed dialects carry stdout and stderr together on stdout.
//!
//! Every dialect runs over TLS too (`--tls`, `--tls-pin`, `--tls-ca`, as
//! the echo client; a `SERVICE+tls` listener); the native token proof is
//! then bound to the TLS session ([`link::Link::binding`]).

use std::io::{BufRead, IsTerminal as _, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use wirekit_core::codec::frame::{Event, FrameDecoder, Limits};
use wirekit_core::codec::length::{LengthDecoder, LengthEvent};
use wirekit_core::service::exec::ack::{parse_size_text, CLIENT_ACK};
use wirekit_core::service::exec::native::{ClientMsg, ServerMsg, MAX_CHUNK};
use wirekit_core::service::exec::{
    auth, check_command, EXIT_REFUSED, MAX_NATIVE_COMMAND, MAX_TEXT_COMMAND,
};
use wirekit_core::wire::{emit_frame_header, Header};

use wirekit_core::service::answer::{seed_exec_refusal, Answer};

use crate::client::visible::{visible, Newlines};
use crate::tls::client::TlsClientOpts;
use link::Link;

pub mod help;
pub mod link;
pub mod probe;

/// Seed-dialect replies up to this size are looked at whole before being
/// printed: wirekit's server words a refusal as one short line.
const REFUSAL_PEEK: u64 = 512;

/// Largest reply a seed dialect client accepts (the `i` length's range).
const MAX_SEED_REPLY: u64 = i32::MAX as u64;

/// Which framing to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientDialect {
    /// wirekit's native protocol (streams, exit code, token).
    Native,
    /// The seeds' JSON-header reply (seeds 001/002 "ultimate").
    Exec,
    /// The seeds' 4-byte length reply (seeds 000/001).
    Len,
    /// Seed 004's size text, ack, output.
    Ack,
}

/// Options shared by `wirekit exec` and `wirekit shell`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = help::SHELL)]
pub struct ClientArgs {
    /// Server address, e.g. 127.0.0.1:7000.
    #[arg(value_name = "ADDR")]
    pub addr: String,
    /// File holding the shared token (native dialect).
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Framing to speak.
    #[arg(long, value_enum, default_value_t = ClientDialect::Native)]
    pub dialect: ClientDialect,
    /// Seconds allowed for connecting and for the server's first answer
    /// (native dialect: the handshake).
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub timeout: u64,
    /// Longest silence from the server while a command runs, in seconds
    /// (the seed dialects answer only when the command has finished; the
    /// server stops commands after its --exec-timeout, 30 s by default).
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub idle_timeout: u64,
    /// TLS (for an `exec+tls`, `exec-len+tls` or `exec-ack+tls` listener).
    #[command(flatten, next_help_heading = "TLS")]
    pub tls: TlsClientOpts,
}

/// Options of `wirekit exec`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = help::EXEC)]
pub struct ExecArgs {
    /// Server, dialect and token.
    #[command(flatten)]
    pub client: ClientArgs,
    /// The command (`--` before it is optional, as with ssh); words are
    /// joined with spaces and run by the server's `sh -c`.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD",
        // Listed with ADDR, not under the TLS options before it.
        help_heading = None::<&str>
    )]
    pub cmd: Vec<String>,
}

/// A connection to an exec server.
pub struct Session {
    stream: Link,
    dialect: ClientDialect,
    /// Bytes read but not yet decoded.
    pending: Vec<u8>,
    /// Connect and first-answer timeout.
    timeout: Duration,
    /// Whether the server's first answer was checked.
    probed: bool,
}

impl Session {
    /// Connects, and for the native dialect opens the session
    /// (authenticating if the server asks).
    pub fn connect(args: &ClientArgs) -> anyhow::Result<Session> {
        let token = match &args.token_file {
            Some(p) => {
                let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
                Some(
                    auth::token_from_file(&bytes)
                        .map_err(|e| anyhow!("{e}"))?
                        .to_vec(),
                )
            }
            None => None,
        };
        let timeout = Duration::from_secs(args.timeout.max(1));
        let stream = Link::connect(&args.addr, timeout, &args.tls)?;
        stream.tcp().set_read_timeout(
            (args.idle_timeout > 0).then(|| Duration::from_secs(args.idle_timeout)),
        )?;
        let mut s = Session {
            stream,
            dialect: args.dialect,
            pending: Vec::new(),
            timeout,
            probed: false,
        };
        if s.dialect == ClientDialect::Native {
            s.hello(token.as_deref())?;
        }
        Ok(s)
    }

    fn hello(&mut self, token: Option<&[u8]>) -> anyhow::Result<()> {
        let sent = self.send(&ClientMsg::Hello.header(), b"")?;
        self.probe(&sent, self.timeout)?;
        let h = self.read_frame(&mut std::io::sink(), &mut std::io::sink())?;
        let msg = ServerMsg::parse(&h).map_err(|e| {
            let said = h
                .error
                .as_deref()
                .map(|e| format!(" (it said: {e})"))
                .unwrap_or_default();
            anyhow!("bad reply: {e}{said}; is this a wirekit `exec` listener?")
        })?;
        match msg {
            ServerMsg::Ready => Ok(()),
            ServerMsg::Challenge(nonce) => {
                let token = token
                    .ok_or_else(|| anyhow!("the server requires a token: give --token-file"))?;
                let proof = auth::proof(token, nonce, &self.stream.binding()?);
                let proof = String::from_utf8_lossy(&proof).into_owned();
                self.send(&ClientMsg::Auth(&proof).header(), b"")?;
                let h = self.read_frame(&mut std::io::sink(), &mut std::io::sink())?;
                match ServerMsg::parse(&h).map_err(|e| anyhow!("bad reply: {e}"))? {
                    ServerMsg::Ready => Ok(()),
                    ServerMsg::Error(e) => bail!("server: {e}"),
                    other => bail!("unexpected reply {other:?}"),
                }
            }
            ServerMsg::Error(e) => bail!("server: {e}"),
            other => bail!("unexpected reply {other:?}"),
        }
    }

    /// Sends one frame; returns its bytes (for [`Session::probe`]).
    fn send(&mut self, header: &Header, body: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut frame = vec![0u8; 512];
        let n = emit_frame_header(header, &mut frame).map_err(|e| anyhow!("{e}"))?;
        frame.truncate(n);
        frame.extend_from_slice(body);
        self.write(&frame)?;
        Ok(frame)
    }

    /// Sends bytes at once (TLS buffers them otherwise).
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Checks the first answer to `sent`: a busy or refusing server, or
    /// the wrong kind of listener, ends the session with one line.
    fn probe(&mut self, sent: &[u8], timeout: Duration) -> anyhow::Result<()> {
        if self.probed {
            return Ok(());
        }
        self.probed = true;
        let start = self.pending.len();
        let answer = probe::read_first_answer(&mut self.stream, &mut self.pending, sent, timeout)?;
        let got = &self.pending[start..];
        let want: &[Answer] = match self.dialect {
            ClientDialect::Native | ClientDialect::Exec => &[Answer::Frame],
            ClientDialect::Len => &[Answer::Length],
            ClientDialect::Ack => &[Answer::SizeText],
        };
        let dialect = self.dialect;
        let hint = move |a: Answer| exec_hint(dialect, a);
        probe::check(
            answer,
            got,
            &probe::Expect {
                want,
                service: "an exec listener",
                hint: &hint,
            },
        )
    }

    /// Timeout for the first answer to a command: the seed dialects answer
    /// only once it has finished.
    fn command_wait(&self) -> Duration {
        self.stream
            .tcp()
            .read_timeout()
            .ok()
            .flatten()
            .unwrap_or(Duration::from_secs(24 * 3600))
    }

    /// Reads more bytes into `pending`; false at EOF.
    fn fill(&mut self) -> anyhow::Result<bool> {
        let mut buf = [0u8; 16 * 1024];
        let n = match self.stream.read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                bail!(
                    "the server sent nothing for {} s (--idle-timeout)",
                    self.command_wait().as_secs()
                )
            }
            Err(e) => return Err(e.into()),
        };
        self.pending.extend_from_slice(&buf[..n]);
        Ok(n > 0)
    }

    /// Reads one whole frame, writing a `stdout`/`stderr` body to `out` /
    /// `err` as it arrives (any other body goes to `out`); returns its header.
    fn read_frame(&mut self, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<Header> {
        let mut dec: FrameDecoder<1024> = FrameDecoder::with_limits(Limits {
            max_header: 1024,
            max_body: if self.dialect == ClientDialect::Native {
                MAX_CHUNK
            } else {
                MAX_SEED_REPLY
            },
            // The seeds' servers send a placeholder md5.
            strict_md5: false,
            reject_mismatch: true,
        });
        let mut header: Option<Header> = None;
        loop {
            let mut used = 0;
            loop {
                let (n, ev) = dec
                    .decode(&self.pending[used..])
                    .map_err(|e| anyhow!("bad reply: {e}"))?;
                used += n;
                match ev {
                    None => break,
                    Some(Event::Header(h)) => header = Some(h.clone()),
                    Some(Event::Body(b)) => {
                        // A seed JSON reply with `error` is wirekit refusing:
                        // its body repeats the reason, which is told once, on
                        // stderr, by the caller.
                        if header
                            .as_ref()
                            .is_some_and(|h| h.error.is_some() && h.op.is_none())
                        {
                            continue;
                        }
                        let to_err = header.as_ref().is_some_and(|h| h.is_op("stderr"));
                        let w: &mut dyn Write = if to_err { err } else { out };
                        w.write_all(b)?;
                        w.flush()?;
                    }
                    Some(Event::End(_)) => {
                        self.pending.drain(..used);
                        return header.ok_or_else(|| anyhow!("frame without header"));
                    }
                }
            }
            self.pending.drain(..used);
            if !self.fill()? {
                bail!("server closed the connection");
            }
        }
    }

    /// Longest command this dialect can carry.
    pub fn command_limit(&self) -> usize {
        match self.dialect {
            ClientDialect::Native => MAX_NATIVE_COMMAND,
            _ => MAX_TEXT_COMMAND,
        }
    }

    /// Runs one command; returns its exit code (255 when the server refused
    /// it; the seed dialects report 0 unless the server sent `exit_code`).
    pub fn run(
        &mut self,
        cmd: &[u8],
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> anyhow::Result<i32> {
        check_command(cmd, self.command_limit()).map_err(|e| anyhow!("{e}"))?;
        match self.dialect {
            ClientDialect::Native => self.run_native(cmd, out, err),
            ClientDialect::Exec => {
                self.write(cmd)?;
                self.probe(cmd, self.command_wait())?;
                let h = self.read_frame(out, err)?;
                if let Some(e) = &h.error {
                    writeln!(
                        err,
                        "wirekit: server refused: {}",
                        visible(e.as_bytes(), Newlines::Escape)
                    )?;
                    return Ok(EXIT_REFUSED);
                }
                Ok(h.exit_code.unwrap_or(0))
            }
            ClientDialect::Len => self.run_len(cmd, out, err),
            ClientDialect::Ack => self.run_ack(cmd, out, err),
        }
    }

    fn run_native(
        &mut self,
        cmd: &[u8],
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> anyhow::Result<i32> {
        self.send(&ClientMsg::Exec(cmd.len() as u64).header(), cmd)?;
        loop {
            let h = self.read_frame(out, err)?;
            match ServerMsg::parse(&h).map_err(|e| anyhow!("bad reply: {e}"))? {
                ServerMsg::Stdout(_) | ServerMsg::Stderr(_) => {}
                ServerMsg::Exit { code, .. } => return Ok(code),
                ServerMsg::Error(e) => {
                    writeln!(err, "wirekit: server refused: {e}")?;
                    return Ok(EXIT_REFUSED);
                }
                other => bail!("unexpected reply {other:?}"),
            }
        }
    }

    fn run_len(
        &mut self,
        cmd: &[u8],
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> anyhow::Result<i32> {
        self.write(cmd)?;
        self.probe(cmd, self.command_wait())?;
        let mut dec = LengthDecoder::new(MAX_SEED_REPLY as u32);
        let mut held = SmallReply::default();
        loop {
            let mut used = 0;
            loop {
                let (n, ev) = dec
                    .decode(&self.pending[used..])
                    .map_err(|e| anyhow!("bad reply: {e}"))?;
                used += n;
                match ev {
                    None => break,
                    Some(LengthEvent::Start { len }) => held.start(u64::from(len)),
                    Some(LengthEvent::Body(b)) => held.body(b, out)?,
                    Some(LengthEvent::End) => {
                        self.pending.drain(..used);
                        return held.end(out, err);
                    }
                }
            }
            self.pending.drain(..used);
            if !self.fill()? {
                bail!("server closed the connection");
            }
        }
    }

    fn run_ack(
        &mut self,
        cmd: &[u8],
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> anyhow::Result<i32> {
        self.write(cmd)?;
        self.probe(cmd, self.command_wait())?;
        // The size comes alone: the server waits for the ack before
        // sending anything else (that is the dialect's point).
        if self.pending.is_empty() && !self.fill()? {
            bail!("server closed the connection");
        }
        let size_text = std::mem::take(&mut self.pending);
        let mut left = parse_size_text(&size_text, MAX_SEED_REPLY)
            .map_err(|e| anyhow!("bad size from server: {e}"))?;
        self.write(CLIENT_ACK)?;
        let mut held = SmallReply::default();
        held.start(left);
        while left > 0 {
            if self.pending.is_empty() && !self.fill()? {
                bail!("server closed the connection");
            }
            let take = self
                .pending
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            held.body(&self.pending[..take], out)?;
            self.pending.drain(..take);
            left -= take as u64;
        }
        held.end(out, err)
    }
}

/// A seed-dialect reply on its way to stdout: a short one is held whole,
/// to tell wirekit's refusal line (exit 255) from a command's output.
#[derive(Default)]
struct SmallReply {
    held: Option<Vec<u8>>,
}

impl SmallReply {
    fn start(&mut self, len: u64) {
        self.held = (len <= REFUSAL_PEEK).then(Vec::new);
    }

    fn body(&mut self, b: &[u8], out: &mut dyn Write) -> std::io::Result<()> {
        match &mut self.held {
            Some(v) => v.extend_from_slice(b),
            None => {
                out.write_all(b)?;
                out.flush()?;
            }
        }
        Ok(())
    }

    /// The exit code: 255 for a refusal (told on `err`), else 0 (these
    /// dialects carry no exit code).
    fn end(self, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<i32> {
        let Some(body) = self.held else {
            return Ok(0);
        };
        if let Some(why) = seed_exec_refusal(&body) {
            writeln!(
                err,
                "wirekit: server refused: {}",
                visible(why, Newlines::Escape)
            )?;
            return Ok(EXIT_REFUSED);
        }
        out.write_all(&body)?;
        out.flush()?;
        Ok(0)
    }
}

/// What to tell a user whose exec client found `found`.
fn exec_hint(dialect: ClientDialect, found: Answer) -> Option<String> {
    let native = matches!(dialect, ClientDialect::Native | ClientDialect::Exec);
    Some(match found {
        Answer::Frame if !native => {
            "this is a native `exec` listener: use --dialect native (or exec)".into()
        }
        Answer::Length => "this looks like an `exec-len` listener: use --dialect len".into(),
        Answer::SizeText => "this looks like an `exec-ack` listener: use --dialect ack".into(),
        Answer::Closed if native => "the seed-dialect listeners (exec-len, exec-ack) close on a \
            native frame: try --dialect len or --dialect ack"
            .into(),
        Answer::Echo | Answer::Text | Answer::Binary => {
            "point the client at an exec, exec-len or exec-ack listener".into()
        }
        _ => return None,
    })
}

/// The process exit code for a remote exit code (255 when out of range).
fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(255))
}

/// Reports a client failure as ssh does: one line and exit code 255, which
/// a remote command's own codes rarely use. The line can quote a server's
/// words, so control characters are made visible.
pub fn report(r: anyhow::Result<i32>) -> ExitCode {
    match r {
        Ok(code) => exit_code(code),
        // Whoever read our output has had enough (`| head`): end quietly,
        // with the status of a process killed by SIGPIPE.
        Err(e) if is_broken_pipe(&e) => ExitCode::from(EXIT_BROKEN_PIPE),
        Err(e) => {
            let text = visible(format!("{e:#}").as_bytes(), Newlines::Escape);
            eprintln!("wirekit: error: {text}");
            exit_code(EXIT_REFUSED)
        }
    }
}

/// Exit status when stdout was closed under us (128 + SIGPIPE).
const EXIT_BROKEN_PIPE: u8 = 141;

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Runs `wirekit exec`.
pub fn run_exec(args: &ExecArgs) -> ExitCode {
    report(exec(&args.client, &args.cmd))
}

/// Runs `wirekit shell`.
pub fn run_shell(args: &ClientArgs) -> ExitCode {
    report(shell(args))
}

/// `wirekit exec`: runs `cmd` (the words joined by spaces, as ssh does) and
/// returns the remote exit code.
pub fn exec(args: &ClientArgs, cmd: &[String]) -> anyhow::Result<i32> {
    let cmd = cmd.join(" ");
    let mut s = Session::connect(args)?;
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    s.run(cmd.as_bytes(), &mut out, &mut err)
}

/// `wirekit shell`: the seeds' interactive loop; commands are stdin lines
/// (so it can be scripted), `quit` or EOF ends it. Returns the last exit
/// code.
pub fn shell(args: &ClientArgs) -> anyhow::Result<i32> {
    let mut s = Session::connect(args)?;
    let mut stdin = std::io::stdin().lock();
    // The prompt is for a person: a script feeding stdin gets only output.
    let prompt = stdin.is_terminal();
    let mut line = Vec::new();
    let mut code = 0;
    loop {
        if prompt {
            let mut out = std::io::stdout().lock();
            out.write_all(b">>> ")?;
            out.flush()?;
        }
        line.clear();
        if stdin.read_until(b'\n', &mut line)? == 0 {
            if prompt {
                println!();
            }
            return Ok(code);
        }
        let cmd = line.trim_ascii();
        if cmd.is_empty() {
            continue;
        }
        if cmd == b"quit" || cmd == b"exit" {
            return Ok(code);
        }
        let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
        if let Err(e) = check_command(cmd, s.command_limit()) {
            // Refused before sending: the connection is still good.
            writeln!(err, "wirekit: {e}")?;
            code = EXIT_REFUSED;
            continue;
        }
        code = s.run(cmd, &mut out, &mut err)?;
    }
}
