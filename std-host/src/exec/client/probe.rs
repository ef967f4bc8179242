//! Looks at a server's first answer before a client decodes it, so a busy
//! or refusing server, or the wrong kind of listener, gets a one-line
//! reason and a suggestion instead of a frame-length error or a hang. The
//! classification is `wirekit_core::service::answer`; this module reads
//! (peeks, so the protocol decoder still sees every byte) and words it.

use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{anyhow, bail};
use wirekit_core::service::answer::{classify, refusal_text, Answer, MAX_PEEK};

use crate::client::visible::{visible, Newlines};

/// How long a short answer may pause before it is classified as it is: a
/// seed 004 server sends its size text and then waits for the ack.
const SETTLE: Duration = Duration::from_millis(300);
const POLL: Duration = Duration::from_millis(25);

/// Waits (at most `timeout`) for the first bytes answering `sent` and
/// classifies them without consuming them.
pub fn first_answer(
    stream: &TcpStream,
    sent: &[u8],
    timeout: Duration,
) -> anyhow::Result<(Answer, Vec<u8>)> {
    let before = stream.read_timeout()?;
    stream.set_read_timeout(Some(timeout))?;
    let r = peek_classify(stream, sent, timeout);
    stream.set_read_timeout(before)?;
    r
}

fn peek_classify(
    stream: &TcpStream,
    sent: &[u8],
    timeout: Duration,
) -> anyhow::Result<(Answer, Vec<u8>)> {
    let mut buf = vec![0u8; MAX_PEEK];
    let mut n = match stream.peek(&mut buf) {
        Ok(n) => n,
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => bail!(
            "no answer from the server within {} s (--timeout)",
            timeout.as_secs_f64()
        ),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => 0,
        Err(e) => return Err(anyhow!(e).context("reading the server's answer")),
    };
    let mut quiet = Duration::ZERO;
    loop {
        let settled = n == 0 || n == buf.len() || quiet >= SETTLE;
        let a = classify(&buf[..n], sent, settled);
        if a != Answer::NeedMore {
            buf.truncate(n);
            return Ok((a, buf));
        }
        std::thread::sleep(POLL);
        // Bytes are pending, so this peek does not block.
        let m = stream.peek(&mut buf).unwrap_or(n);
        if m == n {
            quiet += POLL;
        } else {
            (n, quiet) = (m, Duration::ZERO);
        }
    }
}

/// What the caller expects, and how to put the user right.
pub struct Expect<'a> {
    /// The classes this client can go on with.
    pub want: &'a [Answer],
    /// What the client is, for messages ("a files listener").
    pub service: &'a str,
    /// A suggestion for a class found instead (None: no suggestion).
    pub hint: &'a dyn Fn(Answer) -> Option<String>,
}

/// Fails with one line unless `answer` is one of `expect.want`.
pub fn check(answer: Answer, got: &[u8], expect: &Expect<'_>) -> anyhow::Result<()> {
    if expect.want.contains(&answer) {
        return Ok(());
    }
    let hint = (expect.hint)(answer)
        .map(|h| format!("; {h}"))
        .unwrap_or_default();
    let words = || visible(refusal_text(got), Newlines::Escape);
    match answer {
        Answer::Busy => bail!("{} (try again later)", words()),
        Answer::Refusal => bail!("server refused: {}{hint}", words()),
        Answer::Closed => bail!("the server closed the connection without answering{hint}"),
        Answer::Echo => bail!(
            "the server sent back what it was sent: an echo listener, not {}{hint}",
            expect.service
        ),
        Answer::Text => {
            let line = got.split(|&b| b == b'\n').next().unwrap_or(got);
            let line = visible(&line[..line.len().min(80)], Newlines::Escape);
            bail!(
                "expected {} but the server answered with text: {line:?}{hint}",
                expect.service
            )
        }
        other => bail!(
            "expected {} but the server sent {other}{hint}",
            expect.service
        ),
    }
}
