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
//! then bound to the TLS session ([`Stream::binding`](crate::client::conn::Stream::binding)).
//!
//! The protocol is the core's [`ExecClient`] session, moved by the same
//! blocking driver as the files clients ([`crate::client::conn::Link`]).

use std::io::{BufRead, ErrorKind, IsTerminal as _, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use wirekit_core::blocking::Flow;
use wirekit_core::service::answer::Answer;
use wirekit_core::service::exec::auth::{BINDING_LEN, EXPORTER_LABEL};
use wirekit_core::service::exec::{auth, check_command, EXIT_REFUSED};
use wirekit_core::session::exec::{ClientEvent, ExecClient, Framing, Stream};

use crate::client::conn::{self, Link};
use crate::client::probe;
use crate::client::visible::{visible, Newlines};
use crate::tls::client::TlsClientOpts;

pub mod help;

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

/// A connection to an exec server: the core's [`ExecClient`] session
/// driven over a blocking [`Link`].
pub struct Session {
    link: Link,
    dialect: ClientDialect,
    core: Box<ExecClient>,
    /// Connect and first-answer timeout.
    timeout: Duration,
}

/// Where a run of the session stopped.
enum Stop {
    Ready,
    Challenge,
    Exit(i32),
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
        let stream = conn::connect(&args.addr, timeout, &args.tls)?;
        stream.tcp().set_read_timeout(
            (args.idle_timeout > 0).then(|| Duration::from_secs(args.idle_timeout)),
        )?;
        let framing = match args.dialect {
            ClientDialect::Native => Framing::Native,
            ClientDialect::Exec => Framing::Json,
            ClientDialect::Len => Framing::Len,
            ClientDialect::Ack => Framing::Ack,
        };
        let mut s = Session {
            link: Link::new(stream),
            dialect: args.dialect,
            core: Box::new(ExecClient::new(framing)),
            timeout,
        };
        if s.dialect == ClientDialect::Native {
            s.hello(token.as_deref())?;
        }
        Ok(s)
    }

    /// The native handshake: the hello (queued by the session), and the
    /// token's proof if the server asks for it.
    fn hello(&mut self, token: Option<&[u8]>) -> anyhow::Result<()> {
        let sent = self.link.send_output(&mut *self.core)?;
        self.probe(&sent, self.timeout)?;
        let (mut out, mut err) = (std::io::sink(), std::io::sink());
        match self.drive(&mut out, &mut err)? {
            Stop::Ready => return Ok(()),
            Stop::Challenge => {}
            Stop::Exit(_) => bail!("unexpected reply before the session opened"),
        }
        let token =
            token.ok_or_else(|| anyhow!("the server requires a token: give --token-file"))?;
        let binding = match self.link.stream().is_tls() {
            false => Vec::new(),
            // Never fall back to an unbound proof over TLS: that is the
            // one a man in the middle could relay.
            true => self
                .link
                .stream()
                .binding(EXPORTER_LABEL, BINDING_LEN)
                .map_err(|e| anyhow!("cannot bind the token proof to the TLS session: {e}"))?,
        };
        self.core
            .authenticate(token, &binding)
            .map_err(|e| anyhow!("{e}"))?;
        self.link.send_output(&mut *self.core)?;
        match self.drive(&mut out, &mut err)? {
            Stop::Ready => Ok(()),
            _ => bail!("unexpected reply to the token's proof"),
        }
    }

    /// Lets the driver feed the session the server's bytes, writing output
    /// as it comes, until the session opened, asks for the token, or a
    /// command ended.
    fn drive(&mut self, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<Stop> {
        let mut stop = None;
        let ran = self.link.drive(&mut *self.core, |ev| {
            stop = match ev {
                ClientEvent::Output(stream, b) => {
                    let w: &mut dyn Write = match stream {
                        Stream::Stderr => err,
                        Stream::Stdout => out,
                    };
                    w.write_all(b)?;
                    w.flush()?;
                    return Ok(Flow::Continue);
                }
                ClientEvent::Refused(why) => {
                    let why = visible(why, Newlines::Escape);
                    writeln!(err, "wirekit: server refused: {why}")?;
                    Some(Stop::Exit(EXIT_REFUSED))
                }
                ClientEvent::Exit { code } => Some(Stop::Exit(code)),
                ClientEvent::Ready => Some(Stop::Ready),
                ClientEvent::Challenge => Some(Stop::Challenge),
            };
            Ok(Flow::Stop)
        });
        match ran {
            Ok(true) => stop.ok_or_else(|| anyhow!("the session stopped without a reason")),
            Ok(false) => bail!("server closed the connection"),
            Err(e) if is_timeout(&e) => bail!(
                "the server sent nothing for {} s (--idle-timeout)",
                self.command_wait().as_secs()
            ),
            Err(e) => Err(e),
        }
    }

    /// Checks the first answer to `sent`: a busy or refusing server, or
    /// the wrong kind of listener, ends the session with one line.
    fn probe(&mut self, sent: &[u8], timeout: Duration) -> anyhow::Result<()> {
        let Some((answer, got)) = probe::first_answer_on(&mut self.link, sent, timeout)? else {
            return Ok(());
        };
        let want: &[Answer] = match self.dialect {
            ClientDialect::Native | ClientDialect::Exec => &[Answer::Frame],
            ClientDialect::Len => &[Answer::Length],
            ClientDialect::Ack => &[Answer::SizeText],
        };
        let dialect = self.dialect;
        let hint = move |a: Answer| exec_hint(dialect, a);
        probe::check(
            answer,
            &got,
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
        self.link
            .stream()
            .tcp()
            .read_timeout()
            .ok()
            .flatten()
            .unwrap_or(Duration::from_secs(24 * 3600))
    }

    /// Longest command this dialect can carry.
    pub fn command_limit(&self) -> usize {
        self.core.command_limit()
    }

    /// Runs one command; returns its exit code (255 when the server refused
    /// it; the seed dialects report 0 unless the server sent `exit_code`).
    pub fn run(
        &mut self,
        cmd: &[u8],
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> anyhow::Result<i32> {
        self.core.send_command(cmd).map_err(|e| anyhow!("{e}"))?;
        let sent = self.link.send_output(&mut *self.core)?;
        if self.dialect != ClientDialect::Native {
            self.probe(&sent, self.command_wait())?;
        }
        match self.drive(out, err)? {
            Stop::Exit(code) => Ok(code),
            _ => bail!("unexpected reply to a command"),
        }
    }
}

/// Whether `e` is a read that timed out (the socket's timeout).
fn is_timeout(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| matches!(io.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
    })
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
