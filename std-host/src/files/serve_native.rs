//! The server side of the native files protocol (see
//! `wirekit_core::service::file::native` and `docs/PROTOCOL.md`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use anyhow::{bail, Context as _};
use wirekit_core::codec::frame::{Event, FrameDecoder, Limits};
use wirekit_core::md5::Md5;
use wirekit_core::service::file::native::{
    self, error_reply, file_reply, get_reply, list_reply, parse_request, ready_reply, Request,
    Transfer, TransferEvent, HEADER_CAP,
};
use wirekit_core::wire::{emit_frame_header, Digest, Header};

use super::conn::Conn;
use super::store::{hash_prefix, write_sparse, FileInfo, PutSlot, Refusal, IO_CHUNK};
use super::Files;

/// Most entries one listing returns.
const MAX_LIST: usize = 10_000;

/// Serves requests until the client closes the connection.
pub fn serve(files: &Files, conn: &mut Conn) -> anyhow::Result<()> {
    while let Some(req) = read_request(conn)? {
        let op = req.op.as_deref().unwrap_or("?");
        match parse_request(&req) {
            Err(e) => send(conn, &error_reply(op, &e.to_string()), b"")?,
            Ok(Request::Get { name, offset }) => serve_get(files, conn, name, offset)?,
            Ok(Request::Put {
                name,
                size,
                force,
                resume,
            }) => serve_put(files, conn, name, size, force, resume)?,
            Ok(Request::Stat { name }) => serve_stat(files, conn, name)?,
            Ok(Request::List { dir }) => match files.store.list(dir, MAX_LIST) {
                Ok((text, cut)) => {
                    send(conn, &list_reply(text.len() as u64, cut), text.as_bytes())?
                }
                Err(r) => send(conn, &error_reply("list", &r.0), b"")?,
            },
        }
    }
    Ok(())
}

/// Writes a frame: header, then `body` (whose length must be the
/// header's `total_size`, or the body follows separately).
pub fn send(conn: &mut Conn, h: &Header, body: &[u8]) -> anyhow::Result<()> {
    let mut buf = [0u8; HEADER_CAP];
    let n = emit_frame_header(h, &mut buf).map_err(|e| anyhow::anyhow!("{e}"))?;
    conn.send(&buf[..n])?;
    if !body.is_empty() {
        conn.send(body)?;
    }
    Ok(())
}

/// Reads the next request header; `None` when the client closed cleanly.
fn read_request(conn: &mut Conn) -> anyhow::Result<Option<Header>> {
    // Requests carry no body; a fresh decoder per request keeps no state
    // between them.
    let limits = Limits {
        max_body: 0,
        ..Limits::default()
    };
    let mut dec: FrameDecoder<HEADER_CAP> = FrameDecoder::with_limits(limits);
    loop {
        if conn.is_drained() && conn.fill()? == 0 {
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
                send(conn, &error_reply("error", &msg), b"")?;
                bail!(msg);
            }
        };
        conn.lo += used;
        if let Some(Event::Header(h)) = ev {
            return Ok(Some(h.clone()));
        }
    }
}

fn refuse(conn: &mut Conn, op: &str, msg: &str) -> anyhow::Result<()> {
    tracing::info!("files: {op} refused: {msg}");
    send(conn, &error_reply(op, msg), b"")
}

fn serve_get(files: &Files, conn: &mut Conn, name: &str, offset: u64) -> anyhow::Result<()> {
    let (mut file, info) = match files.store.open_read(name) {
        Ok(f) => f,
        Err(r) => return refuse(conn, "get", &r.0),
    };
    if offset > info.size {
        let msg = format!(
            "{name}: offset {offset} is past the end ({} bytes)",
            info.size
        );
        return refuse(conn, "get", &msg);
    }
    let Some(_slot) = files.transfer_slot() else {
        return refuse(
            conn,
            "get",
            "server busy: too many transfers, try again later",
        );
    };
    let cached = files.store.cached_md5(name, &info);
    // Without a cached digest, hash while sending; a resumed get first
    // hashes the part the client already has.
    let mut md5 = match cached {
        Some(_) => None,
        None => Some(hash_prefix(&mut file, offset)?.0),
    };
    file.seek(SeekFrom::Start(offset))?;
    send(conn, &get_reply(info.size, offset, info.mtime), b"")?;
    send_body(conn, &mut file, info.size - offset, md5.as_mut())
        .with_context(|| format!("sending {name}"))?;
    let now = FileInfo::of(&file)?;
    if now != info {
        return refuse(
            conn,
            "end",
            &format!("{name}: file changed while being sent"),
        );
    }
    let digest = match (cached, md5) {
        (Some(d), _) => d,
        (None, Some(m)) => {
            let d = Digest(m.finalize());
            files.store.remember_md5(name, &info, d);
            d
        }
        (None, None) => bail!("no digest"),
    };
    tracing::info!(name, size = info.size, offset, "files: get done");
    send(conn, &native::end_header(digest), b"")
}

/// Streams `len` bytes of `file` from its position to the socket,
/// feeding `md5` if given. A file that shrank is an error (the frame
/// cannot be completed, so the connection must close).
pub fn send_body(
    conn: &mut Conn,
    file: &mut File,
    len: u64,
    mut md5: Option<&mut Md5>,
) -> anyhow::Result<()> {
    #[cfg(target_os = "linux")]
    if md5.is_none() {
        return sendfile_body(conn, file, len);
    }
    let mut buf = vec![0u8; IO_CHUNK];
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left).map_or(IO_CHUNK, |l| l.min(IO_CHUNK));
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            bail!("file shrank by {left} bytes while being sent");
        }
        if let Some(m) = md5.as_deref_mut() {
            m.update(&buf[..n]);
        }
        conn.send(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// [`send_body`] without hashing: the kernel copies from the page cache
/// to the socket (`sendfile`), so the bytes never pass through us.
#[cfg(target_os = "linux")]
fn sendfile_body(conn: &mut Conn, file: &File, len: u64) -> anyhow::Result<()> {
    /// Bytes per call: small enough to touch the idle clock often.
    const STEP: u64 = 4 << 20;
    let mut left = len;
    while left > 0 {
        let step = usize::try_from(left.min(STEP)).unwrap_or(1 << 20);
        match rustix::fs::sendfile(&conn.stream, file, None, step) {
            Ok(0) => bail!("file shrank by {left} bytes while being sent"),
            Ok(n) => {
                left -= n as u64;
                conn.touch();
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(std::io::Error::from(e).into()),
        }
    }
    Ok(())
}

fn serve_stat(files: &Files, conn: &mut Conn, name: &str) -> anyhow::Result<()> {
    let (mut file, info) = match files.store.open_read(name) {
        Ok(f) => f,
        Err(r) => return refuse(conn, "stat", &r.0),
    };
    let md5 = files.store.md5_of(name, &mut file, &info)?;
    send(
        conn,
        &file_reply("stat", info.size, md5, Some(info.mtime)),
        b"",
    )
}

fn serve_put(
    files: &Files,
    conn: &mut Conn,
    name: &str,
    size: u64,
    force: bool,
    resume: bool,
) -> anyhow::Result<()> {
    if size > files.cfg.max_file_size {
        let msg = format!(
            "{name}: {size} bytes exceeds the limit of {} bytes",
            files.cfg.max_file_size
        );
        return refuse(conn, "put", &msg);
    }
    // Held until the upload is over, however it ends.
    let Some(_slot) = files.transfer_slot() else {
        return refuse(
            conn,
            "put",
            "server busy: too many transfers, try again later",
        );
    };
    let slot = match files.store.begin_put(name, force, resume, size) {
        Ok(s) => s,
        Err(r) => return refuse(conn, "put", &r.0),
    };
    let prefix = (slot.kept > 0).then(|| Digest(slot.prefix.clone().finalize()));
    send(conn, &ready_reply(slot.kept, prefix), b"")?;
    let mut slot = Some(slot);
    let Some((expected, actual)) = receive_upload(conn, &mut slot, name, size)? else {
        return Ok(());
    };
    let slot = slot.ok_or_else(|| anyhow::anyhow!("upload slot lost"))?;
    if actual != expected {
        slot.discard();
        let msg = format!("{name}: md5 mismatch: client says {expected}, received data is {actual}; upload discarded");
        return refuse(conn, "put", &msg);
    }
    if let Err(r) = slot.commit_or_discard(size) {
        return refuse(conn, "put", &r.0);
    }
    // The next get of this file need not hash it again.
    if let Ok((_, info)) = files.store.open_read(name) {
        if info.size == size {
            files.store.remember_md5(name, &info, actual);
        }
    }
    tracing::info!(name, size, "files: put done");
    send(conn, &file_reply("put", size, actual, None), b"")
}

/// Receives the data frame of an accepted upload into `slot`, returning
/// the md5 the client announced and the md5 of what arrived (the kept
/// prefix included). A client that goes away leaves the partial for a
/// later `--resume`; a refused upload (bad frame, write error such as a
/// full disk) loses its partial and the client is told why. After a write
/// error the rest of the frame is read and dropped, so the client, which
/// reads no answer while it sends, gets the refusal instead of a reset;
/// then `None`, and the connection stays usable.
fn receive_upload(
    conn: &mut Conn,
    slot: &mut Option<PutSlot>,
    name: &str,
    size: u64,
) -> anyhow::Result<Option<(Digest, Digest)>> {
    let mut md5 = slot.as_ref().map_or_else(Md5::new, |s| s.prefix.clone());
    let kept = slot.as_ref().map_or(0, |s| s.kept);
    let mut t = Transfer::new("data", size);
    loop {
        if !conn.fill_if_drained()? {
            bail!("client closed during the upload of {name}; partial kept for --resume");
        }
        let (used, ev) = match t.decode(&conn.buf[conn.lo..conn.hi]) {
            Ok(r) => r,
            Err(e) => {
                discard(slot);
                return refused(conn, format!("{name}: {e}; upload discarded"));
            }
        };
        conn.lo += used;
        match ev {
            None | Some(TransferEvent::BodyEnd) => {}
            Some(TransferEvent::Header(h)) => {
                let off = h.offset.unwrap_or(0);
                if (off != kept && off != 0) || h.total_size != size - off {
                    discard(slot);
                    let msg = format!("{name}: data frame does not match the offer (offset {off}); upload discarded");
                    return refused(conn, msg);
                }
                // The client chose to start over rather than resume.
                if let Some(s) = slot.as_mut().filter(|s| off == 0 && s.kept > 0) {
                    s.restart()?;
                    md5 = Md5::new();
                }
            }
            Some(TransferEvent::Data(b)) => {
                let Some(s) = slot.as_mut() else { continue };
                md5.update(b);
                if let Err(e) = write_sparse(&mut s.file, b) {
                    discard(slot);
                    refuse(conn, "put", &Refusal::io(name, &e).0)?;
                }
            }
            Some(TransferEvent::End(d)) => {
                return Ok(slot.is_some().then(|| (d, Digest(md5.finalize()))))
            }
            Some(TransferEvent::Refused(m)) => bail!("client abandoned the upload of {name}: {m}"),
        }
    }
}

/// Removes a refused upload's partial.
fn discard(slot: &mut Option<PutSlot>) {
    if let Some(s) = slot.take() {
        s.discard();
    }
}

/// Tells the client why its upload stopped, then fails with the same text.
fn refused<T>(conn: &mut Conn, msg: String) -> anyhow::Result<T> {
    refuse(conn, "put", &msg)?;
    bail!(msg)
}
