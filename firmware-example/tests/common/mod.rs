//! The harness the host tests share: the firmware application on the
//! host, without emulation. The `App` talks over a pair of in-memory
//! Ethernet devices to a second smoltcp interface playing the clients and
//! the RFC 868 time server; a manual clock advances 1 ms per step, so every
//! run is deterministic. Each test file uses a part of it.
#![allow(dead_code, unused_imports)]

pub use std::cell::{Cell, RefCell};
pub use std::collections::VecDeque;
pub use std::rc::Rc;

pub use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
pub use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
pub use smoltcp::socket::{tcp, udp};
pub use smoltcp::time::Instant;
pub use smoltcp::wire::{
    EthernetAddress, IpAddress, IpCidr, IpEndpoint, Ipv4Address, Ipv4Packet, TcpPacket,
};
pub use wirekit_core::service::time::rfc868;
#[cfg(feature = "echo-time")]
pub use wirekit_firmware_example::ECHO_SLOTS;
pub use wirekit_firmware_example::{init_sockets, App, Buffers, Clock, Event, NetConfig, Sockets};

pub const APP_IP: Ipv4Address = Ipv4Address::new(10, 0, 2, 15);
pub const PEER_IP: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);
pub const TIME_SERVER_IP: Ipv4Address = Ipv4Address::new(10, 0, 2, 100);
/// The time the test's RFC 868 server hands out (2025-06-15 15:06:40 UTC).
pub const SERVER_UNIX: i64 = 1_750_000_000;
/// Upper bound on simulated milliseconds for any one wait.
pub const STEP_LIMIT: u32 = 60_000;

pub type Queue = Rc<RefCell<VecDeque<Vec<u8>>>>;

/// One end of an in-memory Ethernet cable.
pub struct End {
    pub rx: Queue,
    pub tx: Queue,
}

pub struct RxTok(Vec<u8>);
pub struct TxTok(Queue);

impl phy::RxToken for RxTok {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for TxTok {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        self.0.borrow_mut().push_back(frame);
        r
    }
}

impl Device for End {
    type RxToken<'a> = RxTok;
    type TxToken<'a> = TxTok;

    fn receive(&mut self, _: Instant) -> Option<(RxTok, TxTok)> {
        let frame = self.rx.borrow_mut().pop_front()?;
        Some((RxTok(frame), TxTok(self.tx.clone())))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxTok> {
        Some(TxTok(self.tx.clone()))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}

#[derive(Clone)]
pub struct TestClock(pub Rc<Cell<u64>>);

impl Clock for TestClock {
    fn now_ms(&mut self) -> u64 {
        self.0.get()
    }
}

/// The app, its device, and the peer interface with its sockets.
pub struct Net {
    pub app: App<'static, TestClock>,
    pub app_dev: End,
    pub peer: Interface,
    pub peer_dev: End,
    pub sockets: SocketSet<'static>,
    pub ms: Rc<Cell<u64>>,
    pub events: Vec<Event>,
    pub time_server: Option<SocketHandle>,
    /// What the test's time server sends before closing.
    pub time_reply: Vec<u8>,
    /// SYN-ACKs the app sent to forged (198.51.100.0/24) clients so far.
    pub forged_synacks: usize,
}

pub fn leak<T>(v: T) -> &'static mut T {
    Box::leak(Box::new(v))
}

impl Net {
    pub fn new() -> Net {
        Net::with_sync_interval(600_000)
    }

    pub fn with_sync_interval(sync_interval_ms: u64) -> Net {
        let (a, b): (Queue, Queue) = Default::default();
        let mut app_dev = End {
            rx: a.clone(),
            tx: b.clone(),
        };
        let mut peer_dev = End { rx: b, tx: a };
        let ms = Rc::new(Cell::new(1));
        let net = NetConfig {
            mac: [0x02, 0, 0, 0, 0, 0x15],
            ip: APP_IP,
            prefix_len: 24,
            gateway: Some(PEER_IP),
            time_server: (TIME_SERVER_IP, 37),
            sync_interval_ms,
            dhcp_fallback_ms: None,
            random_seed: 7,
        };
        let storage: &'static mut Sockets<'static> = init_sockets(Box::leak(Box::new_uninit()));
        let bufs = Buffers::init(Box::leak(Box::new_uninit()));
        let app = App::new(net, &mut app_dev, TestClock(ms.clone()), bufs, storage);
        let mut config = Config::new(EthernetAddress([0x02, 0, 0, 0, 0, 0x02]).into());
        config.random_seed = 99;
        let mut peer = Interface::new(config, &mut peer_dev, Instant::from_millis(1));
        peer.update_ip_addrs(|a| {
            a.push(IpCidr::new(PEER_IP.into(), 24)).unwrap();
            a.push(IpCidr::new(TIME_SERVER_IP.into(), 24)).unwrap();
        });
        let storage: &'static mut [SocketStorage<'static>] = leak([SocketStorage::EMPTY; 16]);
        Net {
            app,
            app_dev,
            peer,
            peer_dev,
            sockets: SocketSet::new(&mut storage[..]),
            ms,
            events: Vec::new(),
            time_server: None,
            time_reply: rfc868(SERVER_UNIX).to_vec(),
            forged_synacks: 0,
        }
    }

    /// One simulated millisecond: both stacks poll, the time server serves.
    pub fn step(&mut self) {
        self.ms.set(self.ms.get() + 1);
        let (event, _) = self.app.poll(&mut self.app_dev);
        self.events.extend(event);
        let sent = self.peer_dev.rx.borrow();
        self.forged_synacks += sent.iter().filter(|f| is_forged_synack(f)).count();
        drop(sent);
        let now = Instant::from_millis(self.ms.get() as i64);
        self.peer.poll(now, &mut self.peer_dev, &mut self.sockets);
        if let Some(h) = self.time_server {
            let s = self.sockets.get_mut::<tcp::Socket>(h);
            if s.state() == tcp::State::Established && s.send_queue() == 0 {
                s.send_slice(&self.time_reply).unwrap();
                s.close();
            } else if !s.is_open() {
                s.abort();
                s.listen((TIME_SERVER_IP, 37)).unwrap();
            }
        }
    }

    pub fn run_until(&mut self, what: &str, mut done: impl FnMut(&mut Net) -> bool) {
        for _ in 0..STEP_LIMIT {
            if done(self) {
                return;
            }
            self.step();
        }
        panic!("timed out waiting for {what}");
    }

    pub fn start_time_server(&mut self) {
        let mut s = tcp_socket(64);
        s.listen((TIME_SERVER_IP, 37)).unwrap();
        self.time_server = Some(self.sockets.add(s));
    }

    pub fn sync(&mut self) {
        self.start_time_server();
        self.run_until("clock sync", |n| n.app.unix_time().is_some());
    }

    pub fn tcp_connect(&mut self, port: u16, local: u16) -> SocketHandle {
        let mut s = tcp_socket(4096);
        s.connect(self.peer.context(), (APP_IP, port), local)
            .unwrap();
        self.sockets.add(s)
    }

    pub fn udp_request(&mut self, port: u16, payload: &[u8]) -> Vec<u8> {
        let mut s = udp::Socket::new(udp_buf(), udp_buf());
        s.bind((PEER_IP, 40_000 + port)).unwrap();
        s.send_slice(payload, IpEndpoint::new(IpAddress::Ipv4(APP_IP), port))
            .unwrap();
        let h = self.sockets.add(s);
        self.run_until("udp reply", |n| n.sockets.get::<udp::Socket>(h).can_recv());
        let mut out = vec![0; 2048];
        let (len, _) = self
            .sockets
            .get_mut::<udp::Socket>(h)
            .recv_slice(&mut out)
            .unwrap();
        out.truncate(len);
        self.sockets.remove(h);
        out
    }
}

pub fn tcp_socket(size: usize) -> tcp::Socket<'static> {
    tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; size].leak()),
        tcp::SocketBuffer::new(vec![0; size].leak()),
    )
}

pub fn udp_buf() -> udp::PacketBuffer<'static> {
    udp::PacketBuffer::new(
        vec![udp::PacketMetadata::EMPTY; 4].leak(),
        vec![0; 4096].leak(),
    )
}

/// Mixed-case payload with non-ASCII bytes, unique per client.
pub fn payload(client: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b"aZ9 \xe4\xbd\xa0qwerty\n"[(i + client) % 14])
        .collect()
}

/// Whether `frame` is a SYN-ACK to a forged (198.51.100.0/24) client.
pub fn is_forged_synack(frame: &[u8]) -> bool {
    let Ok(ip) = Ipv4Packet::new_checked(frame.get(14..).unwrap_or_default()) else {
        return false;
    };
    let forged = ip.dst_addr().octets()[..3] == [198, 51, 100];
    let Ok(tcp) = TcpPacket::new_checked(ip.payload()) else {
        return false;
    };
    forged && tcp.syn() && tcp.ack()
}
