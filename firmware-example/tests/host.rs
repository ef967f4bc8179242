//! The firmware application on the host, without emulation: the `App`
//! talks over a pair of in-memory Ethernet devices to a second smoltcp
//! interface playing the clients and the RFC 868 time server. A manual
//! clock advances 1 ms per step, so every run is deterministic.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, IpAddress, IpCidr, IpEndpoint, IpProtocol,
    Ipv4Address, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
};
use wirekit_core::service::time::rfc868;
use wirekit_firmware_example::{
    init_sockets, App, Buffers, Clock, Event, NetConfig, Sockets, ECHO_SLOTS, HALF_OPEN_MS,
};

const APP_IP: Ipv4Address = Ipv4Address::new(10, 0, 2, 15);
const PEER_IP: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);
const TIME_SERVER_IP: Ipv4Address = Ipv4Address::new(10, 0, 2, 100);
/// The time the test's RFC 868 server hands out (2025-06-15 15:06:40 UTC).
const SERVER_UNIX: i64 = 1_750_000_000;
/// Upper bound on simulated milliseconds for any one wait.
const STEP_LIMIT: u32 = 60_000;

type Queue = Rc<RefCell<VecDeque<Vec<u8>>>>;

/// One end of an in-memory Ethernet cable.
struct End {
    rx: Queue,
    tx: Queue,
}

struct RxTok(Vec<u8>);
struct TxTok(Queue);

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
struct TestClock(Rc<Cell<u64>>);

impl Clock for TestClock {
    fn now_ms(&mut self) -> u64 {
        self.0.get()
    }
}

/// The app, its device, and the peer interface with its sockets.
struct Net {
    app: App<'static, TestClock>,
    app_dev: End,
    peer: Interface,
    peer_dev: End,
    sockets: SocketSet<'static>,
    ms: Rc<Cell<u64>>,
    events: Vec<Event>,
    time_server: Option<SocketHandle>,
    /// What the test's time server sends before closing.
    time_reply: Vec<u8>,
    /// SYN-ACKs the app sent to forged (198.51.100.0/24) clients so far.
    forged_synacks: usize,
}

fn leak<T>(v: T) -> &'static mut T {
    Box::leak(Box::new(v))
}

impl Net {
    fn new() -> Net {
        Net::with_sync_interval(600_000)
    }

    fn with_sync_interval(sync_interval_ms: u64) -> Net {
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
    fn step(&mut self) {
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

    fn run_until(&mut self, what: &str, mut done: impl FnMut(&mut Net) -> bool) {
        for _ in 0..STEP_LIMIT {
            if done(self) {
                return;
            }
            self.step();
        }
        panic!("timed out waiting for {what}");
    }

    fn start_time_server(&mut self) {
        let mut s = tcp_socket(64);
        s.listen((TIME_SERVER_IP, 37)).unwrap();
        self.time_server = Some(self.sockets.add(s));
    }

    fn sync(&mut self) {
        self.start_time_server();
        self.run_until("clock sync", |n| n.app.unix_time().is_some());
    }

    fn tcp_connect(&mut self, port: u16, local: u16) -> SocketHandle {
        let mut s = tcp_socket(4096);
        s.connect(self.peer.context(), (APP_IP, port), local)
            .unwrap();
        self.sockets.add(s)
    }

    fn udp_request(&mut self, port: u16, payload: &[u8]) -> Vec<u8> {
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

fn tcp_socket(size: usize) -> tcp::Socket<'static> {
    tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; size].leak()),
        tcp::SocketBuffer::new(vec![0; size].leak()),
    )
}

fn udp_buf() -> udp::PacketBuffer<'static> {
    udp::PacketBuffer::new(
        vec![udp::PacketMetadata::EMPTY; 4].leak(),
        vec![0; 4096].leak(),
    )
}

/// Mixed-case payload with non-ASCII bytes, unique per client.
fn payload(client: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b"aZ9 \xe4\xbd\xa0qwerty\n"[(i + client) % 14])
        .collect()
}

#[test]
fn tcp_echo_serves_every_slot_at_once_and_resets_the_extra_client() {
    let mut n = Net::new();
    let clients: Vec<_> = (0..ECHO_SLOTS)
        .map(|i| n.tcp_connect(7, 50_000 + i as u16))
        .collect();
    n.run_until("all clients established", |n| {
        clients
            .iter()
            .all(|h| n.sockets.get::<tcp::Socket>(*h).state() == tcp::State::Established)
    });
    let extra = n.tcp_connect(7, 51_000);
    n.run_until("extra client refused", |n| {
        n.sockets.get::<tcp::Socket>(extra).state() == tcp::State::Closed
    });

    let sent: Vec<Vec<u8>> = (0..ECHO_SLOTS).map(|i| payload(i, 20_000)).collect();
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); ECHO_SLOTS];
    let mut off = [0usize; ECHO_SLOTS];
    n.run_until("all echoes", |n| {
        for (i, h) in clients.iter().enumerate() {
            let s = n.sockets.get_mut::<tcp::Socket>(*h);
            off[i] += s.send_slice(&sent[i][off[i]..]).unwrap();
            let mut buf = [0u8; 4096];
            let k = s.recv_slice(&mut buf).unwrap();
            got[i].extend_from_slice(&buf[..k]);
        }
        (0..ECHO_SLOTS).all(|i| got[i].len() == sent[i].len())
    });
    for i in 0..ECHO_SLOTS {
        assert_eq!(got[i], sent[i].to_ascii_uppercase(), "client {i}");
    }

    // A client that closes gets the rest of its echo and the server's FIN,
    // and its slot serves a new client.
    n.sockets.get_mut::<tcp::Socket>(clients[0]).close();
    n.run_until("server closes after client", |n| {
        !n.sockets.get::<tcp::Socket>(clients[0]).may_recv()
    });
    let again = n.tcp_connect(7, 51_001);
    n.run_until("new client in freed slot", |n| {
        n.sockets.get::<tcp::Socket>(again).state() == tcp::State::Established
    });
    n.sockets
        .get_mut::<tcp::Socket>(again)
        .send_slice(b"again")
        .unwrap();
    let mut buf = [0u8; 16];
    let mut k = 0;
    n.run_until("echo on reused slot", |n| {
        k += n
            .sockets
            .get_mut::<tcp::Socket>(again)
            .recv_slice(&mut buf[k..])
            .unwrap();
        k == 5
    });
    assert_eq!(&buf[..5], b"AGAIN");
}

#[test]
fn udp_echo_uppercases_each_datagram() {
    let mut n = Net::new();
    assert_eq!(
        n.udp_request(7, b"hello, \xe4\xbd\xa0 World"),
        b"HELLO, \xe4\xbd\xa0 WORLD"
    );
    let big = payload(3, wirekit_firmware_example::UDP_MAX);
    assert_eq!(n.udp_request(7, &big), big.to_ascii_uppercase());
}

#[test]
fn time_services_refuse_before_sync_and_follow_the_server_after() {
    let mut n = Net::new();
    assert_eq!(n.udp_request(13, b"%Y"), b"error: clock not synchronised");
    n.sync();
    assert!(
        n.events.contains(&Event::Synced(SERVER_UNIX)),
        "{:?}",
        n.events
    );
    let unix = n.app.unix_time().unwrap();
    assert!((SERVER_UNIX..SERVER_UNIX + 60).contains(&unix), "{unix}");

    let reply = n.udp_request(13, b"%Y-%m-%d %H:%M");
    assert_eq!(reply, b"2025-06-15 15:06");
    let reply = n.udp_request(13, b"");
    assert!(reply.starts_with(b"2025-06-15 15:0"), "{reply:?}");
    assert_eq!(reply.len(), "2025-06-15 15:06:40".len());
    let reply = n.udp_request(13, b"%Y\0");
    assert!(reply.starts_with(b"error: "), "{reply:?}");
    let reply = n.udp_request(13, &[b'%'; 1400]);
    assert!(reply.starts_with(b"error: "), "{reply:?}");

    // The RFC 868 server answers with the synced clock and closes.
    let h = n.tcp_connect(37, 52_000);
    n.run_until("rfc868 answer and close", |n| {
        let s = n.sockets.get::<tcp::Socket>(h);
        s.recv_queue() == 4 && s.state() == tcp::State::CloseWait
    });
    let mut b = [0u8; 4];
    n.sockets
        .get_mut::<tcp::Socket>(h)
        .recv_slice(&mut b)
        .unwrap();
    let got = wirekit_core::service::time::unix_from_rfc868(b, SERVER_UNIX);
    assert!((SERVER_UNIX..SERVER_UNIX + 60).contains(&got), "{got}");
}

#[test]
fn sync_failure_is_reported_and_retried() {
    let mut n = Net::new();
    // Nobody listens on 10.0.2.100:37 yet: the peer stack answers RST.
    n.run_until("a failed sync", |n| n.events.contains(&Event::SyncFailed));
    assert_eq!(n.app.unix_time(), None);
    n.sync();
    assert!(n.events.contains(&Event::Synced(SERVER_UNIX)));
}

#[test]
fn clock_is_resynchronised_every_interval() {
    let mut n = Net::with_sync_interval(5_000);
    n.sync();
    let first_sync_ms = n.ms.get();
    // The server's clock jumps; the next periodic sync must follow it.
    n.time_reply = rfc868(SERVER_UNIX + 3_600).to_vec();
    n.run_until("second sync", |n| {
        n.app.unix_time().is_some_and(|t| t >= SERVER_UNIX + 3_600)
    });
    let waited = n.ms.get() - first_sync_ms;
    assert!(
        (5_000..6_000).contains(&waited),
        "resynced after {waited} ms"
    );
    assert!(n.events.contains(&Event::Synced(SERVER_UNIX + 3_600)));
}

#[test]
fn sync_rejects_wrong_length_and_implausible_answers() {
    let one_year_before_build = rfc868(1_704_067_200 - 365 * 86_400);
    for reply in [
        b"2026/11/22 08:52:41 socat[1] E connect: refused\n".to_vec(),
        rfc868(SERVER_UNIX)[..3].to_vec(),
        [&rfc868(SERVER_UNIX)[..], b"\n"].concat(),
        one_year_before_build.to_vec(),
    ] {
        let mut n = Net::new();
        n.time_reply = reply.clone();
        n.start_time_server();
        n.run_until("a rejected sync", |n| n.events.contains(&Event::SyncFailed));
        assert_eq!(n.app.unix_time(), None, "accepted {reply:?}");
    }
}

#[test]
fn garbage_frames_are_dropped_and_echo_still_works() {
    let mut n = Net::new();
    let junk: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff; 5],
        // Broadcast Ethernet header claiming IPv4, truncated body.
        [
            &[0xff; 6][..],
            &[2, 0, 0, 0, 0, 2],
            &[0x08, 0x00, 0x45, 0x00],
        ]
        .concat(),
        // To the app's MAC: IPv4 with a bogus length and checksum.
        [
            &[2, 0, 0, 0, 0, 0x15][..],
            &[2, 0, 0, 0, 0, 2],
            &[0x08, 0x00],
            &[0x4f; 60],
        ]
        .concat(),
        // ARP with a wrong hardware length.
        [
            &[0xff; 6][..],
            &[2, 0, 0, 0, 0, 2],
            &[0x08, 0x06],
            &[0, 1, 8, 0, 9, 4, 0, 1],
        ]
        .concat(),
        vec![0xa5; 1514],
    ];
    for frame in junk {
        n.app_dev.rx.borrow_mut().push_back(frame);
        n.step();
    }
    assert_eq!(n.udp_request(7, b"still alive"), b"STILL ALIVE");
}

/// A SYN from 198.51.100.`n` (off the subnet: the app answers through the
/// gateway, where nobody completes the handshake) to the app's `port`.
fn forged_syn(n: u8, port: u16) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port: 30_000 + u16::from(n),
        dst_port: port,
        control: TcpControl::Syn,
        seq_number: TcpSeqNumber(1000),
        ack_number: None,
        window_len: 1024,
        window_scale: None,
        max_seg_size: Some(1460),
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload: &[],
    };
    let (src, dst) = (Ipv4Address::new(198, 51, 100, n), APP_IP);
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
    };
    let mut frame = vec![0; 14 + 20 + tcp.buffer_len()];
    let mut eth = EthernetFrame::new_unchecked(&mut frame);
    eth.set_dst_addr(EthernetAddress([2, 0, 0, 0, 0, 0x15]));
    eth.set_src_addr(EthernetAddress([2, 0, 0, 0, 0, 2]));
    eth.set_ethertype(EthernetProtocol::Ipv4);
    let caps = ChecksumCapabilities::default();
    let mut pkt = Ipv4Packet::new_unchecked(&mut frame[14..]);
    ip.emit(&mut pkt, &caps);
    let mut seg = TcpPacket::new_unchecked(&mut frame[34..]);
    tcp.emit(&mut seg, &src.into(), &dst.into(), &caps);
    frame
}

fn is_forged_synack(frame: &[u8]) -> bool {
    let Ok(ip) = Ipv4Packet::new_checked(frame.get(14..).unwrap_or_default()) else {
        return false;
    };
    let forged = ip.dst_addr().octets()[..3] == [198, 51, 100];
    let Ok(tcp) = TcpPacket::new_checked(ip.payload()) else {
        return false;
    };
    forged && tcp.syn() && tcp.ack()
}

#[test]
fn forged_syns_on_every_slot_do_not_lock_out_a_genuine_client() {
    let mut n = Net::new();
    for i in 0..ECHO_SLOTS as u8 {
        n.app_dev.rx.borrow_mut().push_back(forged_syn(i + 1, 7));
        n.step();
    }
    n.run_until("SYN-ACKs to the forged clients", |n| {
        n.forged_synacks >= ECHO_SLOTS - 1
    });
    // The oldest half-open slot makes way, so the SYN finds a listener.
    let genuine = n.tcp_connect(7, 52_000);
    n.run_until("genuine client established or refused", |n| {
        let s = n.sockets.get::<tcp::Socket>(genuine);
        s.state() != tcp::State::SynSent
    });
    let s = n.sockets.get_mut::<tcp::Socket>(genuine);
    assert_eq!(s.state(), tcp::State::Established, "genuine client refused");
    s.send_slice(b"still served").unwrap();
    n.run_until("echo", |n| {
        n.sockets.get::<tcp::Socket>(genuine).recv_queue() == 12
    });
    let mut buf = [0u8; 12];
    n.sockets
        .get_mut::<tcp::Socket>(genuine)
        .recv_slice(&mut buf)
        .unwrap();
    assert_eq!(&buf, b"STILL SERVED");
}

#[test]
fn half_open_connections_are_dropped_after_two_seconds() {
    let mut n = Net::new();
    for i in 0..2 {
        n.app_dev.rx.borrow_mut().push_back(forged_syn(i + 1, 7));
        n.app_dev.rx.borrow_mut().push_back(forged_syn(i + 11, 37));
    }
    n.run_until("SYN-ACKs to the forged clients", |n| n.forged_synacks >= 4);
    let first = n.forged_synacks;
    // smoltcp retransmits an unanswered SYN-ACK after 1 s, 3 s, 7 s, ...
    // while the socket lives; aborted after HALF_OPEN_MS it sends no more
    // after that.
    for _ in 0..HALF_OPEN_MS + 100 {
        n.step();
    }
    let at_deadline = n.forged_synacks;
    for _ in 0..10_000 {
        n.step();
    }
    assert!(at_deadline > first, "no SYN-ACK retransmission seen at all");
    assert_eq!(
        n.forged_synacks, at_deadline,
        "half-open sockets still alive after {HALF_OPEN_MS} ms"
    );
}
