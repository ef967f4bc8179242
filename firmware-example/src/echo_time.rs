//! The echo/time services (cargo feature `echo-time`, on by default): TCP
//! and UDP upper-echo on port 7, the UDP strftime time service on port 13
//! and the RFC 868 server on TCP 37, with their sockets, buffers and
//! listening slots. The per-socket steps are in `services.rs`.
//!
//! A feature of its own so that the `framed` image (files and chat) can
//! leave these out: a board runs one role, the default image serves
//! echo/time, and without them the framed image needs no UDP sockets
//! (smoltcp's `socket-udp`) and no strftime service.

use core::ptr::addr_of_mut;

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};

use crate::half_open::relisten;
use crate::services::{self, ECHO_PORT, RFC868_PORT, STRFTIME_PORT};

/// How many TCP upper-echo clients are served at once. smoltcp has no
/// listen backlog, so each slot is one socket listening on port 7; a SYN
/// beyond the free slots is answered with a reset.
pub const ECHO_SLOTS: usize = 4;
/// Receive buffer (= advertised window) per TCP echo slot. All slots'
/// windows together (8 KiB) fit in the LAN9118's receive FIFO (about 10 KiB
/// in QEMU), so a polled driver does not force the peer into retransmits.
#[cfg(not(feature = "framed"))]
pub const ECHO_RX: usize = 2048;
/// With `framed` too (not an image CI budgets: the framed image leaves
/// echo/time out) the windows are halved so its RAM stays near budget.
#[cfg(feature = "framed")]
pub const ECHO_RX: usize = 1024;
/// Send buffer per TCP echo slot: echo never sends more than it received,
/// so the same size keeps a full window flowing back.
pub const ECHO_TX: usize = ECHO_RX;
/// Concurrent RFC 868 server connections (each lives for one round trip).
pub const RFC868_SLOTS: usize = 2;
/// Largest UDP payload that arrives in one Ethernet frame (1500 − 20 − 8).
/// Bigger datagrams come as IP fragments, which this stack does not
/// reassemble (no `proto-ipv4-fragmentation`), so they are dropped.
pub const UDP_MAX: usize = 1472;
/// UDP payload buffers hold two maximal datagrams each way, so a request
/// can arrive while the previous reply is still queued.
const UDP_BUF: usize = 2 * UDP_MAX;
/// Queued datagrams per UDP socket direction.
const UDP_META: usize = 4;
/// Largest strftime reply; a longer result is answered with the core's
/// `error: formatted time longer than ...` text instead.
pub const TIME_REPLY_MAX: usize = 512;
/// Sockets these services open: the echo and RFC 868 slots, UDP echo and
/// UDP time.
pub const SOCKETS: usize = ECHO_SLOTS + RFC868_SLOTS + 2;

/// The services' socket buffers (a part of [`crate::Buffers`]).
pub struct EchoTimeBuffers {
    echo_rx: [[u8; ECHO_RX]; ECHO_SLOTS],
    echo_tx: [[u8; ECHO_TX]; ECHO_SLOTS],
    rfc868_rx: [[u8; 16]; RFC868_SLOTS],
    rfc868_tx: [[u8; 16]; RFC868_SLOTS],
    udp_echo: UdpBuffers,
    udp_time: UdpBuffers,
}

struct UdpBuffers {
    rx_meta: [udp::PacketMetadata; UDP_META],
    rx: [u8; UDP_BUF],
    tx_meta: [udp::PacketMetadata; UDP_META],
    tx: [u8; UDP_BUF],
}

impl UdpBuffers {
    fn socket(&mut self) -> udp::Socket<'_> {
        udp::Socket::new(
            udp::PacketBuffer::new(&mut self.rx_meta[..], &mut self.rx[..]),
            udp::PacketBuffer::new(&mut self.tx_meta[..], &mut self.tx[..]),
        )
    }
}

impl EchoTimeBuffers {
    /// Makes the buffers at `p` valid: all-zero bytes are valid for every
    /// field except the UDP packet metadata, written here element by
    /// element (never a whole array through the stack).
    ///
    /// # Safety
    /// `p` must be valid for writes of one `EchoTimeBuffers` whose bytes
    /// are all zero.
    pub unsafe fn init_zeroed(p: *mut EchoTimeBuffers) {
        // SAFETY: the caller's contract; only the metadata arrays inside
        // `p` are written.
        unsafe {
            for udp in [addr_of_mut!((*p).udp_echo), addr_of_mut!((*p).udp_time)] {
                for meta in [addr_of_mut!((*udp).rx_meta), addr_of_mut!((*udp).tx_meta)] {
                    let first = meta.cast::<udp::PacketMetadata>();
                    for i in 0..UDP_META {
                        first.add(i).write(udp::PacketMetadata::EMPTY);
                    }
                }
            }
        }
    }
}

/// The running echo/time services: their sockets and slot state.
pub struct EchoTime {
    echo: [SocketHandle; ECHO_SLOTS],
    echo_idle_since: [u64; ECHO_SLOTS],
    echo_half_open: [Option<u64>; ECHO_SLOTS],
    rfc868: [SocketHandle; RFC868_SLOTS],
    rfc868_half_open: [Option<u64>; RFC868_SLOTS],
    udp_echo: SocketHandle,
    udp_time: SocketHandle,
}

impl EchoTime {
    /// Opens the services' sockets in `sockets`, listening and bound.
    pub fn new<'a>(bufs: &'a mut EchoTimeBuffers, sockets: &mut SocketSet<'a>) -> Self {
        let EchoTimeBuffers {
            echo_rx,
            echo_tx,
            rfc868_rx,
            rfc868_tx,
            udp_echo,
            udp_time,
        } = bufs;
        let mut echo = [SocketHandle::default(); ECHO_SLOTS];
        for ((h, rx), tx) in echo.iter_mut().zip(echo_rx).zip(echo_tx) {
            *h = sockets.add(listening(rx, tx, ECHO_PORT));
        }
        let mut rfc868 = [SocketHandle::default(); RFC868_SLOTS];
        for ((h, rx), tx) in rfc868.iter_mut().zip(rfc868_rx).zip(rfc868_tx) {
            *h = sockets.add(listening(rx, tx, RFC868_PORT));
        }
        let mut bind = |mut s: udp::Socket<'a>, port| {
            // Binding fails only for port 0; these are constants.
            let _ = s.bind(port);
            sockets.add(s)
        };
        let udp_echo = bind(udp_echo.socket(), ECHO_PORT);
        let udp_time = bind(udp_time.socket(), STRFTIME_PORT);
        EchoTime {
            echo,
            echo_idle_since: [0; ECHO_SLOTS],
            echo_half_open: [None; ECHO_SLOTS],
            rfc868,
            rfc868_half_open: [None; RFC868_SLOTS],
            udp_echo,
            udp_time,
        }
    }

    /// The listening slots of `port` and when each was first seen
    /// half-open, for the SYN-flood defence.
    pub fn slots(&mut self, port: u16) -> Option<(&mut [SocketHandle], &mut [Option<u64>])> {
        match port {
            ECHO_PORT => Some((&mut self.echo, &mut self.echo_half_open)),
            RFC868_PORT => Some((&mut self.rfc868, &mut self.rfc868_half_open)),
            _ => None,
        }
    }

    /// One round of every echo/time socket. Each service with a stack
    /// buffer is a function of its own (not inlined), so their buffers
    /// share one region of the stack instead of adding up.
    pub fn serve(&mut self, sockets: &mut SocketSet<'_>, now_ms: u64, unix: Option<i64>) {
        for (h, idle) in self.echo.iter().zip(self.echo_idle_since.iter_mut()) {
            services::tcp_echo(sockets.get_mut::<tcp::Socket>(*h), now_ms, idle);
        }
        for h in &self.rfc868 {
            services::rfc868_serve(sockets.get_mut::<tcp::Socket>(*h), unix);
        }
        services::udp_echo(sockets.get_mut::<udp::Socket>(self.udp_echo));
        services::udp_time(sockets.get_mut::<udp::Socket>(self.udp_time), unix);
    }
}

/// A slot's socket, already listening on `port`.
fn listening<'b>(rx: &'b mut [u8], tx: &'b mut [u8], port: u16) -> tcp::Socket<'b> {
    let mut s = crate::tcp_socket(rx, tx);
    relisten(&mut s, port);
    s
}
