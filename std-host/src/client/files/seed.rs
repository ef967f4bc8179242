//! The clients' side of the seeds' dialects, for talking to the seeds'
//! own Python servers (`--dialect seed000|seed002|seed004`).

use std::fs::File;
use std::io::Read;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use wirekit_core::codec::frame::{Event, FrameDecoder, Limits};
use wirekit_core::service::file::{seed002, seed004};
use wirekit_core::wire::{Digest, Prefix};

use super::conn::Link as Conn;
use super::download::{against, Check};
use super::progress::Progress;
use super::{request_text, wire_err, ClientDialect, LocalPartial};

/// Pause between the seed 002 command and its upload, and after each
/// chunk: the seed server reads with `recv(1024)` and would take bytes of
/// the next message into the current one if they arrived early.
const SEED002_PAUSE: Duration = Duration::from_millis(50);

/// From this many chunks on (about a second), a seed 002 download warns
/// that the dialect is slow.
const SLOW_NOTE_CHUNKS: u64 = 16;

/// Largest JSON header accepted from a seed 000 server.
const SEED000_MAX_HEADER: u32 = 8192;

fn receive(conn: &mut Conn, len: u64, part: &mut LocalPartial, label: &str) -> anyhow::Result<()> {
    part.show_progress(label, len);
    let mut left = len;
    while left > 0 {
        if !conn.fill_if_drained()? {
            bail!("server closed the connection with {left} bytes missing");
        }
        let have = conn.buffered().len();
        let n = usize::try_from(left).map_or(have, |l| l.min(have));
        part.write(&conn.buffered()[..n])?;
        conn.consume(n);
        left -= n as u64;
    }
    Ok(())
}

/// Seed 000: bare name → `i` + JSON `{lenth, md5, size(MB)}` + bytes.
pub fn get_seed000(
    conn: &mut Conn,
    remote: &str,
    part: &mut LocalPartial,
    label: &str,
) -> anyhow::Result<Option<Check>> {
    request_text(conn, remote.as_bytes(), ClientDialect::Seed000)?;
    let mut prefix = [0u8; 4];
    conn.read_exact(&mut prefix)
        .context("reading the header length")?;
    let len = Prefix::new_checked(&prefix[..])
        .and_then(|p| p.len_checked(SEED000_MAX_HEADER))
        .map_err(|e| anyhow!("bad header length: {e}"))?;
    let mut json = vec![0u8; len as usize];
    conn.read_exact(&mut json).context("reading the header")?;
    let v: serde_json::Value = serde_json::from_slice(&json).context("header is not JSON")?;
    if v.as_object().is_some_and(|o| o.is_empty()) {
        bail!("no such file on the server: {remote} (文件不存在)");
    }
    let size = v["lenth"]
        .as_u64()
        .ok_or_else(|| anyhow!("header without lenth: {v}"))?;
    let md5 = v["md5"]
        .as_str()
        .and_then(|s| Digest::from_hex(s.as_bytes()))
        .ok_or_else(|| anyhow!("header without a valid md5: {v}"))?;
    receive(conn, size, part, label)?;
    Ok(Some(against(md5)))
}

/// Seed 002: `get NAME` → `i` size, then chunk frames each with its md5.
/// The seed sends no whole-file md5; every chunk is verified instead.
pub fn get_seed002(
    conn: &mut Conn,
    remote: &str,
    part: &mut LocalPartial,
    label: &str,
) -> anyhow::Result<Option<Check>> {
    request_text(
        conn,
        format!("get {remote}").as_bytes(),
        ClientDialect::Seed002,
    )?;
    let mut prefix = [0u8; 4];
    if conn.read_exact(&mut prefix).is_err() {
        // The dialect has no error message: a missing file and one too
        // large for its `i` size field both end in a closed connection.
        bail!(
            "the server closed the connection: no such file {remote}, or one of 2 GiB or more, \
             which the seed 002 dialect cannot send"
        );
    }
    let size = u64::from(
        Prefix::new_checked(&prefix[..])
            .and_then(|p| p.len_checked(u32::MAX))
            .map_err(|e| anyhow!("bad size: {e}"))?,
    );
    let limits = Limits {
        max_body: size,
        ..Limits::default()
    };
    let mut dec: FrameDecoder<{ seed002::CHUNK_HEADER_CAP }> = FrameDecoder::with_limits(limits);
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
    part.show_progress(label, size);
    let mut got = 0u64;
    while got < size || !dec.is_idle() {
        // Decode before reading: a chunk's end needs no more bytes.
        let mut starved = false;
        let (used, ev) = dec.decode(conn.buffered()).map_err(wire_err)?;
        match ev {
            Some(Event::Header(h)) if h.md5.is_none() => bail!("chunk without md5"),
            Some(Event::Body(b)) => {
                part.write(b)?;
                got += b.len() as u64;
            }
            Some(_) => {}
            None => starved = used == conn.buffered().len(),
        }
        conn.consume(used);
        if starved && conn.fill()? == 0 {
            bail!("server closed the connection at byte {got} of {size}");
        }
        if got > size {
            bail!("server sent more than the announced {size} bytes");
        }
    }
    Ok(None)
}

/// Seed 002: `put NAME`, `i` size, chunk frames; answer text.
pub fn put_seed002(
    conn: &mut Conn,
    file: &mut File,
    size: u64,
    remote: &str,
) -> anyhow::Result<()> {
    let pre = seed002::size_prefix(size).ok_or_else(|| {
        anyhow!("{size} bytes cannot be sent to a seed 002 server (its size field is a 32-bit int)")
    })?;
    conn.send(format!("put {remote}").as_bytes())?;
    std::thread::sleep(SEED002_PAUSE);
    conn.send(&pre)?;
    let mut progress = Progress::new(&format!("put {remote}"), size, 0);
    let mut chunk = vec![0u8; seed002::CHUNK];
    let mut head = vec![0u8; seed002::CHUNK_HEADER_CAP];
    let mut left = size;
    while left > 0 {
        let want = usize::try_from(left).map_or(chunk.len(), |l| l.min(chunk.len()));
        file.read_exact(&mut chunk[..want])?;
        let n = seed002::chunk_header(remote, &chunk[..want], &mut head)
            .ok_or_else(|| anyhow!("chunk header does not fit"))?;
        conn.send(&head[..n])?;
        conn.send(&chunk[..want])?;
        left -= want as u64;
        progress.inc(want as u64);
        std::thread::sleep(SEED002_PAUSE);
    }
    let answer = conn
        .read_message(1024)
        .context("waiting for the server's answer")?
        .ok_or_else(|| anyhow!("server closed the connection without answering"))?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let mut ok = String::new();
    let _ = seed002::upload_done(remote, &mut ok);
    if text != ok {
        bail!("server answered: {text}");
    }
    progress.finish(&text);
    Ok(())
}

/// Seed 004: `get NAME` → size text, our ack, bytes, md5 text.
pub fn get_seed004(
    conn: &mut Conn,
    remote: &str,
    part: &mut LocalPartial,
    label: &str,
) -> anyhow::Result<Option<Check>> {
    request_text(
        conn,
        format!("get {remote}").as_bytes(),
        ClientDialect::Seed004,
    )?;
    let msg = conn
        .read_message(seed004::MAX_MESSAGE)
        .context("waiting for the size (the seed 004 server never answers for a missing file)")?
        .ok_or_else(|| anyhow!("server closed the connection"))?;
    let size = match seed004::parse_size(&msg) {
        seed004::SizeReply::Size(n) => n,
        seed004::SizeReply::Other(text) => bail!("server answered: {text}"),
    };
    conn.send(seed004::ACK)?;
    receive(conn, size, part, label)?;
    let mut hex = [0u8; 32];
    conn.read_exact(&mut hex).context("reading the md5")?;
    let md5 = Digest::from_hex(&hex).ok_or_else(|| anyhow!("server sent a malformed md5"))?;
    Ok(Some(against(md5)))
}
