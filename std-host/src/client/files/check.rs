//! The files clients' look at a server's first answer (see
//! `client::probe`): busy and refusal lines, and the wrong kind of
//! listener, end the client with one line and a suggestion.

use std::time::Duration;

use anyhow::Context as _;
use wirekit_core::service::answer::Answer;

use super::ClientDialect;
use crate::client::conn::Link;
use crate::client::probe;

/// Checks the first answer to `sent` (already sent on `conn`), waiting
/// as long as the connection's read timeout. Only once per connection:
/// later answers come from a server already known to be the right one.
pub fn first_answer(conn: &mut Link, sent: &[u8], dialect: ClientDialect) -> anyhow::Result<()> {
    let timeout = conn
        .stream()
        .tcp()
        .read_timeout()?
        .unwrap_or(Duration::from_secs(60));
    let looked = probe::first_answer_on(conn, sent, timeout).with_context(|| {
        if dialect == ClientDialect::Seed004 {
            "waiting for the size (the seed 004 server never answers for a missing file)"
        } else {
            "waiting for the server's answer"
        }
    })?;
    let Some((answer, got)) = looked else {
        return Ok(());
    };
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
