//! Looks at a server's first answer before a client decodes it, so a busy
//! or refusing server, or the wrong kind of listener, gets a one-line
//! reason and a suggestion instead of a frame-length error or a hang. The
//! classification is `wirekit_core::service::answer`; this module reads
//! it (peeking at a plain socket, or reading into the caller's buffer,
//! which works over TLS too: either way the protocol decoder still sees
//! every byte) and words it.

use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use wirekit_core::service::answer::{classify, refusal_text, Answer, MAX_PEEK};

use super::conn::Link;
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

/// The first answer on a client connection, plain or TLS: looked at
/// once per connection (later answers come from a server already known
/// to be the right one; `None` then), waiting at most `timeout`. Bytes
/// are never consumed: the session's decoder still sees every one.
pub fn first_answer_on(
    link: &mut Link,
    sent: &[u8],
    timeout: Duration,
) -> anyhow::Result<Option<(Answer, Vec<u8>)>> {
    if std::mem::replace(&mut link.probed, true) {
        return Ok(None);
    }
    if link.stream().is_tls() {
        // Peeking the socket would see ciphertext: read into the
        // connection's buffer instead.
        buffered_answer(link, sent, timeout).map(Some)
    } else {
        first_answer(link.stream().tcp(), sent, timeout).map(Some)
    }
}

/// [`first_answer`] for a TLS session: the answer is read into the
/// connection's buffer (not consumed) and classified there.
fn buffered_answer(
    conn: &mut Link,
    sent: &[u8],
    timeout: Duration,
) -> anyhow::Result<(Answer, Vec<u8>)> {
    let before = conn.stream().tcp().read_timeout()?;
    let deadline = Instant::now() + timeout;
    let r = (|| loop {
        // Past the first bytes, a pause of SETTLE counts as settled.
        let wait = if conn.buffered().is_empty() {
            deadline.saturating_duration_since(Instant::now())
        } else {
            SETTLE
        };
        if wait.is_zero() {
            bail!(
                "no answer from the server within {} s (--timeout)",
                timeout.as_secs_f64()
            );
        }
        conn.stream().tcp().set_read_timeout(Some(wait))?;
        let settled = match conn.fill() {
            Ok(0) => true,
            Ok(_) => conn.buffered().len() >= MAX_PEEK,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                !conn.buffered().is_empty()
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
            Err(e) => return Err(anyhow::Error::from(e).context("reading the server's answer")),
        };
        let got = conn.buffered();
        let got = &got[..got.len().min(MAX_PEEK)];
        match classify(got, sent, settled) {
            Answer::NeedMore => {}
            a => return Ok((a, got.to_vec())),
        }
    })();
    conn.stream().tcp().set_read_timeout(before)?;
    r
}

/// Whether `got` is exactly one TLS alert record (content type 21,
/// version 3.x, two bytes: level and reason): what a TLS listener sends
/// back for clear text before it closes. No exec or files answer has
/// this shape (as a native frame it would announce a 197 KB header).
fn is_tls_alert(got: &[u8]) -> bool {
    matches!(got, [0x15, 0x03, 0..=0x04, 0x00, 0x02, 1 | 2, _])
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
    if is_tls_alert(got) {
        bail!(
            "the server answered in TLS: this is a TLS listener (`SERVICE+tls`); \
             connect with --tls (and --tls-pin or --tls-ca)"
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_alert_is_told_apart_from_answers() {
        // rustls's reply to a clear-text hello: a fatal decode_error alert.
        assert!(is_tls_alert(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]));
        for not in [
            &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02][..],
            &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32, b'x'],
            &[0x16, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32],
            b"error: busy",
            b"",
        ] {
            assert!(!is_tls_alert(not), "{not:?}");
        }
    }
}
