//! Upper-echo over TCP and UDP (the seeds' first servers). The bytes are
//! transformed by `wirekit_core::service::echo`; this module only moves
//! them, with one bounded buffer per connection so a client that stops
//! reading stops the server reading from it (backpressure) instead of
//! growing memory.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wirekit_core::service::echo::{upper_in_place, MAX_UDP_PAYLOAD};

use crate::runtime::{Conn, ConnCtx, Launch};

/// Per-connection buffer: one read's worth, written back before the next
/// read.
pub(super) const BUF: usize = 16 * 1024;

pub(super) fn start_tcp(l: &Launch, _: &super::Shared, addr: SocketAddr) -> anyhow::Result<()> {
    l.tcp("echo", addr, |conn, ctx| stream(conn, ctx, upper_in_place))
}

pub(super) fn start_udp(l: &Launch, _: &super::Shared, addr: SocketAddr) -> anyhow::Result<()> {
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

/// First-read buffer, inline in the connection's task: messages up to this
/// size (all the seeds' clients send) never need another buffer.
const SMALL: usize = 1024;

/// Echoes a stream through `transform` until the client closes its side,
/// then closes ours. On shutdown it stops reading, having written back
/// everything it read.
///
/// Reads go into a small inline buffer; only a read that fills it (a
/// burst) moves to a [`BUF`] heap buffer, which is dropped as soon as a
/// read comes back short (the socket is drained). So quiet connections,
/// thousands of them, hold no heap buffer, and a busy one at most one.
/// Not reading while a write waits is the backpressure.
pub(super) async fn stream(
    mut conn: Conn,
    ctx: ConnCtx,
    transform: fn(&mut [u8]),
) -> anyhow::Result<()> {
    // One cancellation future per connection: creating one per read would
    // lock the token's shared state every round trip.
    let stop = ctx.shutdown.cancelled();
    tokio::pin!(stop);
    let mut small = [0u8; SMALL];
    'conn: loop {
        let n = tokio::select! {
            r = conn.read(&mut small) => r?,
            _ = &mut stop => break,
        };
        if n == 0 {
            break;
        }
        if n < SMALL {
            transform(&mut small[..n]);
            conn.write_all(&small[..n]).await?;
            continue;
        }
        let mut big = Vec::with_capacity(BUF);
        big.extend_from_slice(&small);
        // Whatever else already arrived joins this write (no waiting: the
        // peer may be waiting for our answer first).
        let mut eof = match conn.try_read_buf(&mut big) {
            Ok(m) => m == 0,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(e) => return Err(e.into()),
        };
        loop {
            transform(&mut big);
            conn.write_all(&big).await?;
            if eof {
                break 'conn;
            }
            if big.len() < BUF {
                continue 'conn;
            }
            big.clear();
            eof = tokio::select! {
                r = conn.read_buf(&mut big) => r? == 0,
                _ = &mut stop => break 'conn,
            };
        }
    }
    conn.shutdown().await?;
    Ok(())
}
