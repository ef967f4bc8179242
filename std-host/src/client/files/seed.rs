//! The clients' side of the seeds' dialects, for talking to the seeds'
//! own Python servers (`--dialect seed000|seed002|seed004`): the core's
//! seed client sessions (`wirekit_core::session::files::client::seed`)
//! driven over the connection, with the local file, the progress and the
//! seed 002 upload's pauses here.

use std::fs::File;
use std::io::Read;
use std::time::Duration;

use anyhow::{anyhow, bail};
use wirekit_core::blocking::Flow;
use wirekit_core::service::file::seed002;
use wirekit_core::session::files::client::seed::{
    SeedClient, SeedDialect, SeedError, SeedEvent, SEED002_PAUSE_MS,
};

use super::download::Check;
use super::progress::Progress;
use super::{request, wire_err, ClientDialect, LocalPartial};
use crate::client::conn::Link;

/// From this many chunks on (about a second), a seed 002 download warns
/// that the dialect is slow.
const SLOW_NOTE_CHUNKS: u64 = 16;

/// The pause the seed 002 server needs between messages.
const PAUSE: Duration = Duration::from_millis(SEED002_PAUSE_MS);

/// Downloads `remote` from a seed server into `part`; returns the check
/// of the written bytes' md5 against the server's (seed 002 sends none:
/// each of its chunks was checked instead).
pub fn get_seed(
    conn: &mut Link,
    remote: &str,
    part: &mut LocalPartial,
    label: &str,
    dialect: ClientDialect,
) -> anyhow::Result<Option<Check>> {
    let seed = match dialect {
        ClientDialect::Seed000 => SeedDialect::Seed000,
        ClientDialect::Seed002 => SeedDialect::Seed002,
        ClientDialect::Seed004 => SeedDialect::Seed004,
        ClientDialect::Native => bail!("not a seed dialect"),
    };
    let mut session =
        Box::new(SeedClient::get(seed, remote).map_err(|e| anyhow!("{remote}: {e}"))?);
    request(conn, &mut *session, dialect)?;
    let mut received = None;
    let driven = conn.drive(&mut *session, |ev| {
        match ev {
            SeedEvent::Started { size } => {
                if seed == SeedDialect::Seed002 {
                    slow_note(size);
                }
                part.show_progress(label, size);
            }
            SeedEvent::Data(b) => part.write(b)?,
            SeedEvent::Received { md5 } => {
                received = Some(md5);
                return Ok(Flow::Stop);
            }
            SeedEvent::Stored => {}
        }
        Ok(Flow::Continue)
    });
    driven.map_err(|e| reword(e, remote))?;
    match received {
        None => bail!("server closed the connection mid-transfer"),
        Some(None) => Ok(None),
        Some(Some(_)) => Ok(Some(Box::new(
            move |actual| Ok(session.finish_get(actual)?),
        ))),
    }
}

/// The seeds' silent refusals, said with the file's name.
fn reword(e: anyhow::Error, remote: &str) -> anyhow::Error {
    match e.downcast_ref::<SeedError>() {
        Some(SeedError::NoSuchFile) => anyhow!("no such file on the server: {remote} (文件不存在)"),
        // The dialect has no error message: a missing file and one too
        // large for its `i` size field both end in a closed connection.
        Some(SeedError::NoSize) => anyhow!(
            "the server closed the connection: no such file {remote}, or one of 2 GiB or more, \
             which the seed 002 dialect cannot send"
        ),
        _ => e,
    }
}

/// Seed 002 pauses after every chunk: say so when that adds up.
fn slow_note(size: u64) {
    let chunks = size.div_ceil(seed002::CHUNK as u64);
    if chunks >= SLOW_NOTE_CHUNKS {
        eprintln!(
            "note: the seed 002 protocol is slow by design: servers pause after each {} KiB \
             chunk (wirekit's: 50 ms by default), about {} s for this file; against a wirekit \
             server the native dialect (no --dialect) is much faster",
            seed002::CHUNK >> 10,
            chunks * 50 / 1000
        );
    }
}

/// Seed 002: `put NAME`, the size, the chunk frames; the answer text.
pub fn put_seed002(
    conn: &mut Link,
    file: &mut File,
    size: u64,
    remote: &str,
) -> anyhow::Result<()> {
    let mut session = Box::new(SeedClient::put(remote, size).map_err(wire_err)?);
    conn.send_output(&mut *session)?;
    std::thread::sleep(PAUSE);
    let mut progress = Progress::new(&format!("put {remote}"), size, 0);
    let mut chunk = vec![0u8; seed002::CHUNK];
    let mut left = size;
    while left > 0 {
        let want = usize::try_from(left).map_or(chunk.len(), |l| l.min(chunk.len()));
        file.read_exact(&mut chunk[..want])?;
        session.chunk(&chunk[..want]).map_err(wire_err)?;
        conn.send_output(&mut *session)?;
        conn.send(&chunk[..want])?;
        left -= want as u64;
        progress.inc(want as u64);
        std::thread::sleep(PAUSE);
    }
    session.end_put().map_err(wire_err)?;
    let mut stored = false;
    conn.drive(&mut *session, |ev| {
        stored = ev == SeedEvent::Stored;
        Ok(if stored { Flow::Stop } else { Flow::Continue })
    })?;
    if !stored {
        bail!("server closed the connection without answering");
    }
    let mut text = String::new();
    let _ = seed002::upload_done(remote, &mut text);
    progress.finish(&text);
    Ok(())
}
