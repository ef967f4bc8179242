//! Terminal escape injection through chat (issue 13 item 6): by default the
//! server strips control characters (other than tab) from said lines, so
//! one client cannot clear the others' screens or retitle their terminals;
//! `--chat-raw` relays the seed's bytes unchanged, and then `wirekit chat`
//! itself shows the escapes as visible text (`^[`) instead of obeying them.

wirekit_testkit::kit!();

mod common;

use std::net::SocketAddr;

use common::proc::Proc;
use common::raw::Raw;
use kit::{wirekit, Server};

/// OSC "set the title to pwned", BEL, CSI "clear the screen", then text.
const ATTACK: &[u8] = b"\x1b]0;pwned\x07\x1b[2Jhello\tthere\r\n";

fn serve_chat(extra: &[&str]) -> (Server, SocketAddr) {
    let mut args = vec!["serve", "--listen", "chat=127.0.0.1:0"];
    args.extend(extra);
    let srv = Server::start(&args, 1);
    let addr = srv.addr("chat", "tcp");
    (srv, addr)
}

#[test]
fn control_characters_are_stripped_from_said_lines() {
    let (_srv, addr) = serve_chat(&[]);
    let mut reader = Raw::connect(addr);
    reader.until("joined (1 online)");
    let mut attacker = Raw::connect(addr);
    reader.until("joined (2 online)");
    attacker.send(ATTACK);
    let f = reader.until("hello");
    assert_eq!(f.body, "]0;pwned[2Jhello\tthere");
    assert!(!f.body.contains(['\x1b', '\x07', '\r']), "{:?}", f.body);
    // A line of nothing but controls is not said at all: the next frame
    // the reader gets is the following line.
    attacker.send(b"\x1b\x07 \x1b\x9b\nafter\n");
    assert_eq!(reader.frame().expect("a frame").body, "after");
}

#[test]
fn chat_raw_relays_the_seeds_bytes_and_the_client_shows_them_visibly() {
    let (_srv, addr) = serve_chat(&["--chat-raw"]);
    let mut reader = Raw::connect(addr);
    reader.until("joined (1 online)");
    let a = addr.to_string();
    let mut client = Proc::spawn("wirekit chat", wirekit(&["chat", &a, "--name", "viewer"]));
    reader.until("is now viewer");
    client.wait_out("is now viewer");
    let mut attacker = Raw::connect(addr);
    reader.until("joined (3 online)");
    attacker.send(ATTACK);
    // Byte for byte, as the seed relays it (the trailing CR is the line
    // ending, not text, as with the seed's universal newlines).
    let f = reader.until("hello");
    assert_eq!(f.body, "\x1b]0;pwned\x07\x1b[2Jhello\tthere");
    // The wirekit client shows the escapes instead of obeying them.
    client.wait_out("^[]0;pwned^G^[[2Jhello\tthere\n");
    assert!(
        !client.out_text.contains(['\x1b', '\x07']),
        "{:?}",
        client.out_text
    );
    client.send("quit\n");
    assert!(client.wait_exit().success());
}

/// The other small clients show a hostile server's or peer's escapes as
/// visible text too: `time`, `echo` (TCP and UDP) and `talk`.
#[test]
fn time_echo_and_talk_clients_show_escapes_visibly() {
    use kit::run_with_timeout;
    use std::io::{Read, Write};
    use std::net::{TcpListener, UdpSocket};
    use std::time::Duration;

    let t = Duration::from_secs(10);
    // Built before the fakes start their timeouts.
    kit::wirekit_bin();
    let evil: &[u8] = b"\x1b[2J\x1b]0;pw\x07ned";
    let shown = "^[[2J^[]0;pw^Gned";
    // A fake time/echo server on UDP that answers every datagram with `evil`.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(t)).unwrap();
    let uaddr = udp.local_addr().unwrap().to_string();
    let fake_udp = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        for _ in 0..2 {
            let (_, from) = udp.recv_from(&mut buf).unwrap();
            udp.send_to(evil, from).unwrap();
        }
    });
    for args in [vec!["time", &uaddr], vec!["echo", "--udp", &uaddr, "hi"]] {
        let out = run_with_timeout(wirekit(&args), b"", t);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert_eq!(text, format!("{shown}\n"), "{args:?}");
    }
    fake_udp.join().unwrap();
    // A fake TCP echo server answering as many bytes as it got.
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let taddr = tcp.local_addr().unwrap().to_string();
    let fake_tcp = std::thread::spawn(move || {
        let (mut s, _) = tcp.accept().unwrap();
        let mut buf = [0u8; 64];
        s.read_exact(&mut buf[..evil.len()]).unwrap();
        s.write_all(evil).unwrap();
    });
    let msg = "x".repeat(evil.len());
    let out = run_with_timeout(wirekit(&["echo", &taddr, &msg]), b"", t);
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{shown}\n"));
    fake_tcp.join().unwrap();
    // talk: one datagram is one line, so a newline cannot forge a sender.
    let mut talk = Proc::spawn(
        "wirekit talk",
        wirekit(&["talk", "--listen", "127.0.0.1:0"]),
    );
    talk.wait_out("listening talk udp 127.0.0.1:");
    let line = talk.out_text.lines().next().unwrap().to_owned();
    let port: u16 = line.rsplit(':').next().unwrap().parse().unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let from = peer.local_addr().unwrap();
    peer.send_to(b"\x1b[2Jhi\n[bob] forged", ("127.0.0.1", port))
        .unwrap();
    talk.wait_out(&format!("[{from}] ^[[2Jhi^J[bob] forged\n"));
    assert!(!talk.out_text.contains('\x1b'), "{:?}", talk.out_text);
    talk.send("quit\n");
    assert!(talk.wait_exit().success());
}
