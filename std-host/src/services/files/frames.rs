//! Frames written on a client's blocking connection (the servers write
//! what their core sessions produce, see `serve_native` and `serve_seed`).

use wirekit_core::service::file::native::HEADER_CAP;
use wirekit_core::wire::{emit_frame_header, Header};

use super::conn::Conn;

pub use wirekit_core::session::files::SHUTTING_DOWN;

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
