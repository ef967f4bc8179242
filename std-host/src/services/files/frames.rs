//! File bodies written to a connection by the seed dialect servers (the
//! native server writes what its core session produces, see
//! `serve_native`; the clients' frames come from their core sessions).

use std::fs::File;
use std::io::Read;

use md5::{Digest as _, Md5};
use wirekit_core::service::file::native::segments;

use super::async_conn::AsyncConn;

pub use wirekit_core::session::files::SHUTTING_DOWN;

/// Bytes a body is read from its file per blocking step.
const READ_STEP: usize = segments::SEGMENT_MAX as usize;

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
/// written, so a transfer costs about max(disk + hash, network), and the
/// blocking thread is never held while the client is slow. A file that
/// shrank is an error (the frame cannot be completed, so the connection
/// must close).
pub async fn send_body(
    conn: &mut AsyncConn,
    file: File,
    len: u64,
    md5: Option<Md5>,
) -> anyhow::Result<(File, Option<Md5>)> {
    if len == 0 {
        return Ok((file, md5));
    }
    let step = |left: u64| usize::try_from(left).map_or(READ_STEP, |l| l.min(READ_STEP));
    let mut left = len;
    let mut spare = Vec::new();
    let want = step(left);
    let mut pending = tokio::task::spawn_blocking(move || read_step(file, md5, Vec::new(), want));
    loop {
        let (file, md5, buf, r) = pending.await?;
        r?;
        left -= buf.len() as u64;
        if left == 0 {
            conn.send(&buf).await?;
            return Ok((file, md5));
        }
        let want = step(left);
        let into = std::mem::take(&mut spare);
        pending = tokio::task::spawn_blocking(move || read_step(file, md5, into, want));
        // If this fails the read in flight just finishes and is dropped.
        conn.send(&buf).await?;
        spare = buf;
    }
}
