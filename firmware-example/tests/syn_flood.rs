//! SYN floods against the application on the host (harness: tests/common):
//! forged SYNs go straight into the app's receive queue, from sources
//! nobody answers for, while a genuine peer connects.
//! The echo/time image's services (feature `echo-time`, on by default).
#![cfg(feature = "echo-time")]

mod common;

use common::*;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Repr, TcpControl, TcpRepr, TcpSeqNumber,
};
use wirekit_firmware_example::HALF_OPEN_MS;

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
