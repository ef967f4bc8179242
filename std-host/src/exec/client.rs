//! The exec clients: `wirekit exec ADDR -- CMD…` runs one command and exits
//! with its exit code; `wirekit shell ADDR` is the seeds' `>>> ` loop. Output
//! is written as raw bytes as it arrives, never decoded, so a multi-byte
//! character split between reads (seed 004's decode error) cannot break it.
//!
//! `--dialect` picks the framing: `native` (default: stdout and stderr
//! apart, exit code, authentication) or a seed server's `exec` (JSON
//! header), `len` (4-byte length) or `ack` (size text, ack, output); the
//! seed dialects carry stdout and stderr together on stdout.

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
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

use crate::client::resolve;

/// How long connecting may take. Replies have no client-side timeout: the
/// server bounds every command with its own.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
pub struct ClientArgs {
    /// Server address, e.g. 127.0.0.1:7000.
    pub addr: String,
    /// File holding the shared token (native dialect).
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Framing to speak.
    #[arg(long, value_enum, default_value_t = ClientDialect::Native)]
    pub dialect: ClientDialect,
}

/// Options of `wirekit exec`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecArgs {
    /// Server, dialect and token.
    #[command(flatten)]
    pub client: ClientArgs,
    /// The command, after `--`; words are joined with spaces and run by the
    /// server's `sh -c`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

/// A connection to an exec server.
pub struct Session {
    stream: TcpStream,
    dialect: ClientDialect,
    /// Bytes read but not yet decoded.
    pending: Vec<u8>,
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
        let addr = resolve(&args.addr)?;
        let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
            .with_context(|| format!("connecting to {addr}"))?;
        let _ = stream.set_nodelay(true);
        let mut s = Session {
            stream,
            dialect: args.dialect,
            pending: Vec::new(),
        };
        if s.dialect == ClientDialect::Native {
            s.hello(token.as_deref())?;
        }
        Ok(s)
    }

    fn hello(&mut self, token: Option<&[u8]>) -> anyhow::Result<()> {
        self.send(&ClientMsg::Hello.header(), b"")?;
        let h = self.read_frame(&mut std::io::sink(), &mut std::io::sink())?;
        match ServerMsg::parse(&h).map_err(|e| anyhow!("bad reply: {e}"))? {
            ServerMsg::Ready => Ok(()),
            ServerMsg::Challenge(nonce) => {
                let token = token
                    .ok_or_else(|| anyhow!("the server requires a token: give --token-file"))?;
                let proof = auth::proof(token, nonce, &[]);
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

    fn send(&mut self, header: &Header, body: &[u8]) -> anyhow::Result<()> {
        let mut frame = vec![0u8; 512];
        let n = emit_frame_header(header, &mut frame).map_err(|e| anyhow!("{e}"))?;
        frame.truncate(n);
        frame.extend_from_slice(body);
        self.stream.write_all(&frame)?;
        Ok(())
    }

    /// Reads more bytes into `pending`; false at EOF.
    fn fill(&mut self) -> anyhow::Result<bool> {
        let mut buf = [0u8; 16 * 1024];
        let n = self.stream.read(&mut buf)?;
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
                self.stream.write_all(cmd)?;
                let h = self.read_frame(out, err)?;
                Ok(h.exit_code.unwrap_or(0))
            }
            ClientDialect::Len => self.run_len(cmd, out),
            ClientDialect::Ack => self.run_ack(cmd, out),
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

    fn run_len(&mut self, cmd: &[u8], out: &mut dyn Write) -> anyhow::Result<i32> {
        self.stream.write_all(cmd)?;
        let mut dec = LengthDecoder::new(MAX_SEED_REPLY as u32);
        loop {
            let mut used = 0;
            loop {
                let (n, ev) = dec
                    .decode(&self.pending[used..])
                    .map_err(|e| anyhow!("bad reply: {e}"))?;
                used += n;
                match ev {
                    None => break,
                    Some(LengthEvent::Start { .. }) => {}
                    Some(LengthEvent::Body(b)) => {
                        out.write_all(b)?;
                        out.flush()?;
                    }
                    Some(LengthEvent::End) => {
                        self.pending.drain(..used);
                        return Ok(0);
                    }
                }
            }
            self.pending.drain(..used);
            if !self.fill()? {
                bail!("server closed the connection");
            }
        }
    }

    fn run_ack(&mut self, cmd: &[u8], out: &mut dyn Write) -> anyhow::Result<i32> {
        self.stream.write_all(cmd)?;
        // The size comes alone: the server waits for the ack before
        // sending anything else (that is the dialect's point).
        if self.pending.is_empty() && !self.fill()? {
            bail!("server closed the connection");
        }
        let size_text = std::mem::take(&mut self.pending);
        let mut left = parse_size_text(&size_text, MAX_SEED_REPLY)
            .map_err(|e| anyhow!("bad size from server: {e}"))?;
        self.stream.write_all(CLIENT_ACK)?;
        while left > 0 {
            if self.pending.is_empty() && !self.fill()? {
                bail!("server closed the connection");
            }
            let take = self
                .pending
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            out.write_all(&self.pending[..take])?;
            out.flush()?;
            self.pending.drain(..take);
            left -= take as u64;
        }
        Ok(0)
    }
}

/// The process exit code for a remote exit code (255 when out of range).
fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(255))
}

/// Reports a client failure as ssh does: one line and exit code 255, which
/// a remote command's own codes rarely use.
fn report(r: anyhow::Result<i32>) -> ExitCode {
    match r {
        Ok(code) => exit_code(code),
        Err(e) => {
            eprintln!("wirekit: error: {e:#}");
            exit_code(EXIT_REFUSED)
        }
    }
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
    let mut line = Vec::new();
    let mut code = 0;
    loop {
        {
            let mut out = std::io::stdout().lock();
            out.write_all(b">>> ")?;
            out.flush()?;
        }
        line.clear();
        if stdin.read_until(b'\n', &mut line)? == 0 {
            println!();
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
