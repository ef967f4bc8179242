//! The board-agnostic application: wirekit-core's services on an smoltcp
//! [`Interface`], generic over the network device
//! ([`smoltcp::phy::Device`]) and a millisecond [`Clock`].
//!
//! Services (guest ports, fixed like the classic inetd services). A board
//! runs one role, chosen by cargo feature: the default image is
//! `echo-time` (see `echo_time.rs`),
//!
//! | port    | service                                                      |
//! |---------|--------------------------------------------------------------|
//! | TCP 7   | upper-echo, `ECHO_SLOTS` clients at once                     |
//! | UDP 7   | upper-echo, one reply datagram per request                   |
//! | UDP 13  | the seeds' strftime time service (datagram = format, UTC)    |
//! | TCP 37  | RFC 868 time (4 bytes, seconds since 1900), then close       |
//!
//! the `framed` image (`--no-default-features`, see `framed.rs`):
//!
//! | port     | service                                                     |
//! |----------|-------------------------------------------------------------|
//! | TCP 8484 | `files`, read-only: files in flash, native protocol          |
//! | TCP 9999 | group chat room, 4 clients, seed 003 line format             |
//!
//! Both keep DHCP with the static fallback, the SYN-flood defence of their
//! listening slots and the wall clock (the chat stamps its lines with it).
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
#[cfg(feature = "echo-time")]
mod echo_time;
#[cfg(feature = "framed")]
mod files;
#[cfg(feature = "framed")]
pub mod framed;
mod half_open;
mod replay;
#[cfg(feature = "echo-time")]
mod services;
mod sync;

use core::mem::{size_of, MaybeUninit};
use core::ptr::addr_of_mut;

use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{Device, RxToken};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, Ipv4Address};

pub use dhcp::Address;
#[cfg(feature = "echo-time")]
pub use echo_time::{ECHO_RX, ECHO_SLOTS, ECHO_TX, RFC868_SLOTS, TIME_REPLY_MAX, UDP_MAX};
pub use half_open::HALF_OPEN_MS;
#[cfg(feature = "echo-time")]
pub use services::{ECHO_PORT, RFC868_PORT, STRFTIME_PORT};

/// Most frames taken in by one [`App::poll`]; the rest wait for the next.
const INGRESS_BURST: usize = 16;
/// Number of sockets the application opens: the size of its
/// [`SocketStorage`] array.
/// The sync client's and the DHCP client's sockets, then the services'.
pub const SOCKETS: usize = 2 + ECHO_TIME_SOCKETS + FRAMED_SOCKETS;
#[cfg(feature = "echo-time")]
const ECHO_TIME_SOCKETS: usize = echo_time::SOCKETS;
#[cfg(not(feature = "echo-time"))]
const ECHO_TIME_SOCKETS: usize = 0;
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

/// Every socket buffer the application uses: the echo/time services'
/// ~29 KiB (feature `echo-time`), the framed services' ~10 KiB (feature
/// `framed`) and the sync client's; [`Buffers::init`] builds it in static
/// memory.
pub struct Buffers {
    sync_rx: [u8; 16],
    sync_tx: [u8; 16],
    #[cfg(feature = "echo-time")]
    echo_time: echo_time::EchoTimeBuffers,
    #[cfg(feature = "framed")]
    framed: MaybeUninit<framed::FramedBuffers>,
}

impl Buffers {
    /// Builds the buffers in `slot` (on a board: an uninitialised `static`
    /// in `.bss`, e.g. `static_cell::StaticCell::uninit`) and returns them.
    ///
    /// In place on purpose: a `Buffers::new()` value would be built on the
    /// stack and copied (up to ~29 KiB of stack at boot), and a `const` one
    /// lands in `.data` (flash and RAM) because the UDP metadata is not
    /// all-zero.
    pub fn init(slot: &mut MaybeUninit<Buffers>) -> &mut Buffers {
        let p = slot.as_mut_ptr();
        // SAFETY: `p` is valid for writes of one `Buffers`. All-zero bytes
        // are valid for every field except the echo/time services' UDP
        // packet metadata and the framed services' state, which their
        // `init_zeroed` write; after that every field holds
        // a valid value, so `assume_init_mut` is sound.
        unsafe {
            p.cast::<u8>().write_bytes(0, size_of::<Buffers>());
            #[cfg(feature = "echo-time")]
            echo_time::EchoTimeBuffers::init_zeroed(addr_of_mut!((*p).echo_time));
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
    #[cfg(feature = "echo-time")]
    echo_time: echo_time::EchoTime,
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
            sync_rx,
            sync_tx,
            #[cfg(feature = "echo-time")]
            echo_time,
            #[cfg(feature = "framed")]
            framed,
        } = bufs;
        let mut sockets = SocketSet::new(&mut storage[..]);
        #[cfg(feature = "echo-time")]
        let echo_time = echo_time::EchoTime::new(echo_time, &mut sockets);
        let sync_socket = sockets.add(tcp_socket(sync_rx, sync_tx));
        #[cfg(feature = "framed")]
        let framed = framed::Framed::new(framed_buffers(framed), &mut sockets);
        let sync = sync::Sync::new(sync_socket, &net, clock.now_ms());
        let dhcp = dhcp::Dhcp::new(&net, &mut iface, &mut sockets, clock.now_ms());

        App {
            iface,
            sockets,
            clock,
            #[cfg(feature = "echo-time")]
            echo_time,
            #[cfg(feature = "framed")]
            framed,
            sync,
            dhcp,
        }
    }

    /// Moves packets and serves every socket once. Returns what happened
    /// worth logging, and whether a packet went out: then a socket may
    /// have more to send (smoltcp sends one packet per socket and round),
    /// so the caller polls again at once. Otherwise it may sleep until the
    /// next interrupt: a received frame, or the board's 1 ms tick, which
    /// bounds how late a smoltcp timer (retransmission, delayed ACK,
    /// keep-alive, DHCP) is served.
    ///
    /// Not smoltcp's `poll_delay`: with a 1 ms tick it only decided
    /// whether to skip one sleep, and it linked every socket's `poll_at`
    /// (0.9 KB of the framed image's flash).
    pub fn poll<D: Device + ?Sized>(&mut self, device: &mut D) -> (Option<Event>, bool) {
        let now_ms = self.clock.now_ms();
        let now = Instant::from_millis(now_ms as i64);
        self.ingress(device, now, now_ms);
        self.tend_listeners(now_ms);
        let sent = self.iface.poll_egress(now, device, &mut self.sockets);
        self.serve(now_ms);
        // An address change is reported alone; the sync client steps on
        // the next call (one event per call, none lost).
        let event = match self.dhcp.step(&mut self.iface, &mut self.sockets, now_ms) {
            Some(address) => Some(Event::Address(address)),
            None => self.sync.step(now_ms, &mut self.iface, &mut self.sockets),
        };
        // Send what the services just queued without waiting a round.
        let sent_after = self.iface.poll_egress(now, device, &mut self.sockets);
        let busy = [sent, sent_after].contains(&PollResult::SocketStateChanged);
        (event, busy)
    }

    /// Takes in up to [`INGRESS_BURST`] frames, one at a time, each looked
    /// at (in the device's own buffer) before smoltcp sees it: a SYN finds
    /// a listening slot even when forged SYNs hold the others (see
    /// half_open.rs). Frames left over are taken next call.
    ///
    /// Not inlined, like [`App::serve`]: smoltcp's receive path then
    /// shares its stack with the services' buffers instead of adding to
    /// them in one large frame of `poll` (the stack budget counts the
    /// peak).
    #[inline(never)]
    fn ingress<D: Device + ?Sized>(&mut self, device: &mut D, now: Instant, now_ms: u64) {
        let caps = device.capabilities();
        for _ in 0..INGRESS_BURST {
            // Without room to answer, the frame waits (smoltcp needs both).
            let Some((rx, tx)) = device.receive(now) else {
                break;
            };
            rx.consume(|frame| {
                if let Some(port) = half_open::syn_port(frame) {
                    self.make_room(port);
                }
                let mut replay = replay::Replay {
                    frame: Some((frame, tx)),
                    caps: &caps,
                };
                self.iface
                    .poll_ingress_single(now, &mut replay, &mut self.sockets);
            });
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

    /// The slots of `port` with the sockets they live in.
    fn slots(&mut self, port: u16) -> Option<(&mut SocketSet<'a>, half_open::Slots<'_>)> {
        let (handles, since): (&mut [SocketHandle], &mut [Option<u64>]) = match port {
            #[cfg(feature = "echo-time")]
            ECHO_PORT | RFC868_PORT => self.echo_time.slots(port)?,
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
        #[cfg(feature = "echo-time")]
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
        let unix = self.sync.unix_at(now_ms);
        #[cfg(feature = "echo-time")]
        self.echo_time.serve(&mut self.sockets, now_ms, unix);
        #[cfg(feature = "framed")]
        self.framed.serve(&mut self.sockets, now_ms, unix);
    }
}

/// The framed services' part of [`Buffers`], initialised by
/// [`Buffers::init`].
#[cfg(feature = "framed")]
fn framed_buffers(slot: &mut MaybeUninit<framed::FramedBuffers>) -> &mut framed::FramedBuffers {
    // SAFETY: every `Buffers` comes from `Buffers::init`, which zeroed
    // this field and ran `FramedBuffers::init_zeroed` on it.
    unsafe { slot.assume_init_mut() }
}

/// Hands `s`'s received bytes to `take`, which returns how many it used
/// (they leave the socket); returns that count, 0 if nothing could be
/// received. One instance of smoltcp's `recv` (generic over its closure,
/// its ring-buffer code inlined into each caller) for every service.
#[cfg(feature = "framed")]
#[inline(never)]
fn recv_into(s: &mut tcp::Socket<'_>, take: &mut dyn FnMut(&[u8]) -> usize) -> usize {
    s.recv(|input| {
        let n = take(input);
        (n, n)
    })
    .unwrap_or(0)
}

fn tcp_socket<'b>(rx: &'b mut [u8], tx: &'b mut [u8]) -> tcp::Socket<'b> {
    let mut s = tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
    // A peer that vanishes without FIN is dropped after this long without
    // an acknowledgement, freeing its slot.
    s.set_timeout(Some(Duration::from_secs(20)));
    s.set_keep_alive(Some(Duration::from_secs(10)));
    s
}
