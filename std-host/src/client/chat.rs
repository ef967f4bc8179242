//! `wirekit chat ADDR [--name NICK]`: the seed 003 `ChatClient` done right.
//!
//! Lines typed (or piped) on stdin go to the server with a `\n`; whatever
//! the server sends is copied to stdout as it arrives, concurrently (the
//! seed's receive thread). `quit` sends `quit` and exits; end of stdin
//! half-closes the connection, which both wirekit and the seed's server
//! treat as leaving. Either way the client then shows what the server still
//! sends until it closes (bounded), so a piped script sees its own lines.

use std::io::BufRead;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use wirekit_core::service::chat::validate_nick;

use wirekit_core::service::answer::{self, Answer};

use crate::client::visible::{visible, Newlines, VisibleStream};

/// How long to wait for the server to close after leaving.
const LINGER: Duration = Duration::from_secs(3);

/// Arguments of `wirekit chat`.
#[derive(Debug, Clone, clap::Args)]
pub struct ChatArgs {
    /// Chat server address, e.g. 127.0.0.1:9999.
    pub addr: String,
    /// Nickname to take on arrival (sends `/nick NICK`; wirekit servers only).
    #[arg(long)]
    pub name: Option<String>,
    /// Seconds to wait for connecting, the TLS handshake, and the server
    /// to close after leaving.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = crate::client::parse_timeout)]
    pub timeout: Duration,
    /// TLS (for a `chat+tls` listener).
    #[command(flatten, next_help_heading = "TLS")]
    pub tls: crate::tls::client::TlsClientOpts,
}

/// Entry point of the subcommand: runs [`run`] on a small runtime.
pub fn main(args: ChatArgs) -> anyhow::Result<()> {
    crate::client::block_on_interactive(run(args))
}

/// Runs the chat client until `quit`, end of stdin, or the server closes.
pub async fn run(args: ChatArgs) -> anyhow::Result<()> {
    if let Some(name) = &args.name {
        validate_nick(name.as_bytes()).map_err(|e| anyhow::anyhow!("--name {name:?}: {e}"))?;
    }
    let tls = crate::tls::client::ClientTls::from_opts(&args.tls, &args.addr)?;
    let stream = tokio::time::timeout(args.timeout, TcpStream::connect(&args.addr))
        .await
        .map_err(|_| anyhow::anyhow!("timed out connecting"))
        .and_then(|r| r.map_err(anyhow::Error::new))
        .with_context(|| format!("connecting to {}", args.addr))?;
    let _ = stream.set_nodelay(true);
    type Halves = (
        Box<dyn AsyncRead + Unpin + Send>,
        Box<dyn AsyncWrite + Unpin + Send>,
    );
    let (reader, mut writer): Halves = match tls {
        None => {
            let (r, w) = stream.into_split();
            (Box::new(r), Box::new(w))
        }
        Some(tls) => {
            let tls = tokio::time::timeout(args.timeout, tls.connect(stream))
                .await
                .map_err(|_| anyhow::anyhow!("timed out in the TLS handshake"))??;
            let (r, w) = tokio::io::split(tls);
            (Box::new(r), Box::new(w))
        }
    };
    let mut incoming = tokio::spawn(copy_to_stdout(reader));
    if let Some(name) = &args.name {
        writer
            .write_all(format!("/nick {name}\n").as_bytes())
            .await?;
    }
    let mut lines = stdin_lines();
    loop {
        tokio::select! {
            line = lines.recv() => {
                let Some(mut line) = line else { break };
                let quit = line.trim_ascii() == b"quit";
                line.push(b'\n');
                writer.write_all(&line).await.context("sending to the server")?;
                if quit {
                    break;
                }
            }
            done = &mut incoming => {
                done??;
                eprintln!("wirekit chat: the server closed the connection");
                return Ok(());
            }
        }
    }
    // Leaving: half-close, then show what the server still sends.
    let _ = writer.shutdown().await;
    match tokio::time::timeout(args.timeout.min(LINGER), &mut incoming).await {
        Ok(done) => done??,
        Err(_) => incoming.abort(),
    }
    Ok(())
}

/// Copies the server's bytes to stdout as they come, until it closes,
/// with control characters made visible: a server that relays raw (the
/// seed's, or wirekit's `--chat-raw`) must not let one user clear or
/// retitle another's terminal.
async fn copy_to_stdout<R: AsyncRead + Unpin>(mut reader: R) -> anyhow::Result<()> {
    let mut out = tokio::io::stdout();
    let mut buf = vec![0u8; 16 * 1024];
    let mut shown = VisibleStream::new(Newlines::Keep);
    // The first bytes, held until they are known to be no refusal.
    let mut head = Some(Vec::new());
    loop {
        let n = reader
            .read(&mut buf)
            .await
            .context("reading from the server")?;
        let mut text = match head.as_mut() {
            Some(h) => {
                h.extend_from_slice(&buf[..n]);
                if !first_bytes_ok(h, n == 0)? {
                    continue;
                }
                let text = shown.push(h);
                head = None;
                text
            }
            None => shown.push(&buf[..n]),
        };
        if n == 0 {
            text.push_str(&shown.finish());
        }
        out.write_all(text.as_bytes()).await?;
        out.flush().await?;
        if n == 0 {
            return Ok(());
        }
    }
}

/// Whether the server's first bytes are chat (`false`: undecided yet);
/// fails on a wirekit refusal (the busy line, any `error: …`) or on what
/// another kind of listener sends first, instead of printing it as chat.
fn first_bytes_ok(head: &[u8], eof: bool) -> anyhow::Result<bool> {
    match answer::classify(head, b"", eof) {
        Answer::Busy => anyhow::bail!("server busy (too many connections): try again later"),
        Answer::Refusal => anyhow::bail!(
            "server refused: {}",
            visible(answer::refusal_text(head), Newlines::Escape)
        ),
        a @ (Answer::Frame | Answer::Length | Answer::Binary) => {
            anyhow::bail!("not a chat server: found {a}")
        }
        // A short start that might still become a refusal.
        Answer::NeedMore => Ok(head.len() >= answer::MAX_REFUSAL),
        _ => Ok(true),
    }
}

/// Longest stdin line the clients accept; the chat server takes at most
/// 1,024 bytes and a UDP datagram at most 65,507, so this is generous.
pub(crate) const MAX_INPUT_LINE: usize = 64 * 1024;

/// Stdin lines (without their `\n` or `\r\n`) from a plain thread: tokio's
/// stdin cannot be cancelled and would keep the runtime from shutting down
/// when the server ends the session first. Over-long lines are reported
/// on stderr and skipped.
pub(crate) fn stdin_lines() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(64);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        while let Ok(Some(line)) = read_bounded_line(&mut stdin, MAX_INPUT_LINE) {
            match line {
                Some(line) => {
                    if tx.blocking_send(line).is_err() {
                        break;
                    }
                }
                None => eprintln!("wirekit: input line longer than {MAX_INPUT_LINE} bytes ignored"),
            }
        }
    });
    rx
}

/// Reads one line of at most `limit` bytes: `Ok(None)` at end of input,
/// `Ok(Some(None))` for an over-long line (skipped to its end), otherwise
/// the line without `\n` / `\r\n`.
pub(crate) fn read_bounded_line<R: BufRead>(
    input: &mut R,
    limit: usize,
) -> std::io::Result<Option<Option<Vec<u8>>>> {
    let mut line = Vec::new();
    let n = std::io::Read::take(&mut *input, limit as u64 + 1).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.ends_with(b"\n") {
        line.pop();
    } else if line.len() > limit {
        // Skip the rest of the over-long line.
        loop {
            let (done, used) = {
                let buf = input.fill_buf()?;
                match buf.iter().position(|b| *b == b'\n') {
                    Some(i) => (true, i + 1),
                    None => (buf.is_empty(), buf.len()),
                }
            };
            input.consume(used);
            if done {
                return Ok(Some(None));
            }
        }
    }
    if line.ends_with(b"\r") {
        line.pop();
    }
    Ok(Some(Some(line)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines() {
        let mut input: &[u8] = b"ab\r\n0123456789\nlast";
        assert_eq!(
            read_bounded_line(&mut input, 5).unwrap(),
            Some(Some(b"ab".to_vec()))
        );
        assert_eq!(read_bounded_line(&mut input, 5).unwrap(), Some(None));
        assert_eq!(
            read_bounded_line(&mut input, 5).unwrap(),
            Some(Some(b"last".to_vec()))
        );
        assert_eq!(read_bounded_line(&mut input, 5).unwrap(), None);
        let mut exact: &[u8] = b"12345\n";
        assert_eq!(
            read_bounded_line(&mut exact, 5).unwrap(),
            Some(Some(b"12345".to_vec()))
        );
    }
}
