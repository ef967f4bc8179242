//! Upper-echo over TCP and UDP (the seeds' first servers). The bytes are
//! transformed by `wirekit_core::service::echo`; this module only moves
//! them, with one bounded buffer per connection so a client that stops
//! reading stops the server reading from it (backpressure) instead of
//! growing memory.

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt;
use wirekit_core::service::echo::{upper_in_place, MAX_UDP_PAYLOAD};

use super::{Conn, ConnCtx, Launch};

/// Per-connection buffer: one read's worth, written back before the next
/// read.
pub(super) const BUF: usize = 16 * 1024;

pub(super) fn start_tcp(l: &Launch, addr: SocketAddr) -> anyhow::Result<()> {
    l.tcp("echo", addr, |conn, ctx| stream(conn, ctx, upper_in_place))
}

pub(super) fn start_udp(l: &Launch, addr: SocketAddr) -> anyhow::Result<()> {
    l.udp("udp-echo", addr, |req: &[u8], _peer, out: &mut [u8]| {
        Some(datagram(req, out, upper_in_place))
    })
}

/// Answers a datagram with `transform` of it, or an error text when it is
/// larger than an IPv4 UDP payload can be.
pub(super) fn datagram(req: &[u8], out: &mut [u8], transform: fn(&mut [u8])) -> usize {
    if req.len() > MAX_UDP_PAYLOAD {
        let msg = format!("error: datagram larger than {MAX_UDP_PAYLOAD} bytes");
        out[..msg.len()].copy_from_slice(msg.as_bytes());
        return msg.len();
    }
    out[..req.len()].copy_from_slice(req);
    transform(&mut out[..req.len()]);
    req.len()
}

/// Echoes a stream through `transform` until the client closes its side,
/// then closes ours. On shutdown it stops reading, having written back
/// everything it read.
///
/// The buffer exists only while data is flowing: it is dropped whenever
/// the socket has nothing more to read, so thousands of quiet connections
/// hold no buffers at all.
pub(super) async fn stream(
    mut conn: Conn,
    ctx: ConnCtx,
    transform: fn(&mut [u8]),
) -> anyhow::Result<()> {
    let mut buf: Option<Box<[u8]>> = None;
    loop {
        tokio::select! {
            r = conn.readable() => r?,
            _ = ctx.shutdown.cancelled() => break,
        }
        let b = buf.get_or_insert_with(|| vec![0u8; BUF].into_boxed_slice());
        let n = match conn.get_ref().try_read(b) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                buf = None;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        // try_read bypasses the tracked reader, so record the activity.
        conn.activity().touch();
        transform(&mut b[..n]);
        // Not reading while this write waits is the backpressure.
        conn.write_all(&b[..n]).await?;
    }
    conn.shutdown().await?;
    Ok(())
}
