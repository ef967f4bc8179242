//! The board-agnostic application: wirekit-core's upper-echo and time
//! services on an smoltcp [`Interface`], generic over the network device
//! ([`smoltcp::phy::Device`]) and a millisecond [`Clock`].
//!
//! Services (guest ports, fixed like the classic inetd services):
//!
//! | port    | service                                                      |
//! |---------|--------------------------------------------------------------|
//! | TCP 7   | upper-echo, [`ECHO_SLOTS`] clients at once                   |
//! | UDP 7   | upper-echo, one reply datagram per request                   |
//! | UDP 13  | the seeds' strftime time service (datagram = format, UTC)    |
//! | TCP 37  | RFC 868 time (4 bytes, seconds since 1900), then close       |
//!
//! With the cargo feature `framed` (an image of its own, see `framed.rs`):
//!
//! | port     | service                                                     |
//! |----------|-------------------------------------------------------------|
//! | TCP 8484 | `files`, read-only: files in flash, native protocol          |
//! | TCP 9999 | group chat room, 4 clients, seed 003 line format             |
//!
//! The wall clock is synchronised at boot and every
//! [`NetConfig::sync_interval_ms`] from an RFC 868 server over TCP (the
//! host's `wirekit serve` provides one) and kept between syncs with the
//! board's millisecond clock. Until the first sync the time services say so
//! (`error: clock not synchronised` on UDP 13; TCP 37 closes without data)
//! rather than answer 1970.
//!
//! Everything lives in caller-provided [`Buffers`] (no allocator), built in
//! place: a board puts them in an uninitialised `static`, a host test in a
//! `Box`.
#![no_std]
#![warn(missing_docs)]

#[cfg(feature = "framed")]
mod chat;
mod dhcp;
#[cfg(feature = "framed")]
mod files;
#[cfg(feature = "framed")]
pub mod framed;
mod half_open;
mod replay;
mod services;
mod sync;

use core::mem::{size_of, MaybeUninit};
use core::ptr::addr_of_mut;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{Device, RxToken};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, Ipv4Address};

pub use dhcp::Address;
pub use half_open::HALF_OPEN_MS;
pub use services::{ECHO_PORT, RFC868_PORT, STRFTIME_PORT};

/// How many TCP upper-echo clients are served at once. smoltcp has no
/// listen backlog, so each slot is one socket listening on port 7; a SYN
/// beyond the free slots is answered with a reset.
pub const ECHO_SLOTS: usize = 4;
/// Receive buffer (= advertised window) per TCP echo slot. All slots'
/// windows together (8 KiB) fit in the LAN9118's receive FIFO (about 10 KiB
/// in QEMU), so a polled driver does not force the peer into retransmits.
#[cfg(not(feature = "framed"))]
pub const ECHO_RX: usize = 2048;
/// The framed image's echo window: half, so that its files and chat
/// buffers (~12 KiB) fit the same 48 KiB RAM budget. Echo stays correct,
/// only a long stream needs more round trips.
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
/// Most frames taken in by one [`App::poll`]; the rest wait for the next.
const INGRESS_BURST: usize = 16;
/// Number of sockets the application opens: the size of its
/// [`SocketStorage`] array.
pub const SOCKETS: usize = ECHO_SLOTS + RFC868_SLOTS + 4 + FRAMED_SOCKETS;
#[cfg(feature = "framed")]
const FRAMED_SOCKETS: usize = framed::SOCKETS;
#[cfg(not(feature = "framed"))]
const FRAMED_SOCKETS: usize = 0;

/// The socket table [`App::new`] fills ([`init_sockets`] makes an empty
/// one); separate from [`Buffers`] because it borrows them.
pub type Sockets<'a> = [SocketStorage<'a>; SOCKETS];

/// A monotonic millisecond clock (SysTick, a hardware timer, or the host).
pub trait Clock {
    /// Milliseconds since an arbitrary start; never goes backwards.
    fn now_ms(&mut self) -> u64;
}

/// Where the application sits on the network.
#[derive(Debug, Clone, Copy)]
pub struct NetConfig {
    /// The interface's Ethernet address.
    pub mac: [u8; 6],
    /// The interface's IPv4 address.
    pub ip: Ipv4Address,
    /// Prefix length of the local subnet.
    pub prefix_len: u8,
    /// Default gateway, if any.
    pub gateway: Option<Ipv4Address>,
    /// RFC 868 (TCP) server the wall clock is synchronised from.
    pub time_server: (Ipv4Address, u16),
    /// Time between successful syncs.
    pub sync_interval_ms: u64,
    /// `Some(ms)`: ask DHCP for the address first and fall back to `ip`
    /// after this long without a lease; `None`: use `ip` from the start.
    pub dhcp_fallback_ms: Option<u64>,
    /// Seed for TCP initial sequence numbers and ephemeral ports; use a
    /// hardware random number where the board has one.
    pub random_seed: u64,
}

/// Every socket buffer the application uses, sized by the constants above.
/// About 29 KiB (with `framed`: 21 KiB of echo and UDP plus the framed
/// services' 10 KiB); [`Buffers::init`] builds it in static memory.
pub struct Buffers {
    echo_rx: [[u8; ECHO_RX]; ECHO_SLOTS],
    echo_tx: [[u8; ECHO_TX]; ECHO_SLOTS],
    rfc868_rx: [[u8; 16]; RFC868_SLOTS],
    rfc868_tx: [[u8; 16]; RFC868_SLOTS],
    sync_rx: [u8; 16],
    sync_tx: [u8; 16],
    udp_echo: UdpBuffers,
    udp_time: UdpBuffers,
    #[cfg(feature = "framed")]
    framed: MaybeUninit<framed::FramedBuffers>,
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

impl Buffers {
    /// Builds the buffers in `slot` (on a board: an uninitialised `static`
    /// in `.bss`, e.g. `static_cell::StaticCell::uninit`) and returns them.
    ///
    /// In place on purpose: a `Buffers::new()` value would be built on the
    /// stack and copied (~29 KiB of stack at boot), and a `const` one lands
    /// in `.data` (flash and RAM) because the UDP metadata is not all-zero.
    pub fn init(slot: &mut MaybeUninit<Buffers>) -> &mut Buffers {
        let p = slot.as_mut_ptr();
        // SAFETY: `p` is valid for writes of one `Buffers`. All-zero bytes
        // are valid for every field except the UDP packet metadata, which
        // is then written element by element, and the framed services'
        // state, which `init_zeroed` writes; after that every field holds
        // a valid value, so `assume_init_mut` is sound.
        unsafe {
            p.cast::<u8>().write_bytes(0, size_of::<Buffers>());
            for udp in [addr_of_mut!((*p).udp_echo), addr_of_mut!((*p).udp_time)] {
                for meta in [addr_of_mut!((*udp).rx_meta), addr_of_mut!((*udp).tx_meta)] {
                    let first = meta.cast::<udp::PacketMetadata>();
                    for i in 0..UDP_META {
                        first.add(i).write(udp::PacketMetadata::EMPTY);
                    }
                }
            }
            #[cfg(feature = "framed")]
            framed::FramedBuffers::init_zeroed(&mut *addr_of_mut!((*p).framed));
            slot.assume_init_mut()
        }
    }
}

/// Fills an empty socket table in `slot` (like [`Buffers::init`], in
/// place: a `const` table is a ~3 KiB constant in flash copied through the
/// stack) and returns it.
pub fn init_sockets<'s, 'a>(slot: &'s mut MaybeUninit<Sockets<'a>>) -> &'s mut Sockets<'a> {
    fill_in_place(slot, || SocketStorage::EMPTY)
}

/// Writes `make()` into every element of the array in `slot`, one element
/// at a time (never the whole array through the stack), and returns it.
pub fn fill_in_place<T, const N: usize>(
    slot: &mut MaybeUninit<[T; N]>,
    mut make: impl FnMut() -> T,
) -> &mut [T; N] {
    let first = slot.as_mut_ptr().cast::<T>();
    // SAFETY: an array's elements are laid out contiguously from its start,
    // so `first.add(i)` for i < N stays inside `slot`; once every element
    // is written the array is initialised.
    unsafe {
        for i in 0..N {
            first.add(i).write(make());
        }
        slot.assume_init_mut()
    }
}

/// Something worth a log line, reported by [`App::poll`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The wall clock was set from the time server (Unix seconds).
    Synced(i64),
    /// A sync attempt failed; the next one follows shortly.
    SyncFailed,
    /// The interface's address was set or changed.
    Address(Address),
}

/// The running application: interface, sockets and wall clock.
pub struct App<'a, C: Clock> {
    iface: Interface,
    sockets: SocketSet<'a>,
    clock: C,
    echo: [SocketHandle; ECHO_SLOTS],
    echo_idle_since: [u64; ECHO_SLOTS],
    echo_half_open: [Option<u64>; ECHO_SLOTS],
    rfc868: [SocketHandle; RFC868_SLOTS],
    rfc868_half_open: [Option<u64>; RFC868_SLOTS],
    udp_echo: SocketHandle,
    udp_time: SocketHandle,
    #[cfg(feature = "framed")]
    framed: framed::Framed<'a>,
    sync: sync::Sync,
    dhcp: dhcp::Dhcp,
}

impl<'a, C: Clock> App<'a, C> {
    /// Brings the interface up on `device` and opens every service socket.
    ///
    /// Not inlined, for the same reason as [`App::ingress`]: the interface
    /// and sockets are built on the stack and moved, and those temporaries
    /// should end with this call instead of widening the caller's frame.
    #[inline(never)]
    pub fn new<D: Device + ?Sized>(
        net: NetConfig,
        device: &mut D,
        mut clock: C,
        bufs: &'a mut Buffers,
        storage: &'a mut Sockets<'a>,
    ) -> Self {
        let now = Instant::from_millis(clock.now_ms() as i64);
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(net.mac)));
        config.random_seed = net.random_seed;
        let mut iface = Interface::new(config, device, now);

        let Buffers {
            echo_rx,
            echo_tx,
            rfc868_rx,
            rfc868_tx,
            sync_rx,
            sync_tx,
            udp_echo,
            udp_time,
            #[cfg(feature = "framed")]
            framed,
        } = bufs;
        let mut sockets = SocketSet::new(&mut storage[..]);
        let mut echo = [SocketHandle::default(); ECHO_SLOTS];
        for ((h, rx), tx) in echo.iter_mut().zip(echo_rx).zip(echo_tx) {
            *h = sockets.add(tcp_socket(rx, tx));
        }
        let mut rfc868 = [SocketHandle::default(); RFC868_SLOTS];
        for ((h, rx), tx) in rfc868.iter_mut().zip(rfc868_rx).zip(rfc868_tx) {
            *h = sockets.add(tcp_socket(rx, tx));
        }
        let sync_socket = sockets.add(tcp_socket(sync_rx, sync_tx));
        let udp_echo = sockets.add(udp_echo.socket());
        let udp_time = sockets.add(udp_time.socket());
        #[cfg(feature = "framed")]
        let framed = framed::Framed::new(framed_buffers(framed), &mut sockets);
        let sync = sync::Sync::new(sync_socket, &net, now);
        let dhcp = dhcp::Dhcp::new(&net, &mut iface, &mut sockets, clock.now_ms());

        let mut app = App {
            iface,
            sockets,
            clock,
            echo,
            echo_idle_since: [0; ECHO_SLOTS],
            echo_half_open: [None; ECHO_SLOTS],
            rfc868,
            rfc868_half_open: [None; RFC868_SLOTS],
            udp_echo,
            udp_time,
            #[cfg(feature = "framed")]
            framed,
            sync,
            dhcp,
        };
        app.open_listeners();
        app
    }

    /// Moves packets and serves every socket once. Returns what happened
    /// worth logging and how long the caller may sleep before the next call
    /// if no frame arrives (`None`: until a frame arrives).
    pub fn poll<D: Device + ?Sized>(
        &mut self,
        device: &mut D,
    ) -> (Option<Event>, Option<Duration>) {
        let now_ms = self.clock.now_ms();
        let now = Instant::from_millis(now_ms as i64);
        self.ingress(device, now, now_ms);
        self.tend_listeners(now_ms);
        self.iface.poll_egress(now, device, &mut self.sockets);
        self.serve(now_ms);
        // An address change is reported alone; the sync client steps on
        // the next call (one event per call, none lost).
        let event = match self.dhcp.step(&mut self.iface, &mut self.sockets, now_ms) {
            Some(address) => Some(Event::Address(address)),
            None => self.sync.step(now, &mut self.iface, &mut self.sockets),
        };
        // Send what the services just queued without waiting a round.
        self.iface.poll_egress(now, device, &mut self.sockets);
        (event, self.iface.poll_delay(now, &self.sockets))
    }

    /// Takes in up to [`INGRESS_BURST`] frames, one at a time, each looked
    /// at before smoltcp sees it: a SYN finds a listening slot even when
    /// forged SYNs hold the others (see half_open.rs). Frames left over
    /// are taken next call.
    ///
    /// Not inlined, like [`App::serve`]: the frame copy (1514 B) then
    /// shares its stack with the services' buffers instead of adding to
    /// them in one large frame of `poll` (the stack budget counts the
    /// peak).
    #[inline(never)]
    fn ingress<D: Device + ?Sized>(&mut self, device: &mut D, now: Instant, now_ms: u64) {
        let mut frame = [0u8; replay::FRAME_MAX];
        for _ in 0..INGRESS_BURST {
            let Some(len) = take_frame(device, now, &mut frame) else {
                break;
            };
            if let Some(port) = half_open::syn_port(&frame[..len]) {
                self.make_room(port);
            }
            let mut replay = replay::Replay {
                frame: Some(&frame[..len]),
                dev: &mut *device,
            };
            self.iface
                .poll_ingress_single(now, &mut replay, &mut self.sockets);
            self.tend_listeners(now_ms);
        }
    }

    /// The application's millisecond clock (for the board's own timers).
    pub fn now_ms(&mut self) -> u64 {
        self.clock.now_ms()
    }

    /// The wall clock in Unix seconds, once synchronised.
    pub fn unix_time(&mut self) -> Option<i64> {
        let now = self.clock.now_ms();
        self.sync.unix_at(now)
    }

    fn open_listeners(&mut self) {
        for h in self.echo {
            services::relisten(self.sockets.get_mut::<tcp::Socket>(h), ECHO_PORT);
        }
        for h in self.rfc868 {
            services::relisten(self.sockets.get_mut::<tcp::Socket>(h), RFC868_PORT);
        }
        // Binding fails only for port 0; these are constants.
        let _ = self
            .sockets
            .get_mut::<udp::Socket>(self.udp_echo)
            .bind(ECHO_PORT);
        let _ = self
            .sockets
            .get_mut::<udp::Socket>(self.udp_time)
            .bind(STRFTIME_PORT);
    }

    /// The slots of `port` with the sockets they live in.
    fn slots(&mut self, port: u16) -> Option<(&mut SocketSet<'a>, half_open::Slots<'_>)> {
        let (handles, since): (&mut [SocketHandle], &mut [Option<u64>]) = match port {
            ECHO_PORT => (&mut self.echo, &mut self.echo_half_open),
            RFC868_PORT => (&mut self.rfc868, &mut self.rfc868_half_open),
            #[cfg(feature = "framed")]
            framed::FILES_PORT | framed::CHAT_PORT => self.framed.slots(port)?,
            _ => return None,
        };
        let slots = half_open::Slots {
            handles,
            since,
            port,
        };
        Some((&mut self.sockets, slots))
    }

    fn make_room(&mut self, port: u16) {
        if let Some((sockets, slots)) = self.slots(port) {
            half_open::make_room(sockets, slots);
        }
    }

    fn tend_listeners(&mut self, now_ms: u64) {
        for port in [ECHO_PORT, RFC868_PORT] {
            if let Some((sockets, slots)) = self.slots(port) {
                half_open::tend(sockets, slots, now_ms);
            }
        }
        // The framed services put their slots back into listening
        // themselves; here they only lose what is half-open too long.
        #[cfg(feature = "framed")]
        for port in [framed::FILES_PORT, framed::CHAT_PORT] {
            if let Some((sockets, mut slots)) = self.slots(port) {
                half_open::expire(sockets, &mut slots, now_ms);
            }
        }
    }
    /// One round of every service. Each service with a stack buffer is a
    /// function of its own (not inlined), so their buffers share one
    /// region of the stack instead of adding up.
    #[inline(never)]
    fn serve(&mut self, now_ms: u64) {
        for (h, idle) in self.echo.iter().zip(self.echo_idle_since.iter_mut()) {
            services::tcp_echo(self.sockets.get_mut::<tcp::Socket>(*h), now_ms, idle);
        }
        let unix = self.sync.unix_at(now_ms);
        for h in &self.rfc868 {
            services::rfc868_serve(self.sockets.get_mut::<tcp::Socket>(*h), unix);
        }
        services::udp_echo(self.sockets.get_mut::<udp::Socket>(self.udp_echo));
        services::udp_time(self.sockets.get_mut::<udp::Socket>(self.udp_time), unix);
        #[cfg(feature = "framed")]
        self.framed.serve(&mut self.sockets, now_ms, unix);
    }
}

/// Copies the device's next frame into `buf`; `None` when there is none,
/// or when there is no room to answer it yet (the frame stays queued).
/// Longer frames are cut to `buf` and then fail smoltcp's length checks.
fn take_frame<D: Device + ?Sized>(device: &mut D, now: Instant, buf: &mut [u8]) -> Option<usize> {
    let (rx, _tx) = device.receive(now)?;
    Some(rx.consume(|f| {
        let n = f.len().min(buf.len());
        buf[..n].copy_from_slice(&f[..n]);
        n
    }))
}

/// The framed services' part of [`Buffers`], initialised by
/// [`Buffers::init`].
#[cfg(feature = "framed")]
fn framed_buffers(slot: &mut MaybeUninit<framed::FramedBuffers>) -> &mut framed::FramedBuffers {
    // SAFETY: every `Buffers` comes from `Buffers::init`, which zeroed
    // this field and ran `FramedBuffers::init_zeroed` on it.
    unsafe { slot.assume_init_mut() }
}

fn tcp_socket<'b>(rx: &'b mut [u8], tx: &'b mut [u8]) -> tcp::Socket<'b> {
    let mut s = tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
    // A peer that vanishes without FIN is dropped after this long without
    // an acknowledgement, freeing its slot.
    s.set_timeout(Some(Duration::from_secs(20)));
    s.set_keep_alive(Some(Duration::from_secs(10)));
    s
}
