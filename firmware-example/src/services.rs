//! Per-socket service steps: each takes one smoltcp socket, moves what it
//! can without blocking and returns. The byte-level logic is wirekit-core's,
//! the same code `wirekit serve` runs.

use smoltcp::socket::{tcp, udp};
use wirekit_core::service::{echo, time};
use wirekit_core::strftime::Tm;

use crate::half_open::relisten;
use crate::{TIME_REPLY_MAX, UDP_MAX};

/// TCP and UDP upper-echo port (RFC 862's echo port).
pub const ECHO_PORT: u16 = 7;
/// UDP strftime time service port (RFC 867's daytime port).
pub const STRFTIME_PORT: u16 = 13;
/// RFC 868 time port.
pub const RFC868_PORT: u16 = 37;

/// A connected echo client that sends nothing for this long is dropped so
/// one idle peer cannot hold a slot forever.
const ECHO_IDLE_MS: u64 = 60_000;

/// Echo works through a stack buffer of this size per round: small enough
/// for any task stack, large enough to move a full segment at a time.
const ECHO_CHUNK: usize = 512;

/// One round of TCP upper-echo on one slot.
#[inline(never)]
pub fn tcp_echo(s: &mut tcp::Socket<'_>, now_ms: u64, idle_since: &mut u64) {
    relisten(s, ECHO_PORT);
    if !s.is_active() || s.state() == tcp::State::SynReceived {
        *idle_since = now_ms;
        return;
    }
    let mut buf = [0u8; ECHO_CHUNK];
    let mut moved = false;
    while s.can_recv() && s.can_send() {
        let room = s.send_capacity() - s.send_queue();
        let want = room.min(buf.len());
        let n = match s.recv_slice(&mut buf[..want]) {
            Ok(n) if n > 0 => n,
            _ => break,
        };
        echo::upper_in_place(&mut buf[..n]);
        // Cannot be short: `want` was bounded by the free send space.
        let _ = s.send_slice(&buf[..n]);
        moved = true;
    }
    if moved {
        *idle_since = now_ms;
    }
    if !s.may_recv() && s.recv_queue() == 0 && s.may_send() {
        // The client closed its side and everything was echoed: close ours
        // (the FIN follows the queued echo).
        s.close();
    } else if now_ms.saturating_sub(*idle_since) > ECHO_IDLE_MS {
        s.abort();
    }
}

/// One round of the RFC 868 server on one slot: the time, then close.
pub fn rfc868_serve(s: &mut tcp::Socket<'_>, unix: Option<i64>) {
    relisten(s, RFC868_PORT);
    // Anything the client sends is ignored (RFC 868 has no request).
    while s.can_recv() {
        let mut sink = [0u8; 16];
        if !matches!(s.recv_slice(&mut sink), Ok(n) if n > 0) {
            break;
        }
    }
    if !matches!(s.state(), tcp::State::Established | tcp::State::CloseWait) {
        return;
    }
    if let Some(unix) = unix {
        // 4 bytes always fit the empty 16-byte send buffer.
        let _ = s.send_slice(&time::rfc868(unix));
    }
    // Without a synchronised clock there is nothing true to say: close.
    s.close();
}

/// One round of UDP upper-echo: every queued datagram is answered.
#[inline(never)]
pub fn udp_echo(s: &mut udp::Socket<'_>) {
    let mut buf = [0u8; UDP_MAX];
    while s.can_recv() && s.can_send() {
        let Ok((n, meta)) = s.recv_slice(&mut buf) else {
            break;
        };
        echo::upper_in_place(&mut buf[..n]);
        // A full send queue drops the reply, as UDP may.
        let _ = s.send_slice(&buf[..n], meta.endpoint);
    }
}

/// One round of the strftime time service (UTC): each datagram is a
/// format, empty meaning `%Y-%m-%d %X`; bad formats get `error: ...`.
#[inline(never)]
pub fn udp_time(s: &mut udp::Socket<'_>, unix: Option<i64>) {
    let mut req = [0u8; UDP_MAX];
    let mut out = [0u8; TIME_REPLY_MAX];
    while s.can_recv() && s.can_send() {
        let Ok((n, meta)) = s.recv_slice(&mut req) else {
            break;
        };
        let len = match unix {
            Some(unix) => time::answer(&req[..n], &Tm::from_unix(unix, 0, "UTC"), &mut out),
            None => {
                const MSG: &[u8] = b"error: clock not synchronised";
                out[..MSG.len()].copy_from_slice(MSG);
                MSG.len()
            }
        };
        let _ = s.send_slice(&out[..len], meta.endpoint);
    }
}
