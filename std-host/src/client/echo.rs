//! `wirekit echo`: the seeds' upper-echo clients. With a message it sends
//! it once and prints the answer; without one it reads lines from stdin
//! (on a terminal: a hint on how to leave, then a `>>> ` prompt), skips
//! empty ones, and prints each answer, until EOF.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use anyhow::{bail, Context as _};

use wirekit_core::service::answer::{self, Answer, MAX_REFUSAL};

use super::visible::{visible, Newlines};
use super::{parse_timeout, resolve, udp_connected};

/// Options of `wirekit echo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Server address, HOST:PORT (e.g. 127.0.0.1:8080; the UDP service's
    /// default is 127.0.0.1:8181).
    pub addr: String,
    /// Message to send (words are joined with spaces); none = interactive.
    pub message: Vec<String>,
    /// Use the UDP service (one datagram per message).
    #[arg(long)]
    pub udp: bool,
    /// Seconds to wait for connecting and for each answer.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// TLS (for an `echo+tls` listener). Last: a flattened group's heading
    /// applies to every option declared after it.
    #[command(flatten, next_help_heading = "TLS")]
    pub tls: crate::tls::client::TlsClientOpts,
}

/// A byte stream: plain TCP or TLS over it.
trait ByteStream: Read + Write {}
impl<T: Read + Write> ByteStream for T {}

/// One way of talking to an echo server.
enum Link {
    Tcp(Box<dyn ByteStream>),
    Udp(UdpSocket),
}

impl Link {
    fn open(args: &Args) -> anyhow::Result<Link> {
        let addr = resolve(&args.addr)?;
        if args.udp {
            let sock = udp_connected(addr)?;
            sock.set_read_timeout(Some(args.timeout))?;
            return Ok(Link::Udp(sock));
        }
        let s = TcpStream::connect_timeout(&addr, args.timeout)
            .with_context(|| format!("cannot connect to {addr}"))?;
        s.set_read_timeout(Some(args.timeout))?;
        s.set_write_timeout(Some(args.timeout))?;
        s.set_nodelay(true)?;
        match crate::tls::client::ClientTls::from_opts(&args.tls, &args.addr)? {
            None => Ok(Link::Tcp(Box::new(s))),
            Some(tls) => Ok(Link::Tcp(Box::new(tls.connect_blocking(s)?))),
        }
    }

    /// Sends `msg` and returns the answer: over TCP exactly as many bytes
    /// as were sent (upper-casing keeps the length), over UDP one datagram.
    fn round_trip(&mut self, msg: &[u8]) -> anyhow::Result<Vec<u8>> {
        match self {
            Link::Tcp(s) => {
                s.write_all(msg).context("send failed")?;
                // Room for a refusal line longer than a short message.
                let mut answer = vec![0u8; msg.len().max(MAX_REFUSAL)];
                let mut got = 0;
                while !answered(&answer[..got], msg)? && got < answer.len() {
                    let n = match s.read(&mut answer[got..]) {
                        Ok(n) => n,
                        Err(e) => {
                            refused(&answer[..got], msg)?;
                            return Err(timeout_or(e, "answer"));
                        }
                    };
                    if n == 0 {
                        refused(&answer[..got], msg)?;
                        bail!(
                            "server closed the connection after {got} of {} bytes",
                            msg.len()
                        );
                    }
                    got += n;
                }
                answer.truncate(got);
                Ok(answer)
            }
            Link::Udp(s) => {
                s.send(msg).context("send failed")?;
                let mut buf = vec![0u8; 65_536];
                let n = s.recv(&mut buf).map_err(|e| timeout_or(e, "answer"))?;
                buf.truncate(n);
                Ok(buf)
            }
        }
    }
}

/// Whether `got` is the whole answer to `msg`; fails as soon as it is a
/// wirekit refusal line (the connection-limit one, or another `error: …`),
/// which would otherwise be printed as if it were the answer.
fn answered(got: &[u8], msg: &[u8]) -> anyhow::Result<bool> {
    if echoes(got, msg) {
        return Ok(got.len() >= msg.len());
    }
    match answer::classify(got, msg, false) {
        Answer::Busy | Answer::Refusal => refused(got, msg).map(|()| true),
        // A seed's `.upper()` may change non-ASCII bytes: as many bytes
        // as were sent are taken for the answer.
        Answer::NeedMore => Ok(false),
        _ => Ok(got.len() >= msg.len()),
    }
}

/// Whether `got` so far is `msg` (or `msg` upper-cased) coming back.
fn echoes(got: &[u8], msg: &[u8]) -> bool {
    got.len() <= msg.len()
        && got
            .iter()
            .zip(msg)
            .all(|(g, m)| g == m || *g == m.to_ascii_uppercase())
}

/// Once nothing more is coming: fails with what the server said or what
/// kind of server it looks like, unless `got` is part of an echo.
fn refused(got: &[u8], msg: &[u8]) -> anyhow::Result<()> {
    if echoes(got, msg) {
        return Ok(());
    }
    match answer::classify(got, msg, true) {
        Answer::Busy => bail!("server busy (too many connections): try again later"),
        Answer::Refusal => bail!(
            "server refused: {}",
            visible(answer::refusal_text(got), Newlines::Escape)
        ),
        a => bail!("not an echo server: found {a}"),
    }
}

/// Turns a read timeout into a readable error.
pub(super) fn timeout_or(e: std::io::Error, what: &str) -> anyhow::Error {
    use std::io::ErrorKind::{TimedOut, WouldBlock};
    match e.kind() {
        WouldBlock | TimedOut => anyhow::anyhow!("timed out waiting for the {what}"),
        _ => anyhow::Error::new(e).context(format!("receiving the {what} failed")),
    }
}

/// Runs `wirekit echo`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut link = Link::open(&args)?;
    let mut out = std::io::stdout().lock();
    if !args.message.is_empty() {
        let answer = link.round_trip(args.message.join(" ").as_bytes())?;
        writeln!(out, "{}", visible(&answer, Newlines::Keep))?;
        return Ok(());
    }
    let prompt = std::io::stdin().is_terminal();
    if prompt {
        // A person at a terminal is told how to leave; a pipe is not
        // (its output is the answers only).
        eprintln!("Type a line to send it; Ctrl-D (end of input) leaves.");
    }
    let mut lines = std::io::stdin().lock();
    let mut line = String::new();
    loop {
        if prompt {
            write!(out, ">>> ")?;
            out.flush()?;
        }
        line.clear();
        if lines.read_line(&mut line).context("reading stdin")? == 0 {
            return Ok(());
        }
        // As the seeds' `input().strip()`: surrounding blanks go, empty
        // lines are not sent.
        let msg = line.trim();
        if msg.is_empty() {
            continue;
        }
        let answer = link.round_trip(msg.as_bytes())?;
        writeln!(out, "{}", visible(&answer, Newlines::Keep))?;
        out.flush()?;
    }
}
