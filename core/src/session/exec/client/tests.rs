//! The client session without sockets: the handshake, each framing's
//! replies and refusals, and a client against the server session over
//! any chunking.

extern crate std;
use std::format;
use std::string::String;
use std::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::service::exec::native::ServerMsg;
use crate::service::exec::Ending;
use crate::session::exec::{Config, Event, ExecServer, Flavor, Held};
use crate::wire::{emit_frame_header, Digest};

type Client = ExecClient<4096>;

fn reply(m: ServerMsg<'_>, body: &[u8]) -> Vec<u8> {
    let mut b = std::vec![0u8; 1024];
    let n = emit_frame_header(&m.header(), &mut b).unwrap();
    b.truncate(n);
    b.extend_from_slice(body);
    b
}

fn sent(c: &mut Client) -> Vec<u8> {
    let mut buf = [0u8; 4096];
    let n = c.poll_output(&mut buf);
    buf[..n].to_vec()
}

/// Feeds `input` whole; returns the events as text (and the error).
fn feed(c: &mut Client, input: &[u8]) -> Vec<String> {
    let mut events = Vec::new();
    let mut at = 0;
    loop {
        match c.handle_input(&input[at..]) {
            Ok((used, ev)) => {
                let more = used > 0 || ev.is_some();
                if let Some(e) = ev {
                    events.push(format!("{e:?}"));
                }
                at += used;
                if !more {
                    return events;
                }
            }
            Err(e) => {
                events.push(format!("error: {e}"));
                return events;
            }
        }
    }
}

#[test]
fn native_handshake_with_a_token() {
    let mut c = Client::new(Framing::Native);
    assert_eq!(sent(&mut c), reply_client(ClientMsg::Hello));
    let nonce = "00ff";
    assert_eq!(
        feed(&mut c, &reply(ServerMsg::Challenge(nonce), b"")),
        ["Challenge"]
    );
    assert_eq!(
        c.send_command(b"id"),
        Err(ClientError::OutOfOrder("send_command"))
    );
    c.authenticate(b"correct horse battery staple", &[9; 32])
        .unwrap();
    let proof = auth::proof(b"correct horse battery staple", nonce, &[9; 32]);
    let proof = core::str::from_utf8(&proof).unwrap();
    assert_eq!(sent(&mut c), reply_client(ClientMsg::Auth(proof)));
    assert_eq!(feed(&mut c, &reply(ServerMsg::Ready, b"")), ["Ready"]);
    assert!(c.is_idle());
}

fn reply_client(m: ClientMsg<'_>) -> Vec<u8> {
    let mut b = std::vec![0u8; 1024];
    let n = emit_frame_header(&m.header(), &mut b).unwrap();
    b.truncate(n);
    b
}

#[test]
fn native_refusals_and_bad_replies() {
    let mut c = Client::new(Framing::Native);
    let msg = "too many failed logins";
    let ev = feed(&mut c, &reply(ServerMsg::Error(msg), b""));
    assert_eq!(ev, [format!("error: server: {msg}")]);
    let mut c = Client::new(Framing::Native);
    let ev = feed(&mut c, &reply(ServerMsg::Stdout(1), b"x"));
    assert_eq!(ev[0], "Output(Stdout, [120])");
    assert_eq!(ev[1], "error: unexpected reply stdout");
    let mut c = Client::new(Framing::Native);
    let ev = feed(&mut c, b"\x0b\x00\x00\x00{\"op\":\"ls\"}");
    assert!(
        ev[0].contains("; is this a wirekit `exec` listener?"),
        "{ev:?}"
    );
    let mut c = Client::new(Framing::Native);
    assert_eq!(c.handle_eof(), Err(ClientError::Closed));
}

#[test]
fn native_command_output_and_exit() {
    let mut c = Client::new(Framing::Native);
    feed(&mut c, &reply(ServerMsg::Ready, b""));
    assert!(matches!(c.send_command(b" "), Err(ClientError::Command(_))));
    c.send_command(b"ls").unwrap();
    let mut r = reply(ServerMsg::Stdout(2), b"a\n");
    r.extend(reply(ServerMsg::Stderr(1), b"!"));
    r.extend(reply(
        ServerMsg::Exit {
            code: 3,
            truncated: false,
            note: None,
        },
        b"",
    ));
    r.extend(reply(ServerMsg::Ready, b""));
    let ev = feed(&mut c, &r);
    assert_eq!(
        ev,
        [
            "Output(Stdout, [97, 10])",
            "Output(Stderr, [33])",
            "Exit { code: 3 }"
        ]
    );
    c.send_command(b"ls").unwrap();
    let ev = feed(&mut c, &reply(ServerMsg::Error("busy"), b""));
    assert_eq!(ev, ["Refused([98, 117, 115, 121])"]);
}

#[test]
fn seed_framings() {
    let mut c = Client::new(Framing::Len);
    assert!(c.is_idle() && sent(&mut c).is_empty());
    c.send_command(b"ls").unwrap();
    assert_eq!(sent(&mut c), b"ls");
    let ev = feed(&mut c, b"\x02\x00\x00\x00hi");
    assert_eq!(ev, ["Output(Stdout, [104, 105])", "Exit { code: 0 }"]);
    c.send_command(b"ls").unwrap();
    let text = b"wirekit: too many commands running (limit 4)\n";
    let mut refusal = (text.len() as u32).to_le_bytes().to_vec();
    refusal.extend_from_slice(text);
    let ev = feed(&mut c, &refusal);
    assert_eq!(ev.len(), 1);
    assert!(ev[0].starts_with("Refused("), "{ev:?}");
    // A long reply streams.
    c.send_command(b"ls").unwrap();
    let mut long = (600u32).to_le_bytes().to_vec();
    long.extend([b'x'; 600]);
    let ev = feed(&mut c, &long[..300]);
    assert_eq!(ev.len(), 1);
    let ev = feed(&mut c, &long[300..]);
    assert_eq!(ev.len(), 2, "the rest, then the exit");

    let mut c = Client::new(Framing::Ack);
    c.send_command(b"date").unwrap();
    sent(&mut c);
    assert_eq!(feed(&mut c, b"3"), Vec::<String>::new());
    assert_eq!(sent(&mut c), CLIENT_ACK);
    let ev = feed(&mut c, b"ab");
    assert!(ev.is_empty(), "held until whole: {ev:?}");
    assert_eq!(
        feed(&mut c, b"c"),
        ["Output(Stdout, [97, 98, 99])", "Exit { code: 0 }"]
    );
    // A long one streams as it comes.
    c.send_command(b"yes").unwrap();
    assert!(feed(&mut c, b"600").is_empty());
    assert_eq!(
        c.handle_input(b""),
        Ok((0, None)),
        "no empty output while waiting"
    );
    assert_eq!(feed(&mut c, &[b'y'; 599]).len(), 1);
    let ev = feed(&mut c, b"y");
    assert_eq!(ev, ["Output(Stdout, [121])", "Exit { code: 0 }"]);
    c.send_command(b"x").unwrap();
    assert_eq!(
        feed(&mut c, b"-1"),
        ["error: bad size from server: size is not a decimal number"]
    );
}

#[test]
fn seed_json_replies() {
    let mut c = Client::new(Framing::Json);
    c.send_command(b"ls").unwrap();
    let h = crate::service::exec::seed_reply_header(2, Digest::of(b"hi"), 4, false, None);
    let mut r = std::vec![0u8; 512];
    let n = emit_frame_header(&h, &mut r).unwrap();
    r.truncate(n);
    r.extend_from_slice(b"hi");
    assert_eq!(
        feed(&mut c, &r),
        ["Output(Stdout, [104, 105])", "Exit { code: 4 }"]
    );
    c.send_command(b"ls").unwrap();
    let body = b"wirekit: no\n";
    let h = crate::service::exec::seed_reply_header(12, Digest::of(body), 255, false, Some("no"));
    let mut r = std::vec![0u8; 512];
    let n = emit_frame_header(&h, &mut r).unwrap();
    r.truncate(n);
    r.extend_from_slice(body);
    assert_eq!(feed(&mut c, &r), ["Refused([110, 111])"]);
}

/// A client and a server session joined by a pipe whose server-to-client
/// direction is cut into `cut`-byte pieces. Returns the client's events.
fn converse(framing: Framing, flavor: Flavor, cmds: &[&[u8]], cut: usize) -> Vec<String> {
    const TOKEN: &[u8] = b"0123456789abcdef";
    let token = (framing == Framing::Native).then_some(TOKEN);
    let mut s = Peer {
        s: ExecServer::new(Config {
            flavor,
            token,
            binding: b"",
            allowed: true,
        }),
        input: Vec::new(),
        held: Vec::new(),
    };
    let mut c = Client::new(framing);
    let (mut to_c, mut events) = (Vec::new(), Vec::new());
    let mut cmds = cmds.iter();
    let mut buf = std::vec![0u8; cut];
    for _ in 0..10_000 {
        if c.is_idle() {
            match cmds.next() {
                Some(cmd) => c.send_command(cmd).unwrap(),
                None => return events,
            }
        }
        // What the client sends goes whole (the server's own tests cut
        // it): a seed server takes one read as one command, and tells the
        // dialect by the first read.
        loop {
            let n = c.poll_output(&mut buf);
            s.input.extend_from_slice(&buf[..n]);
            if n == 0 {
                break;
            }
        }
        let n = s.s.poll_output(&mut buf);
        to_c.extend_from_slice(&buf[..n]);
        s.turn();
        let take = to_c.len().min(cut);
        let (used, ev) = c.handle_input(&to_c[..take]).unwrap();
        let challenged = ev == Some(ClientEvent::Challenge);
        if let Some(e) = ev {
            events.push(format!("{e:?}"));
        }
        if challenged {
            c.authenticate(TOKEN, b"").unwrap();
        }
        to_c.drain(..used);
    }
    panic!("no progress: {events:?}");
}

/// The server end of [`converse`]: it "runs" a command by printing it on
/// stdout and exiting with its length.
struct Peer<'a> {
    s: ExecServer<'a, 2600>,
    input: Vec<u8>,
    /// A seed reply's output, held until the session asks for it.
    held: Vec<u8>,
}

impl Peer<'_> {
    fn turn(&mut self) {
        let s = &mut self.s;
        let want = s.output_wanted().min(self.held.len());
        if want > 0 {
            let took = s
                .handle_child_output(Stream::Stdout, &self.held[..want])
                .unwrap();
            self.held.drain(..took);
        }
        let (used, ev) = s.handle_input(&self.input);
        let cmd = match ev {
            Some(Event::Run { command }) => Some(command.to_vec()),
            _ => None,
        };
        let challenged = ev == Some(Event::NeedChallenge);
        self.input.drain(..used);
        if challenged {
            s.challenge(&[5; 32]).unwrap();
        }
        let Some(cmd) = cmd else { return };
        let ending = Ending::Exited(cmd.len() as i32);
        if s.is_native() {
            s.handle_child_output(Stream::Stdout, &cmd).unwrap();
            s.handle_child_exit(ending, false, Held::NONE).unwrap();
        } else {
            let h = Held {
                len: cmd.len() as u64,
                md5: Digest::of(&cmd),
            };
            s.handle_child_exit(ending, false, h).unwrap();
            self.held = cmd;
        }
    }
}

proptest! {
    #[test]
    fn client_and_server_agree_over_any_chunking(cut in 1usize..200, framing in 0usize..4) {
        let (framing, flavor) = [
            (Framing::Native, Flavor::Exec),
            (Framing::Json, Flavor::Exec),
            (Framing::Len, Flavor::Len),
            (Framing::Ack, Flavor::Ack),
        ][framing];
        let events = converse(framing, flavor, &[b"echo one", b"two"], cut);
        let mut want: Vec<String> = Vec::new();
        if framing == Framing::Native {
            want.extend(["Challenge", "Ready"].map(String::from));
        }
        for (cmd, code) in [(&b"echo one"[..], 8), (b"two", 3)] {
            want.push(format!("Output(Stdout, {:?})", cmd));
            let code = if framing == Framing::Native || framing == Framing::Json { code } else { 0 };
            want.push(format!("Exit {{ code: {code} }}"));
        }
        // Output may arrive in pieces: join consecutive outputs.
        prop_assert_eq!(join(&events), want);
    }

    #[test]
    fn random_replies_never_panic(
        input in prop::collection::vec(any::<u8>(), 0..300),
        framing in 0usize..4,
    ) {
        let framing = [Framing::Native, Framing::Json, Framing::Len, Framing::Ack][framing];
        let mut c = Client::new(framing);
        if framing != Framing::Native {
            c.send_command(b"ls").unwrap();
        }
        let _ = feed(&mut c, &input);
        let _ = c.handle_eof();
    }
}

/// Consecutive `Output(Stdout, …)` events as one.
fn join(events: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut bytes: Option<Vec<u8>> = None;
    for e in events {
        if let Some(list) = e
            .strip_prefix("Output(Stdout, [")
            .and_then(|r| r.strip_suffix("])"))
        {
            let b = bytes.get_or_insert_with(Vec::new);
            b.extend(
                list.split(", ")
                    .filter(|s| !s.is_empty())
                    .map(|n| n.parse::<u8>().unwrap()),
            );
            continue;
        }
        if let Some(b) = bytes.take() {
            out.push(format!("Output(Stdout, {:?})", b));
        }
        out.push(e.clone());
    }
    out
}
