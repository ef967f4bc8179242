//! The firmware application on the host, without emulation: the `App`
//! talks over a pair of in-memory Ethernet devices to a second smoltcp
//! interface playing the clients and the RFC 868 time server. A manual
//! clock advances 1 ms per step, so every run is deterministic.
//! The echo/time image's services (feature `echo-time`, on by default).
#![cfg(feature = "echo-time")]

mod common;

use common::*;

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
