//! The exec sessions without sockets: exact reply bytes for every dialect,
//! authentication and its refusals, and any chunking of a conversation.

extern crate std;
use std::format;
use std::string::String;
use std::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::service::exec::auth;
use crate::service::exec::native::{ClientMsg, ServerMsg};
use crate::service::exec::{Ending, MAX_TEXT_COMMAND};
use crate::wire::{emit_frame_header, Digest, Header};

const TOKEN: &[u8] = b"0123456789abcdef-token";
const RANDOM: [u8; auth::NONCE_LEN] = [7; auth::NONCE_LEN];

type Server<'a> = ExecServer<'a, 4096>;

fn cfg(flavor: Flavor, token: Option<&[u8]>) -> Config<'_> {
    Config {
        flavor,
        token,
        binding: b"",
        allowed: true,
    }
}

/// A client frame's bytes.
fn frame(m: ClientMsg<'_>, body: &[u8]) -> Vec<u8> {
    let mut b = std::vec![0u8; 512];
    let n = emit_frame_header(&m.header(), &mut b).unwrap();
    b.truncate(n);
    b.extend_from_slice(body);
    b
}

/// A server frame's bytes.
fn reply(m: ServerMsg<'_>, body: &[u8]) -> Vec<u8> {
    let mut b = std::vec![0u8; 1024];
    let n = emit_frame_header(&m.header(), &mut b).unwrap();
    b.truncate(n);
    b.extend_from_slice(body);
    b
}

fn exec(cmd: &[u8]) -> Vec<u8> {
    frame(ClientMsg::Exec(cmd.len() as u64), cmd)
}

/// The nonce [`RANDOM`] gives.
fn nonce() -> String {
    String::from_utf8(auth::nonce_hex(&RANDOM).to_vec()).unwrap()
}

/// A host in miniature: feeds `chunks` as reads, answers challenges with
/// [`RANDOM`], "runs" a command by printing it on stdout and `!` on stderr
/// and exiting with its length, and lends `out` bytes to `poll_output`.
/// Returns the events (as text) and every byte sent.
fn drive(s: &mut Server<'_>, chunks: &[&[u8]], out: usize) -> (Vec<String>, Vec<u8>) {
    let (mut events, mut wire) = (Vec::new(), Vec::new());
    let mut buf = std::vec![0u8; out];
    let mut pending: Vec<u8> = Vec::new();
    let mut held: Vec<u8> = Vec::new();
    for chunk in chunks.iter().map(Some).chain([None]) {
        match chunk {
            Some(c) => pending.extend_from_slice(c),
            None => events.push(format!("eof {:?}", s.handle_eof())),
        }
        loop {
            flush(s, &mut buf, &mut wire);
            while s.output_wanted() > 0 {
                let n = s.output_wanted().min(held.len());
                let took = s.handle_child_output(Stream::Stdout, &held[..n]).unwrap();
                held.drain(..took);
                flush(s, &mut buf, &mut wire);
            }
            if s.wants_close() {
                return (events, wire);
            }
            let (used, ev) = s.handle_input(&pending);
            let cmd = match ev {
                Some(Event::Run { command }) => Some(command.to_vec()),
                _ => None,
            };
            if let Some(e) = ev {
                events.push(format!("{e:?}"));
            }
            let stop = used == 0 && ev.is_none();
            if ev == Some(Event::NeedChallenge) {
                s.challenge(&RANDOM).unwrap();
            }
            if let Some(cmd) = cmd {
                held = run(s, &cmd, &mut buf, &mut wire);
            }
            pending.drain(..used);
            if stop {
                break;
            }
        }
    }
    (events, wire)
}

fn flush(s: &mut Server<'_>, buf: &mut [u8], wire: &mut Vec<u8>) {
    loop {
        let n = s.poll_output(buf);
        if n == 0 {
            return;
        }
        wire.extend_from_slice(&buf[..n]);
    }
}

/// The fake command; returns what a seed dialect's driver holds.
fn run(s: &mut Server<'_>, cmd: &[u8], buf: &mut [u8], wire: &mut Vec<u8>) -> Vec<u8> {
    let ending = Ending::Exited(cmd.len() as i32);
    if !s.is_native() {
        let mut held = cmd.to_vec();
        held.push(b'!');
        let h = Held {
            len: held.len() as u64,
            md5: Digest::of(&held),
        };
        s.handle_child_exit(ending, false, h).unwrap();
        return held;
    }
    for (stream, mut data) in [(Stream::Stdout, cmd), (Stream::Stderr, &b"!"[..])] {
        while !data.is_empty() {
            let n = s.handle_child_output(stream, data).unwrap();
            data = &data[n..];
            flush(s, buf, wire);
        }
    }
    s.handle_child_exit(ending, false, Held::NONE).unwrap();
    Vec::new()
}

fn exit(code: i32) -> Vec<u8> {
    reply(
        ServerMsg::Exit {
            code,
            truncated: false,
            note: None,
        },
        b"",
    )
}

/// A native conversation with authentication and two commands.
fn native_script() -> Vec<u8> {
    let proof = auth::proof(TOKEN, &nonce(), b"");
    let proof = core::str::from_utf8(&proof).unwrap();
    let mut c = frame(ClientMsg::Hello, b"");
    c.extend(frame(ClientMsg::Auth(proof), b""));
    c.extend(exec(b"echo hi"));
    c.extend(exec(b"true"));
    c
}

fn native_answer() -> Vec<u8> {
    let mut w = reply(ServerMsg::Challenge(&nonce()), b"");
    w.extend(reply(ServerMsg::Ready, b""));
    for cmd in [&b"echo hi"[..], b"true"] {
        w.extend(reply(ServerMsg::Stdout(cmd.len() as u64), cmd));
        w.extend(reply(ServerMsg::Stderr(1), b"!"));
        w.extend(exit(cmd.len() as i32));
    }
    w
}

#[test]
fn native_with_a_token_authenticates_then_runs() {
    let mut s = Server::new(cfg(Flavor::Exec, Some(TOKEN)));
    let (events, wire) = drive(&mut s, &[&native_script()], 4096);
    assert_eq!(wire, native_answer());
    assert_eq!(
        events,
        [
            "NeedChallenge",
            "Authenticated",
            "Run { command: [101, 99, 104, 111, 32, 104, 105] }",
            "Run { command: [116, 114, 117, 101] }",
            "eof Ok(())",
        ]
    );
}

#[test]
fn a_wrong_or_relayed_proof_is_refused_and_closes() {
    let refused = |binding: &[u8], proof: &[u8; 64]| {
        let mut s = Server::new(Config {
            binding,
            ..cfg(Flavor::Exec, Some(TOKEN))
        });
        let mut c = frame(ClientMsg::Hello, b"");
        c.extend(frame(
            ClientMsg::Auth(core::str::from_utf8(proof).unwrap()),
            b"",
        ));
        c.extend(exec(b"id"));
        drive(&mut s, &[&c], 4096)
    };
    let mut want = reply(ServerMsg::Challenge(&nonce()), b"");
    want.extend(reply(
        ServerMsg::Error("authentication failed: wrong token"),
        b"",
    ));
    let wrong = auth::proof(b"another token, long enough", &nonce(), b"");
    let (events, wire) = refused(b"", &wrong);
    assert_eq!(
        (events, wire),
        (
            ["NeedChallenge", "AuthFailed"].map(String::from).to_vec(),
            want.clone()
        )
    );
    // Made for the client's own TLS session, relayed into another one.
    let relayed = auth::proof(TOKEN, &nonce(), &[1; 32]);
    let (events, wire) = refused(&[2; 32], &relayed);
    assert_eq!(events[1], "AuthFailed");
    assert_eq!(wire, want);
    let bound = auth::proof(TOKEN, &nonce(), &[2; 32]);
    let (events, _) = refused(&[2; 32], &bound);
    assert_eq!(events[1], "Authenticated");
}

#[test]
fn native_refusals() {
    let one = |c: &[u8], cfg: Config<'_>| {
        let mut s = Server::new(cfg);
        let (events, wire) = drive(&mut s, &[c], 4096);
        assert!(s.wants_close(), "{events:?}");
        (events, wire)
    };
    let token = cfg(Flavor::Exec, Some(TOKEN));
    let (ev, w) = one(&exec(b"id"), token);
    assert_eq!(ev, ["Unauthenticated"]);
    let msg = "authentication required: this server needs a token (--token-file)";
    assert_eq!(w, reply(ServerMsg::Error(msg), b""));
    let denied = Config {
        allowed: false,
        ..token
    };
    let (ev, w) = one(&frame(ClientMsg::Hello, b""), denied);
    assert_eq!(ev, ["NotAllowed"]);
    let msg = "refused: your address is not allowed (--exec-allow)";
    assert_eq!(w, reply(ServerMsg::Error(msg), b""));
    let open = cfg(Flavor::Exec, None);
    let mut hello = Header::with_op("hello");
    hello.total_size = 1;
    let mut c = std::vec![0u8; 64];
    let n = emit_frame_header(&hello, &mut c).unwrap();
    c.truncate(n);
    c.push(b'x');
    let (ev, w) = one(&c, open);
    assert_eq!(ev, ["Refused"]);
    let msg = "bad request: unexpected frame body";
    assert_eq!(w, reply(ServerMsg::Error(msg), b""));
    let (_, w) = one(b"\x0e\x00\x00\x00{\"op\"", open);
    let msg = "connection closed inside a frame";
    assert_eq!(w, reply(ServerMsg::Error(msg), b""));
    let (_, w) = one(b"\x03\x00\x00\x00[1]", open);
    let h = Header::parse(&w[4..], true).unwrap();
    assert!(h.error.unwrap().starts_with("bad frame: "));
}

#[test]
fn native_command_refusals_keep_the_session() {
    let mut s = Server::new(cfg(Flavor::Exec, None));
    let blank = exec(b"   ");
    let (_, ev) = s.handle_input(&blank);
    assert_eq!(ev, Some(Event::Refused));
    let mut buf = [0u8; 4096];
    let n = s.poll_output(&mut buf);
    assert_eq!(&buf[..n], reply(ServerMsg::Error("empty command"), b""));
    let ls = exec(b"ls");
    let (_, ev) = s.handle_input(&ls);
    assert!(matches!(ev, Some(Event::Run { .. })));
    // No free slot: told, and the next command may come.
    s.refuse_command("too many commands running").unwrap();
    let n = s.poll_output(&mut buf);
    let msg = "too many commands running";
    assert_eq!(&buf[..n], reply(ServerMsg::Error(msg), b""));
    assert!(matches!(
        s.handle_input(&exec(b"ls")).1,
        Some(Event::Run { .. })
    ));
    assert_eq!(
        s.handle_child_exit(Ending::TimedOut { secs: 2 }, false, Held::NONE),
        Ok(())
    );
    let n = s.poll_output(&mut buf);
    let h = Header::parse(&buf[4..n], true).unwrap();
    assert_eq!(h.exit_code, Some(124));
    assert!(h.error.unwrap().contains("timed out after 2 s"));
    assert_eq!(s.challenge(&RANDOM), Err(Error::OutOfOrder("challenge")));
}

#[test]
fn a_session_is_small() {
    // Every connection holds one, idle or not: commands stay in the
    // driver's input, output frames are a few KiB.
    let size = core::mem::size_of::<ExecServer<'static>>();
    assert!(size <= 16 * 1024, "{size} bytes");
}

#[test]
fn a_native_body_is_taken_whole() {
    let mut s = Server::new(cfg(Flavor::Exec, None));
    let c = exec(b"echo hi");
    let head = c.len() - 7;
    assert_eq!(s.handle_input(&c[..head + 3]), (head, None));
    assert_eq!(
        s.handle_input(&c[head..head + 3]),
        (0, None),
        "waits for the rest"
    );
    let (used, ev) = s.handle_input(&c[head..]);
    assert_eq!(
        (used, ev),
        (
            7,
            Some(Event::Run {
                command: b"echo hi"
            })
        )
    );
}

/// The seed JSON reply a seed client reads.
fn json_reply(body: &[u8], code: i32, error: Option<&str>) -> Vec<u8> {
    let h = crate::service::exec::seed_reply_header(
        body.len() as u64,
        Digest::of(body),
        code,
        false,
        error,
    );
    let mut b = std::vec![0u8; 1024];
    let n = emit_frame_header(&h, &mut b).unwrap();
    b.truncate(n);
    b.extend_from_slice(body);
    b
}

#[test]
fn seed_json_dialect() {
    let mut s = Server::new(cfg(Flavor::Exec, None));
    let (events, wire) = drive(&mut s, &[b"echo hi", b"  "], 100);
    let mut want = json_reply(b"echo hi!", 7, None);
    want.extend(json_reply(
        b"wirekit: empty command\n",
        255,
        Some("empty command"),
    ));
    assert_eq!(wire, want);
    assert_eq!(events.len(), 3, "{events:?}");
    // A seed client cannot authenticate: refused, closed.
    let mut s = Server::new(cfg(Flavor::Exec, Some(TOKEN)));
    let (events, wire) = drive(&mut s, &[b"id", b"id"], 100);
    let msg = "authentication required: this server needs a token; use `wirekit exec --token-file`";
    assert_eq!(
        wire,
        json_reply(format!("wirekit: {msg}\n").as_bytes(), 255, Some(msg))
    );
    assert_eq!(events, ["Unauthenticated"]);
}

#[test]
fn foreign_input_closes_without_a_word() {
    for flavor in [Flavor::Exec, Flavor::Len, Flavor::Ack] {
        let mut s = Server::new(cfg(flavor, None));
        let (events, wire) = drive(&mut s, &[b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"], 100);
        assert_eq!(events, ["Foreign(Http)"]);
        assert!(wire.is_empty() && s.wants_close());
    }
}

#[test]
fn seed_len_dialect_and_limits() {
    let mut s = Server::new(cfg(Flavor::Len, None));
    let long = [b'a'; MAX_TEXT_COMMAND + 1];
    let (_, wire) = drive(&mut s, &[b"ls", &long, b"ls"], 7);
    let mut want = std::vec![3, 0, 0, 0];
    want.extend_from_slice(b"ls!");
    let refusal = b"wirekit: command longer than 1024 bytes\n";
    want.extend_from_slice(&(refusal.len() as u32).to_le_bytes());
    want.extend_from_slice(refusal);
    assert_eq!(wire, want, "refused and closed: the last ls is not run");
    let mut s = Server::new(Config {
        allowed: false,
        ..cfg(Flavor::Len, None)
    });
    let (events, _) = drive(&mut s, &[b"ls"], 7);
    assert_eq!(events, ["NotAllowed"]);
}

#[test]
fn seed_ack_dialect_waits_for_the_ack() {
    let mut s = Server::new(cfg(Flavor::Ack, None));
    let (_, wire) = drive(&mut s, &[b"date", "准备接收数据".as_bytes(), b"  "], 64);
    // The empty command gets its refusal's size, and waits for its ack.
    assert_eq!(wire, b"5date!23");
    let mut s = Server::new(cfg(Flavor::Ack, None));
    // A known ack is taken exactly: the next command in the same read
    // stays a command.
    let (events, wire) = drive(&mut s, &[b"ls", b"recv_readyid", b"ok"], 64);
    assert_eq!(wire, b"3ls!3id!");
    assert_eq!(events.len(), 3, "{events:?}");
    // The client goes before its ack.
    let mut s = Server::new(cfg(Flavor::Ack, None));
    let (events, wire) = drive(&mut s, &[b"ls"], 64);
    assert_eq!(wire, b"3");
    assert_eq!(events.last().unwrap(), "eof Err(NoAck)");
}

/// Splits `input` at the given cut points.
fn split(input: &[u8], cuts: Vec<usize>) -> Vec<&[u8]> {
    let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let (mut chunks, mut at) = (Vec::new(), 0);
    for c in cuts {
        chunks.push(&input[at..c]);
        at = c;
    }
    chunks.push(&input[at..]);
    chunks
}

proptest! {
    #[test]
    fn any_chunking_gives_the_same_events_and_bytes(
        cuts in prop::collection::vec(0usize..1000, 0..12),
        out in 1usize..300,
    ) {
        let input = native_script();
        let mut s = Server::new(cfg(Flavor::Exec, Some(TOKEN)));
        // The dialect is told by the first read, which the native client
        // always makes of a whole frame: at least its length prefix.
        let cuts = cuts.into_iter().filter(|&c| c % (input.len() + 1) >= 4).collect();
        let (events, wire) = drive(&mut s, &split(&input, cuts), out);
        prop_assert_eq!(wire, native_answer());
        prop_assert_eq!(events.len(), 5);
    }

    #[test]
    fn random_input_never_panics(
        input in prop::collection::vec(any::<u8>(), 0..400),
        cuts in prop::collection::vec(0usize..400, 0..6),
        flavor in 0usize..3,
        token in any::<bool>(),
    ) {
        let flavor = [Flavor::Exec, Flavor::Len, Flavor::Ack][flavor];
        let mut s = Server::new(cfg(flavor, token.then_some(TOKEN)));
        let _ = drive(&mut s, &split(&input, cuts), 50);
    }

    #[test]
    fn frames_after_a_native_prefix_never_panic(
        tail in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut input = frame(ClientMsg::Hello, b"");
        input.extend(tail);
        let mut s = Server::new(cfg(Flavor::Exec, None));
        let _ = drive(&mut s, &[&input], 50);
    }
}
