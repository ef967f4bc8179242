//! Linux: the UDP service loop with batched system calls. One `recvmmsg`
//! takes every datagram already queued (up to [`BATCH`]), the handler
//! answers each in arrival order, and `sendmmsg` sends the answers back in
//! that order, so each peer sees its replies in the order it asked.
//!
//! `recvmmsg` comes from `nix` because rustix 1.x has `sendmmsg` but no
//! `recvmmsg`; `sendmmsg` comes from rustix, which reports the number of
//! messages sent directly.

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Instant;

use nix::errno::Errno;
use nix::sys::socket::{recvmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
use rustix::io::Errno as RustixErrno;
use rustix::net::{sendmmsg, MMsgHdr, SendAncillaryBuffer, SendFlags, SocketAddrAny};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::udp::{Gate, UdpHandler, RECV_BUF};

/// Most datagrams taken (and answered) per system call. The bench keeps 32
/// requests in flight, so a full queue fits in one call.
const BATCH: usize = 32;

/// One received datagram: where it is and who sent it.
struct Received {
    slot: usize,
    len: usize,
    peer: SocketAddr,
}

/// One answer waiting to be sent: its slot in the output area.
struct Reply {
    slot: usize,
    len: usize,
    peer: SocketAddrAny,
}

/// Answers datagrams on `sock` with `handler` until `shutdown`. The socket
/// has a read timeout, so an idle loop still sees the shutdown promptly.
/// Replies the gate's budget does not cover are not sent (one clock read a batch).
pub(super) fn serve<H: UdpHandler>(
    service: &'static str,
    sock: &UdpSocket,
    handler: &mut H,
    gate: &mut Gate,
    shutdown: &CancellationToken,
) {
    // One allocation each, larger than the allocator's mmap threshold: the
    // kernel hands out zero pages lazily, so only the slots (and parts of
    // slots) that traffic touches cost resident memory.
    let mut input = vec![0u8; BATCH * RECV_BUF];
    let mut output = vec![0u8; BATCH * RECV_BUF];
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut got = Vec::with_capacity(BATCH);
    let mut replies = Vec::with_capacity(BATCH);
    while !shutdown.is_cancelled() {
        match receive(sock, &mut headers, &mut input, &mut got) {
            Ok(()) => {}
            Err(Errno::EAGAIN | Errno::EINTR) => continue,
            Err(e) => {
                // ICMP errors from earlier sends surface here; they concern
                // one peer, not the socket.
                debug!(service, error = %e, "recv failed");
                continue;
            }
        }
        replies.clear();
        let now = Instant::now();
        gate.report(service, now);
        for r in &got {
            debug!(service, peer = %r.peer, len = r.len, "datagram");
            gate.arrived(r.len);
            let request = &input[r.slot * RECV_BUF..][..r.len];
            let out = &mut output[r.slot * RECV_BUF..][..RECV_BUF];
            let answer = handler.answer(request, r.peer, out);
            if let Some(len) = answer.filter(|&len| gate.allow(r.peer, len, now)) {
                let peer = SocketAddrAny::from(r.peer);
                replies.push(Reply {
                    slot: r.slot,
                    len,
                    peer,
                });
            }
        }
        send_all(service, sock, &output, &replies);
    }
}

/// Waits (up to the socket's read timeout) for one datagram, then takes
/// whatever else is queued, filling `got` in arrival order.
fn receive(
    sock: &UdpSocket,
    headers: &mut MultiHeaders<SockaddrStorage>,
    input: &mut [u8],
    got: &mut Vec<Received>,
) -> Result<(), Errno> {
    got.clear();
    let mut iovs: Vec<[IoSliceMut<'_>; 1]> = input
        .chunks_mut(RECV_BUF)
        .map(|c| [IoSliceMut::new(c)])
        .collect();
    let msgs = recvmmsg(
        sock.as_raw_fd(),
        headers,
        iovs.iter_mut(),
        MsgFlags::MSG_WAITFORONE,
        None,
    )?;
    // The kernel writes each address length back into the headers and nix
    // does not reset it, so the next call offers that length again: fine,
    // as every peer of one socket has the same address family.
    for (slot, m) in msgs.enumerate() {
        // A datagram without an IP source cannot be answered; skip it.
        if let Some(peer) = m.address.as_ref().and_then(std_addr) {
            let len = m.bytes.min(RECV_BUF);
            got.push(Received { slot, len, peer });
        }
    }
    Ok(())
}

fn std_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddrV4::from(*v4).into());
    }
    a.as_sockaddr_in6().map(|v6| SocketAddrV6::from(*v6).into())
}

/// Sends every reply, in order, with as few `sendmmsg` calls as the
/// kernel allows.
fn send_all(service: &'static str, sock: &UdpSocket, output: &[u8], replies: &[Reply]) {
    let send = |rest: &[Reply]| {
        let iovs: Vec<[IoSlice<'_>; 1]> = rest
            .iter()
            .map(|r| [IoSlice::new(&output[r.slot * RECV_BUF..][..r.len])])
            .collect();
        let mut ctl: Vec<SendAncillaryBuffer<'_, '_, '_>> = rest
            .iter()
            .map(|_| SendAncillaryBuffer::default())
            .collect();
        let mut msgs: Vec<MMsgHdr<'_>> = rest
            .iter()
            .zip(&iovs)
            .zip(&mut ctl)
            .map(|((r, iov), c)| MMsgHdr::new_with_addr(&r.peer, iov, c))
            .collect();
        sendmmsg(sock, &mut msgs, SendFlags::empty())
    };
    let failed = |r: &Reply, e: RustixErrno| {
        debug!(service, peer = ?r.peer, error = %e, "send failed");
    };
    send_in_order(replies, send, failed);
}

/// Calls `send` on the unsent tail of `items` until every item has been
/// sent or refused. `send` returns how many items from the front it sent;
/// a short count means the rest is sent again. An error belongs to the
/// first unsent item (`sendmmsg` reports an error only when it sent
/// nothing): that item is reported to `failed` and skipped, so one bad
/// peer does not cost the others their answers.
fn send_in_order<T>(
    items: &[T],
    mut send: impl FnMut(&[T]) -> Result<usize, RustixErrno>,
    mut failed: impl FnMut(&T, RustixErrno),
) {
    let mut next = 0;
    while let Some(rest) = items.get(next..).filter(|r| !r.is_empty()) {
        match send(rest) {
            // Zero cannot happen for a non-empty batch; skipping one keeps
            // the loop finite if it ever does.
            Ok(n) => next += n.max(1),
            Err(RustixErrno::INTR) => {}
            Err(e) => {
                failed(&rest[0], e);
                next += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `send_in_order` over 0..n with scripted results; returns the
    /// order items were sent in and the items reported as failed.
    fn drive(n: u32, mut script: Vec<Result<usize, RustixErrno>>) -> (Vec<u32>, Vec<u32>) {
        let items: Vec<u32> = (0..n).collect();
        let (mut sent, mut failed) = (Vec::new(), Vec::new());
        script.reverse();
        send_in_order(
            &items,
            |rest| {
                let r = script.pop().unwrap_or(Ok(rest.len()));
                if let Ok(k) = r {
                    sent.extend_from_slice(&rest[..k.min(rest.len())]);
                }
                r
            },
            |item, _| failed.push(*item),
        );
        (sent, failed)
    }

    #[test]
    fn short_sends_resend_the_rest_in_order() {
        let (sent, failed) = drive(6, vec![Ok(2), Ok(1), Ok(3)]);
        assert_eq!(sent, [0, 1, 2, 3, 4, 5]);
        assert!(failed.is_empty());
    }

    #[test]
    fn an_error_skips_only_its_datagram() {
        let refused = RustixErrno::CONNREFUSED;
        let (sent, failed) = drive(5, vec![Ok(1), Err(refused), Ok(1), Err(refused)]);
        assert_eq!(sent, [0, 2, 4]);
        assert_eq!(failed, [1, 3]);
    }

    #[test]
    fn interrupted_calls_are_retried_and_zero_cannot_loop() {
        let (sent, failed) = drive(3, vec![Err(RustixErrno::INTR), Ok(0), Ok(2)]);
        // The zero-count call skips item 0 without sending it.
        assert_eq!(sent, [1, 2]);
        assert!(failed.is_empty());
        let (sent, _) = drive(0, vec![]);
        assert!(sent.is_empty());
    }
}
