//! The server side of the native files protocol (see
//! `wirekit_core::service::file::native` and `docs/PROTOCOL.md`).
//!
//! Waiting on the client is async; the file system is used in short
//! blocking steps ([`Files::blocking`]) that never wait on the network.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use md5::{Digest as _, Md5};
use wirekit_core::codec::frame::{Event, FrameDecoder, Limits};
use wirekit_core::service::file::native::{
    self, error_reply, file_reply, get_reply, list_reply, parse_request, segments, Request,
    HEADER_CAP,
};
use wirekit_core::wire::{emit_frame_header, Digest, Header};

use super::async_conn::AsyncConn;
use super::auth::{self, Gate};
use super::conn::Conn;
use super::store::{hash_prefix, FileInfo};
use super::Files;

/// Most entries one listing returns.
const MAX_LIST: usize = 10_000;
/// What a client is told when the server stops serving it.
pub const SHUTTING_DOWN: &str = "server is shutting down";
/// Bytes a get reads from the file per blocking step (and a segmented
/// get's segment).
const READ_STEP: usize = segments::SEGMENT_MAX as usize;

/// Serves requests until the client closes the connection.
pub async fn serve(files: &Arc<Files>, conn: &mut AsyncConn) -> anyhow::Result<()> {
    let mut gate = Gate::default();
    while let Some(req) = read_request(conn).await? {
        let op = req.op.as_deref().unwrap_or("?");
        match parse_request(&req) {
            Err(e) => send_frame(conn, &error_reply(op, &e.to_string()), b"").await?,
            Ok(Request::Get {
                name,
                offset,
                segmented,
            }) => Box::pin(serve_get(files, conn, name, offset, segmented)).await?,
            Ok(Request::Put {
                name,
                size,
                force,
                resume,
            }) => match files.may_upload(conn, gate.uploader()) {
                Err(r) => refuse(conn, "put", &r.to_string()).await?,
                Ok(()) => {
                    let put = super::serve_put::serve_put(files, conn, name, size, force, resume);
                    Box::pin(put).await?
                }
            },
            Ok(Request::Stat { name }) => serve_stat(files, conn, name).await?,
            Ok(Request::Challenge) => {
                if !auth::challenge(files, conn, &mut gate).await? {
                    return Ok(());
                }
            }
            Ok(Request::Auth { proof }) => {
                if !auth::prove(files, conn, &mut gate, proof).await? {
                    return Ok(());
                }
            }
            Ok(Request::List { dir }) => {
                let d = dir.to_owned();
                match files.blocking(move |f| f.store.list(&d, MAX_LIST)).await? {
                    Ok((text, cut)) => {
                        let h = list_reply(text.len() as u64, cut);
                        send_frame(conn, &h, text.as_bytes()).await?
                    }
                    Err(r) => send_frame(conn, &error_reply("list", &r.0), b"").await?,
                }
            }
        }
        conn.shrink();
    }
    Ok(())
}

/// Encodes a frame header.
fn header_bytes(h: &Header, buf: &mut [u8; HEADER_CAP]) -> anyhow::Result<usize> {
    emit_frame_header(h, buf).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Writes a frame on a client's blocking connection: header, then
/// `body` (whose length must be the header's `total_size`, or the body
/// follows separately).
pub fn send(conn: &mut Conn, h: &Header, body: &[u8]) -> anyhow::Result<()> {
    let mut buf = [0u8; HEADER_CAP];
    let n = header_bytes(h, &mut buf)?;
    conn.send(&buf[..n])?;
    if !body.is_empty() {
        conn.send(body)?;
    }
    Ok(())
}

/// [`send`] for the server's connections.
pub async fn send_frame(conn: &mut AsyncConn, h: &Header, body: &[u8]) -> anyhow::Result<()> {
    let mut buf = [0u8; HEADER_CAP];
    let n = header_bytes(h, &mut buf)?;
    conn.send(&buf[..n]).await?;
    if !body.is_empty() {
        conn.send(body).await?;
    }
    Ok(())
}

/// Reads the next request header; `None` when the client closed cleanly.
async fn read_request(conn: &mut AsyncConn) -> anyhow::Result<Option<Header>> {
    // Requests carry no body; a fresh decoder per request keeps no state
    // between them.
    let limits = Limits {
        max_body: 0,
        ..Limits::default()
    };
    let mut dec: FrameDecoder<HEADER_CAP> = FrameDecoder::with_limits(limits);
    match conn.next_request().await? {
        None => {
            // Said between requests, so any client can read it as the
            // answer to whatever it asks next.
            send_frame(conn, &error_reply("error", SHUTTING_DOWN), b"").await?;
            return Ok(None);
        }
        Some(false) => return Ok(None),
        Some(true) => {}
    }
    loop {
        if conn.is_drained() && conn.fill().await? == 0 {
            if dec.is_idle() {
                return Ok(None);
            }
            bail!("client closed the connection inside a request");
        }
        let res = dec.decode(&conn.buf[conn.lo..conn.hi]);
        let (used, ev) = match res {
            Ok(r) => r,
            Err(e) => {
                let msg = format!("bad request: {e}");
                send_frame(conn, &error_reply("error", &msg), b"").await?;
                bail!(msg);
            }
        };
        conn.lo += used;
        if let Some(Event::Header(h)) = ev {
            return Ok(Some(h.clone()));
        }
    }
}

/// Tells the client `op` was refused, and why.
pub async fn refuse(conn: &mut AsyncConn, op: &str, msg: &str) -> anyhow::Result<()> {
    tracing::info!("files: {op} refused: {msg}");
    if matches!(op, "get" | "put") {
        conn.transfer_done(op, "refused", msg, 0, 0.0);
    }
    send_frame(conn, &error_reply(op, msg), b"").await
}

async fn serve_get(
    files: &Arc<Files>,
    conn: &mut AsyncConn,
    name: &str,
    offset: u64,
    segmented: bool,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let n = name.to_owned();
    let (file, info) = match files.blocking(move |f| f.store.open_read(&n)).await? {
        Ok(f) => f,
        Err(r) => return refuse(conn, "get", &r.0).await,
    };
    if offset > info.size {
        let msg = format!(
            "{name}: offset {offset} is past the end ({} bytes)",
            info.size
        );
        return refuse(conn, "get", &msg).await;
    }
    let Some(_slot) = files.transfer_slot() else {
        let msg = "server busy: too many transfers, try again later";
        return refuse(conn, "get", msg).await;
    };
    let cached = files.store.cached_md5(name, &info);
    // Without a cached digest, hash while sending; a resumed get first
    // hashes the part the client already has.
    let (file, md5) = files
        .blocking(move |_| -> std::io::Result<(File, Option<Md5>)> {
            let mut file = file;
            let md5 = match cached {
                Some(_) => None,
                None => Some(hash_prefix(&mut file, offset)?.0),
            };
            file.seek(SeekFrom::Start(offset))?;
            Ok((file, md5))
        })
        .await??;
    let reply = match segmented {
        true => segments::reply(info.size, offset, info.mtime),
        false => get_reply(info.size, offset, info.mtime),
    };
    send_frame(conn, &reply, b"").await?;
    let len = info.size - offset;
    let sent = stream_file(conn, file, len, md5, segmented)
        .await
        .with_context(|| format!("sending {name}"))?;
    let Some((file, md5)) = sent else {
        // Between two segments: the client can be told, and keeps what
        // it has for --resume.
        tracing::info!(name, "files: get stopped: {SHUTTING_DOWN}");
        return refuse(conn, "end", SHUTTING_DOWN).await;
    };
    let now = files.blocking(move |_| FileInfo::of(&file)).await??;
    if now != info {
        let msg = format!("{name}: file changed while being sent");
        return refuse(conn, "end", &msg).await;
    }
    let digest = match (cached, md5) {
        (Some(d), _) => d,
        (None, Some(m)) => {
            let d = Digest(m.finalize().into());
            files.store.remember_md5(name, &info, d);
            d
        }
        (None, None) => bail!("no digest"),
    };
    tracing::info!(name, size = info.size, offset, "files: get done");
    let secs = started.elapsed().as_secs_f64();
    conn.transfer_done("get", "ok", name, info.size - offset, secs);
    send_frame(conn, &native::end_header(digest), b"").await
}

/// One blocking read step of [`send_body`]: up to [`READ_STEP`] bytes
/// into `buf`, hashed into `md5` if given.
type Step = (File, Option<Md5>, Vec<u8>, std::io::Result<()>);

fn read_step(mut file: File, mut md5: Option<Md5>, mut buf: Vec<u8>, want: usize) -> Step {
    buf.resize(want, 0);
    let r = file.read_exact(&mut buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => std::io::Error::other("file shrank while being sent"),
        _ => e,
    });
    if let (Ok(()), Some(m)) = (&r, md5.as_mut()) {
        m.update(&buf);
    }
    (file, md5, buf, r)
}

/// Streams `len` bytes of `file` from its position to the socket,
/// feeding `md5` if given; returns both for the trailer. The next step is
/// read (and hashed) on a blocking thread while the current one is
/// written, so a get costs about max(disk + hash, network), and the
/// blocking thread is never held while the client is slow. A file that
/// shrank is an error (the frame cannot be completed, so the connection
/// must close).
pub async fn send_body(
    conn: &mut AsyncConn,
    file: File,
    len: u64,
    md5: Option<Md5>,
) -> anyhow::Result<(File, Option<Md5>)> {
    stream_file(conn, file, len, md5, false)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{SHUTTING_DOWN}"))
}

/// [`send_body`], or with `segmented` each step as a `data` frame (see
/// `wirekit_core::service::file::native::segments`); then `None` when the
/// server began shutting down before all segments were sent.
async fn stream_file(
    conn: &mut AsyncConn,
    file: File,
    len: u64,
    md5: Option<Md5>,
    segmented: bool,
) -> anyhow::Result<Option<(File, Option<Md5>)>> {
    if len == 0 {
        return Ok(Some((file, md5)));
    }
    let step = |left: u64| usize::try_from(left).map_or(READ_STEP, |l| l.min(READ_STEP));
    let mut left = len;
    let mut spare = Vec::new();
    let want = step(left);
    let mut pending = tokio::task::spawn_blocking(move || read_step(file, md5, Vec::new(), want));
    loop {
        let (file, md5, buf, r) = pending.await?;
        r?;
        if segmented {
            // The read in flight (if any) just finishes and is dropped.
            if conn.shutdown.is_cancelled() {
                return Ok(None);
            }
            send_frame(conn, &segments::segment_header(buf.len() as u64), b"").await?;
        }
        left -= buf.len() as u64;
        if left == 0 {
            conn.send(&buf).await?;
            return Ok(Some((file, md5)));
        }
        let want = step(left);
        let into = std::mem::take(&mut spare);
        pending = tokio::task::spawn_blocking(move || read_step(file, md5, into, want));
        // If this fails the read in flight just finishes and is dropped.
        conn.send(&buf).await?;
        spare = buf;
    }
}

async fn serve_stat(files: &Arc<Files>, conn: &mut AsyncConn, name: &str) -> anyhow::Result<()> {
    let n = name.to_owned();
    let found = files
        .blocking(move |f| {
            let (mut file, info) = f.store.open_read(&n)?;
            let md5 = f
                .store
                .md5_of(&n, &mut file, &info)
                .map_err(|e| super::store::Refusal::io(&n, &e))?;
            Ok::<_, super::store::Refusal>((info, md5))
        })
        .await?;
    match found {
        Ok((info, md5)) => {
            let h = file_reply("stat", info.size, md5, Some(info.mtime));
            send_frame(conn, &h, b"").await
        }
        Err(r) => refuse(conn, "stat", &r.0).await,
    }
}
