//! The files clients' look at a server's first answer (see
//! `client::exec::probe`): busy and refusal lines, and the wrong kind of
//! listener, end the client with one line and a suggestion.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use wirekit_core::service::answer::{classify, Answer, MAX_PEEK};

use super::conn::Link;
use super::ClientDialect;
use crate::client::exec::probe;

/// Checks the first answer to `sent` (already sent on `conn`), waiting
/// as long as the connection's read timeout. Only once per connection:
/// later answers come from a server already known to be the right one.
pub fn first_answer(conn: &mut Link, sent: &[u8], dialect: ClientDialect) -> anyhow::Result<()> {
    if std::mem::replace(&mut conn.probed, true) {
        return Ok(());
    }
    let timeout = conn
        .stream()
        .tcp()
        .read_timeout()?
        .unwrap_or(Duration::from_secs(60));
    let looked = if conn.stream().is_tls() {
        // Peeking the socket would see ciphertext: read into the buffer
        // instead (the decoders still get every byte from there).
        buffered_answer(conn, sent, timeout)
    } else {
        probe::first_answer(conn.stream().tcp(), sent, timeout)
    };
    let (answer, got) = looked.with_context(|| {
        if dialect == ClientDialect::Seed004 {
            "waiting for the size (the seed 004 server never answers for a missing file)"
        } else {
            "waiting for the server's answer"
        }
    })?;
    let want: &[Answer] = match dialect {
        ClientDialect::Native | ClientDialect::Seed000 => &[Answer::Frame],
        ClientDialect::Seed002 => &[Answer::Length],
        ClientDialect::Seed004 => &[Answer::SizeText],
    };
    let hint = move |a: Answer| hint(dialect, a);
    probe::check(
        answer,
        &got,
        &probe::Expect {
            want,
            service: "a files listener",
            hint: &hint,
        },
    )
}

/// How long a short answer may pause before it is classified as it is
/// (as `client::exec::probe` waits: a seed 004 server sends its size text
/// and then waits for the ack).
const SETTLE: Duration = Duration::from_millis(300);

/// [`probe::first_answer`] for a TLS session: the answer is read into the
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

fn hint(dialect: ClientDialect, found: Answer) -> Option<String> {
    let native = dialect == ClientDialect::Native;
    Some(match found {
        Answer::SizeText | Answer::Refusal if native => {
            "a seed 004 `files-ack` listener answers like this: use --dialect seed004".into()
        }
        Answer::Frame if !native => {
            "this looks like a native `files` listener: use --dialect native".into()
        }
        Answer::Closed if native => "the exec-len and exec-ack listeners close on a native \
            frame: point the client at a `files` listener"
            .into(),
        Answer::Closed if dialect == ClientDialect::Seed002 => "no such file, or one of 2 GiB or \
            more, which the seed 002 dialect cannot send"
            .into(),
        Answer::Closed => "the seed servers close on a missing file, too".into(),
        Answer::Echo | Answer::Text | Answer::Binary | Answer::Length => {
            "point the client at a `files` listener (or `files-ack` with --dialect seed004)".into()
        }
        _ => return None,
    })
}
