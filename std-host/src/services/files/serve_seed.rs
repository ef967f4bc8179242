//! The server side of the seeds' dialects: seed 000's bare-name download,
//! seed 002's `get`/`put` and seed 004's size/ack/bytes/md5 get.
//!
//! Where the seeds' servers hang or crash (missing file, sizes an `i`
//! cannot hold, corrupt chunks), these answer as clearly as the seed
//! clients can show: `{}` for seed 000, a closed connection for a seed
//! 002 get (its client then prints "服务器端没有该文件"), a failure text
//! for a seed 002 put, `error: REASON` for seed 004. As in the native
//! dialect, waiting on the client is async and the file system is used in
//! short blocking steps.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use anyhow::bail;
use md5::{Digest as _, Md5};
use wirekit_core::service::file::access::Uploader;
use wirekit_core::service::file::{name, seed000, seed002, seed004};
use wirekit_core::wire::Digest;

use super::async_conn::AsyncConn;
use super::frames::{send_body, SHUTTING_DOWN};
use super::store::{FileInfo, PutSlot, Refusal};
use super::Files;

/// Opens `name` for reading on a blocking thread.
async fn open(files: &Arc<Files>, name: &str) -> anyhow::Result<Result<(File, FileInfo), String>> {
    let n = name.to_owned();
    files
        .blocking(move |f| f.store.open_read(&n).map_err(|r| r.0))
        .await
}

/// Seed 000: each message is a file name; answers header + bytes or `{}`.
pub async fn serve_seed000(files: &Arc<Files>, conn: &mut AsyncConn) -> anyhow::Result<()> {
    // Seed 000's only error form, `{}`, means "no such file": at shutdown
    // the connection just closes.
    while conn.next_request().await? == Some(true) {
        let Some(msg) = conn.read_message(seed000::MAX_REQUEST).await? else {
            break;
        };
        let mut head = [0u8; seed000::HEADER_CAP];
        let found = match seed000::request_name(&msg) {
            None => Err("file name is not UTF-8".to_string()),
            Some(n) => open(files, n).await?.map(|f| (n, f)),
        };
        let (name, (file, info)) = match found {
            Ok(f) => f,
            Err(why) => {
                tracing::info!("files: seed 000 get refused: {why}");
                let n = seed000::header(None, &mut head).unwrap_or(0);
                conn.send(&head[..n]).await?;
                continue;
            }
        };
        let Some(_slot) = files.transfer_slot() else {
            tracing::warn!("files: too many transfers; seed 000 get of {name} answered as missing");
            let n = seed000::header(None, &mut head).unwrap_or(0);
            conn.send(&head[..n]).await?;
            continue;
        };
        let nm = name.to_owned();
        let (file, md5) = files
            .blocking(move |f| -> std::io::Result<(File, Digest)> {
                let mut file = file;
                let md5 = f.store.md5_of(&nm, &mut file, &info)?;
                file.seek(SeekFrom::Start(0))?;
                Ok((file, md5))
            })
            .await??;
        let Some(n) = seed000::header(Some((info.size, md5)), &mut head) else {
            bail!("seed 000 header does not fit");
        };
        conn.send(&head[..n]).await?;
        send_body(conn, file, info.size, None).await?;
        tracing::info!(name, size = info.size, "files: seed 000 get done");
    }
    Ok(())
}

/// Seed 002: `get NAME` / `put NAME` commands.
pub async fn serve_seed002(files: &Arc<Files>, conn: &mut AsyncConn) -> anyhow::Result<()> {
    // Seed 002's error form for a get is a closed connection.
    while conn.next_request().await? == Some(true) {
        // Take only the command: a put's size preamble may be in the same read.
        let len = seed002::command_len(&conn.buf[conn.lo..conn.hi]).max(1);
        let msg = conn.buf[conn.lo..conn.lo + len].to_vec();
        conn.lo += len;
        match seed002::parse_command(&msg) {
            Err(e) => tracing::info!("files: seed 002 command refused: {e}"),
            Ok((seed002::Verb::Get, name)) => {
                if !seed002_get(files, conn, name).await? {
                    return Ok(());
                }
            }
            Ok((seed002::Verb::Put, name)) => seed002_put(files, conn, name).await?,
        }
    }
    Ok(())
}

/// Returns false when the connection must close (how the seed client
/// learns that the file is missing).
async fn seed002_get(files: &Arc<Files>, conn: &mut AsyncConn, name: &str) -> anyhow::Result<bool> {
    let (mut file, info) = match open(files, name).await? {
        Ok(f) => f,
        Err(why) => {
            tracing::info!("files: seed 002 get refused: {why}");
            return Ok(false);
        }
    };
    let Some(size) = seed002::size_prefix(info.size) else {
        tracing::warn!(
            "files: seed 002 get of {name} refused: {} bytes do not fit its 'i' size field",
            info.size
        );
        return Ok(false);
    };
    let Some(_slot) = files.transfer_slot() else {
        tracing::warn!("files: too many transfers; seed 002 get of {name} refused");
        return Ok(false);
    };
    conn.send(&size).await?;
    let pause = std::time::Duration::from_millis(files.cfg.seed002_pause_ms);
    let mut chunk = vec![0u8; seed002::CHUNK];
    let mut head = vec![0u8; seed002::CHUNK_HEADER_CAP];
    let mut left = info.size;
    while left > 0 {
        let want = usize::try_from(left).map_or(chunk.len(), |l| l.min(chunk.len()));
        // 64 KiB per step: a read this small from the page cache is quick.
        let (f, c, r) = tokio::task::spawn_blocking(move || {
            let r = file.read_exact(&mut chunk[..want]);
            (file, chunk, r)
        })
        .await?;
        (file, chunk) = (f, c);
        r?;
        let Some(n) = seed002::chunk_header(name, &chunk[..want], &mut head) else {
            bail!("seed 002 chunk header does not fit");
        };
        conn.send(&head[..n]).await?;
        conn.send(&chunk[..want]).await?;
        left -= want as u64;
        if left > 0 {
            tokio::time::sleep(pause).await;
        }
    }
    tracing::info!(name, size = info.size, "files: seed 002 get done");
    Ok(true)
}

async fn seed002_put(files: &Arc<Files>, conn: &mut AsyncConn, name: &str) -> anyhow::Result<()> {
    // A refused upload is still read to its end so the seed client, which
    // never reads answers while sending, does not hit a reset. The slot is
    // held until the upload has been read, however it ends.
    let transfer = files.transfer_slot();
    let allowed = files.may_upload(conn, Uploader::Seed);
    let admitted = match (&transfer, allowed) {
        // Seed 002 cannot authenticate: off loopback, or with a token
        // set, its uploads are refused in its own error form.
        (_, Err(r)) => Err(r.to_string()),
        (None, _) => Err("server busy: too many transfers".to_string()),
        (Some(_), Ok(())) => {
            let n = name.to_owned();
            files
                .blocking(move |f| f.store.begin_put(&n, false, false, 0).map_err(|r| r.0))
                .await?
        }
    };
    let mut target = match admitted {
        Ok(s) => Target::File(s),
        Err(why) => Target::Refused(why),
    };
    let mut up = seed002::Upload::new(files.cfg.max_file_size);
    let read = read_seed002_upload(conn, &mut up, &mut target, name).await;
    let (n, size) = (name.to_owned(), up.size().unwrap_or(0));
    let reply = tokio::task::spawn_blocking(move || match read {
        Ok(()) => Ok(target.finish(&n, size)),
        Err(e) => {
            target.refuse(String::new());
            Err(e)
        }
    })
    .await??;
    tracing::info!("files: seed 002 put: {reply}");
    if let Err(e) = conn.send(reply.as_bytes()).await {
        // The seed client never reads this answer and may be gone.
        tracing::debug!("seed 002 answer not delivered: {e}");
    }
    Ok(())
}

/// Reads a seed 002 upload to its end into `target`. A malformed stream
/// or a client that goes away discards the partial (seed 002 cannot
/// resume; the caller discards it when this fails).
async fn read_seed002_upload(
    conn: &mut AsyncConn,
    up: &mut seed002::Upload,
    target: &mut Target,
    name: &str,
) -> anyhow::Result<()> {
    loop {
        // Decode before reading: the last chunk's end and `Done` need no
        // more bytes, and the seed client sends none until it is answered.
        let (used, ev) = match up.decode(&conn.buf[conn.lo..conn.hi]) {
            Ok(r) => r,
            Err(e) => {
                conn.send(format!("{name} 上传失败: {e}").as_bytes())
                    .await?;
                bail!("seed 002 upload of {name}: {e}");
            }
        };
        let data = match ev {
            Some(seed002::UploadEvent::Done) => {
                conn.lo += used;
                return Ok(());
            }
            Some(seed002::UploadEvent::Data(b)) => Some(b.to_vec()),
            _ => None,
        };
        let starved = ev.is_none() && used == conn.hi - conn.lo;
        conn.lo += used;
        if let Some(b) = data {
            if let Target::File(_) = target {
                let mut t = std::mem::replace(target, Target::Refused(String::new()));
                *target = tokio::task::spawn_blocking(move || {
                    t.write(&b);
                    t
                })
                .await?;
            }
        }
        if starved && conn.fill().await? == 0 {
            bail!("client closed during the seed 002 upload of {name}");
        }
    }
}

/// Where a seed 002 upload's bytes go: its partial file, or nowhere once
/// it has been refused.
enum Target {
    File(PutSlot),
    Refused(String),
}

impl Target {
    fn write(&mut self, b: &[u8]) {
        if let Target::File(s) = self {
            if let Err(e) = std::io::Write::write_all(&mut s.file, b) {
                // The reason alone: `finish` puts the name in front.
                let why = Refusal::io("", &e).0;
                self.refuse(why.trim_start_matches(": ").to_string());
            }
        }
    }

    /// Refuses the upload, removing its partial (its data is incomplete
    /// or wrong). The first reason given is the one kept.
    fn refuse(&mut self, why: String) {
        if let Target::File(_) = self {
            if let Target::File(s) = std::mem::replace(self, Target::Refused(why)) {
                s.discard();
            }
        }
    }

    /// Commits a complete, accepted upload of `size` bytes; the seed's
    /// answer text either way.
    fn finish(self, name: &str, size: u64) -> String {
        let why = match self {
            Target::Refused(why) => why,
            Target::File(s) => match s.commit_or_discard(size) {
                Ok(()) => {
                    let mut t = String::new();
                    let _ = seed002::upload_done(name, &mut t);
                    return t;
                }
                Err(r) => r.to_string(),
            },
        };
        format!("{name} 上传失败: {why}")
    }
}

/// Seed 004 (`files-ack`): size text, wait for the ack, bytes, md5 text.
pub async fn serve_seed004(files: &Arc<Files>, conn: &mut AsyncConn) -> anyhow::Result<()> {
    let mut session = seed004::Session::default();
    loop {
        match conn.next_request().await? {
            Some(true) => {}
            Some(false) => return Ok(()),
            None => {
                let text = format!("error: {SHUTTING_DOWN}");
                return Ok(conn.send(text.as_bytes()).await?);
            }
        }
        let Some(msg) = conn.read_message(seed004::MAX_MESSAGE).await? else {
            return Ok(());
        };
        let asked = session
            .command(&msg)
            .map_err(|e| e.to_string())
            .and_then(|n| {
                name::check(n, false).map_err(|e| format!("{n}: {e}"))?;
                Ok(n.to_owned())
            });
        let found = match asked {
            Ok(n) => open(files, &n).await?.map(|f| (n, f)),
            Err(why) => Err(why),
        };
        let (name, (file, info)) = match found {
            Ok(f) => f,
            Err(why) => {
                tracing::info!("files: seed 004 get refused: {why}");
                conn.send(format!("error: {why}").as_bytes()).await?;
                continue;
            }
        };
        let Some(_slot) = files.transfer_slot() else {
            conn.send(b"error: server busy: too many transfers").await?;
            continue;
        };
        let mut text = [0u8; 24];
        conn.send(session.found(info.size, &mut text)).await?;
        let Some(ack) = conn.read_message(seed004::MAX_MESSAGE).await? else {
            return Ok(());
        };
        session.ack(&ack);
        let cached = files.store.cached_md5(&name, &info);
        let md5 = cached.is_none().then(Md5::new);
        let (file, md5) = send_body(conn, file, info.size, md5).await?;
        session.sent(info.size);
        let digest = match (cached, md5) {
            (Some(d), _) => d,
            (None, Some(m)) => Digest(m.finalize().into()),
            (None, None) => bail!("no digest"),
        };
        let unchanged = files.blocking(move |_| FileInfo::of(&file)).await??;
        if cached.is_none() && unchanged == info {
            files.store.remember_md5(&name, &info, digest);
        }
        conn.send(&digest.to_hex()).await?;
        session.digest_sent();
        tracing::info!(name, size = info.size, "files: seed 004 get done");
    }
}
