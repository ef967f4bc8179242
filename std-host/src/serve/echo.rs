//! Upper-echo over TCP and UDP (the seeds' first servers). The bytes are
//! transformed by `wirekit_core::service::echo`; this module only moves
//! them, with one bounded buffer per connection so a client that stops
//! reading stops the server reading from it (backpressure) instead of
//! growing memory.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
/// The buffer exists only while data is flowing: after a read that did not
/// fill it (the socket is drained) it is dropped, and the next one is
/// allocated when the socket becomes readable again, so thousands of quiet
/// connections hold no buffers at all.
pub(super) async fn stream(
    mut conn: Conn,
    ctx: ConnCtx,
    transform: fn(&mut [u8]),
) -> anyhow::Result<()> {
    // One cancellation future per connection: creating one per read would
    // lock the token's shared state every round trip.
    let stop = ctx.shutdown.cancelled();
    tokio::pin!(stop);
    let mut buf: Vec<u8> = Vec::new();
    loop {
        if buf.capacity() == 0 {
            tokio::select! {
                r = conn.readable() => r?,
                _ = &mut stop => break,
            }
            // Uninitialised capacity: no 16 KiB memset per burst.
            buf = Vec::with_capacity(BUF);
        }
        buf.clear();
        let n = tokio::select! {
            r = conn.read_buf(&mut buf) => r?,
            _ = &mut stop => break,
        };
        if n == 0 {
            break;
        }
        transform(&mut buf[..n]);
        // Not reading while this write waits is the backpressure.
        conn.write_all(&buf[..n]).await?;
        if n < BUF {
            buf = Vec::new();
        }
    }
    conn.shutdown().await?;
    Ok(())
}
