//! The framed services (feature `framed`) on the host, over the same
//! in-memory Ethernet as tests/host.rs: files from flash with their md5,
//! refusals, the chat room's seats, its format, the busy line for a fifth
//! client and the slow-reader drop.
#![cfg(feature = "framed")]

mod common;

use common::*;
use md5::{Digest, Md5};
use wirekit_firmware_example::framed::{CHAT_PORT, CHAT_SEATS, FILES_PORT, FLASH_FILES};

fn request(json: &str) -> Vec<u8> {
    let mut v = (json.len() as u32).to_le_bytes().to_vec();
    v.extend_from_slice(json.as_bytes());
    v
}

/// Reads from `h` until `got` holds `want` frames; returns (JSON, body).
fn frames(n: &mut Net, h: SocketHandle, want: usize) -> Vec<(String, Vec<u8>)> {
    let mut got = Vec::new();
    let mut out = Vec::new();
    n.run_until("reply frames", |n| {
        let s = n.sockets.get_mut::<tcp::Socket>(h);
        let mut buf = [0u8; 2048];
        let k = s.recv_slice(&mut buf).unwrap_or(0);
        got.extend_from_slice(&buf[..k]);
        while got.len() >= 4 {
            let len = u32::from_le_bytes(got[..4].try_into().unwrap()) as usize;
            let Some(json) = got.get(4..4 + len) else {
                break;
            };
            let v: serde_json::Value = serde_json::from_slice(json).unwrap();
            let body = v["total_size"].as_u64().unwrap() as usize;
            let Some(b) = got.get(4 + len..4 + len + body) else {
                break;
            };
            out.push((String::from_utf8(json.to_vec()).unwrap(), b.to_vec()));
            got.drain(..4 + len + body);
        }
        out.len() >= want
    });
    out
}

fn connect(n: &mut Net, port: u16, local: u16) -> SocketHandle {
    let h = n.tcp_connect(port, local);
    // Established, or already past it (a refusal closes at once).
    n.run_until("connected", |n| {
        let st = n.sockets.get::<tcp::Socket>(h).state();
        !matches!(st, tcp::State::SynSent | tcp::State::Closed)
    });
    h
}

fn send(n: &mut Net, h: SocketHandle, bytes: &[u8]) {
    n.sockets
        .get_mut::<tcp::Socket>(h)
        .send_slice(bytes)
        .unwrap();
}

#[test]
fn files_from_flash_with_build_time_md5_and_refusals() {
    let mut n = Net::new();
    let c = connect(&mut n, FILES_PORT, 52_000);
    send(&mut n, c, &request(r#"{"op":"list"}"#));
    let list = frames(&mut n, c, 1);
    let text = String::from_utf8(list[0].1.clone()).unwrap();
    assert_eq!(text.lines().count(), FLASH_FILES.len(), "{text}");
    for f in &FLASH_FILES {
        let want = format!(
            r#"{{"dir":false,"mtime":0,"name":"{}","size":{}}}"#,
            f.name,
            f.data.len()
        );
        assert!(text.contains(&want), "{text}");
        send(
            &mut n,
            c,
            &request(&format!(r#"{{"op":"get","filename":"{}"}}"#, f.name)),
        );
        let got = frames(&mut n, c, 2);
        assert_eq!(got[0].1, f.data);
        let source = std::fs::read(format!("files/{}", f.name)).unwrap();
        assert_eq!(f.data, &source[..]);
        let md5 = format!("{:x}", Md5::digest(&source));
        assert!(
            got[1].0.contains(&format!(r#""md5":"{md5}""#)),
            "{}",
            got[1].0
        );
    }
    send(
        &mut n,
        c,
        &request(r#"{"op":"put","filename":"new.txt","size":3}"#),
    );
    send(
        &mut n,
        c,
        &request(r#"{"op":"get","filename":"../secret"}"#),
    );
    send(&mut n, c, &request(r#"{"op":"stat","filename":"nope"}"#));
    let r = frames(&mut n, c, 3);
    assert!(
        r[0].0
            .contains(r#""error":"new.txt: this server is read-only""#),
        "{}",
        r[0].0
    );
    assert!(r[1].0.contains("'..' is not allowed"), "{}", r[1].0);
    assert!(
        r[2].0.contains(r#""error":"nope: no such file""#),
        "{}",
        r[2].0
    );
    // Garbage: an error reply, then the board closes; the slot serves again.
    send(&mut n, c, b"\xff\xff\xff\xff");
    let r = frames(&mut n, c, 1);
    assert!(r[0].0.contains("bad request"), "{}", r[0].0);
    n.run_until("board closes", |n| {
        !n.sockets.get::<tcp::Socket>(c).may_recv()
    });
    n.sockets.get_mut::<tcp::Socket>(c).close();
    // One slot: it listens again once this connection is over.
    n.run_until("closed", |n| !n.sockets.get::<tcp::Socket>(c).is_open());
    let again = connect(&mut n, FILES_PORT, 52_001);
    send(
        &mut n,
        again,
        &request(r#"{"op":"stat","filename":"README.txt"}"#),
    );
    assert!(frames(&mut n, again, 1)[0].0.contains(r#""status":"ok""#));
}

/// What client `h` received so far (appended to `seen`).
fn read_into(n: &mut Net, h: SocketHandle, seen: &mut String) {
    let mut buf = [0u8; 4096];
    let s = n.sockets.get_mut::<tcp::Socket>(h);
    let k = s.recv_slice(&mut buf).unwrap_or(0);
    seen.push_str(&String::from_utf8_lossy(&buf[..k]));
}

fn wait_text(n: &mut Net, h: SocketHandle, seen: &mut String, want: &str) {
    n.run_until(want, |n| {
        read_into(n, h, seen);
        seen.contains(want)
    });
}

#[test]
fn chat_seats_four_refuses_the_fifth_and_relays_to_all() {
    let mut n = Net::new();
    let mut clients = Vec::new();
    let mut seen = vec![String::new(); CHAT_SEATS];
    for i in 0..CHAT_SEATS {
        clients.push(connect(&mut n, CHAT_PORT, 53_000 + i as u16));
        let online = format!("* 10.0.2.2:{} joined ({} online)\n\n", 53_000 + i, i + 1);
        wait_text(&mut n, clients[i], &mut seen[i], &online);
    }
    let fifth = connect(&mut n, CHAT_PORT, 53_100);
    let mut busy = String::new();
    wait_text(
        &mut n,
        fifth,
        &mut busy,
        "error: server busy, too many connections\r\n",
    );
    n.run_until("fifth closed", |n| {
        !n.sockets.get::<tcp::Socket>(fifth).may_recv()
    });
    send(&mut n, clients[2], b"/nick carol\nhello room\n");
    for i in 0..CHAT_SEATS {
        // The seed's frame: stamp, sender, the line, an empty line.
        wait_text(&mut n, clients[i], &mut seen[i], " carol\nhello room\n\n");
    }
    assert!(seen[0].contains("* 10.0.2.2:53002 is now carol\n\n"));
    send(&mut n, clients[1], b"quit\n");
    wait_text(
        &mut n,
        clients[0],
        &mut seen[0],
        "* 10.0.2.2:53001 left\n\n",
    );
    // The board closes the quitter's connection; this client does not
    // close its side, so the board resets it after 2 s, and the freed
    // seat takes a new client.
    n.run_until("quitter closed", |n| {
        !n.sockets.get::<tcp::Socket>(clients[1]).may_recv()
    });
    let waited = n.ms.get();
    n.run_until("quitter reset", |n| {
        !n.sockets.get::<tcp::Socket>(clients[1]).is_open()
    });
    assert!(n.ms.get() - waited >= 1_900, "reset after the 2 s linger");
    let late = connect(&mut n, CHAT_PORT, 53_200);
    let mut late_seen = String::new();
    wait_text(
        &mut n,
        late,
        &mut late_seen,
        "* 10.0.2.2:53200 joined (4 online)",
    );
}

#[test]
fn a_member_that_stops_reading_is_dropped_and_the_room_goes_on() {
    let mut n = Net::new();
    let talker = connect(&mut n, CHAT_PORT, 54_000);
    let stalled = connect(&mut n, CHAT_PORT, 54_001);
    let mut seen = String::new();
    wait_text(&mut n, talker, &mut seen, "joined (2 online)");
    // The stalled client never reads: its window, then the board's send
    // buffer for it, fill up; input is held, then it is dropped.
    let line = format!("{}\n", "x".repeat(200));
    let mut sent = 0;
    n.run_until("stalled member dropped", |n| {
        let s = n.sockets.get_mut::<tcp::Socket>(talker);
        if s.send_queue() == 0 && sent < 200 {
            s.send_slice(line.as_bytes()).unwrap();
            sent += 1;
        }
        read_into(n, talker, &mut seen);
        seen.contains("* 10.0.2.2:54001 was disconnected: too slow")
    });
    n.run_until("stalled connection reset", |n| {
        !n.sockets.get::<tcp::Socket>(stalled).is_open()
    });
    send(&mut n, talker, b"still here\n");
    wait_text(&mut n, talker, &mut seen, "10.0.2.2:54000\nstill here\n\n");
    // The dropped member's seat (reset at once) takes a new client.
    let new = connect(&mut n, CHAT_PORT, 54_002);
    let mut new_seen = String::new();
    wait_text(
        &mut n,
        new,
        &mut new_seen,
        "* 10.0.2.2:54002 joined (2 online)",
    );
}
