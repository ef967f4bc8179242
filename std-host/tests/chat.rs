//! The `chat` service and `wirekit chat` client (issue 6) over loopback:
//! against the seed 003 Python client and server, three clients, a stalled
//! reader, an over-long line, 200 clients coming and going, and shutdown.

wirekit_testkit::kit!();

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use common::proc::Proc;
use common::raw::{sender_of, Raw};
use kit::{python, run_with_timeout, wirekit, Server};

fn serve_chat(extra: &[&str]) -> (Server, SocketAddr) {
    let mut args = vec!["serve", "--listen", "chat=127.0.0.1:0"];
    args.extend(extra);
    let srv = Server::start(&args, 1);
    let addr = srv.addr("chat", "tcp");
    (srv, addr)
}

fn ip_port(a: SocketAddr) -> String {
    format!("{}:{}", a.ip(), a.port())
}

#[test]
fn seed_python_clients_against_wirekit() {
    let (_srv, addr) = serve_chat(&[]);
    let mut watch = Raw::connect(addr);
    watch.until("joined (1 online)");
    let port = addr.port().to_string();
    let mut a = Proc::spawn(
        "seed client a",
        python("seed003_chat_client.py", &["127.0.0.1", &port]),
    );
    // The seed client's first line; its receive thread logs what comes back.
    let ready = watch.until("I'm ready.");
    assert_eq!(ready.body, "I'm ready.");
    let a_addr = sender_of(&ready.head).to_owned();
    a.wait_err("I'm ready.");
    let mut b = Proc::spawn(
        "seed client b",
        python("seed003_chat_client.py", &["127.0.0.1", &port]),
    );
    watch.until("I'm ready.");
    b.send("hello from b\n");
    let hello = watch.until("hello from b");
    // Exactly the seed's bytes: header, the line, an empty line.
    assert_eq!(hello.body, "hello from b");
    let b_addr = sender_of(&hello.head).to_owned();
    assert!(b_addr.starts_with("127.0.0.1:") && b_addr != a_addr);
    a.wait_err("hello from b");
    b.wait_err("hello from b");
    // The seed client's quit closes the socket: the others see it leave.
    b.send("quit\n");
    watch.until(&format!("{b_addr} left"));
    assert!(b.wait_exit().success());
    a.close_stdin();
    watch.until(&format!("{a_addr} left"));
    assert!(a.wait_exit().success());
}

#[test]
fn wirekit_client_against_seed_python_server() {
    let mut server = Proc::spawn(
        "seed server",
        python("seed003_chat_server.py", &["127.0.0.1", "0"]),
    );
    server.wait_out("listening ");
    let port: u16 = server
        .out_text
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut watch = Raw::connect(addr);
    // Piped stdin: the line is sent, end of input leaves (the seed server
    // takes EOF as quit), and the client shows what came back first.
    let out = run_with_timeout(
        wirekit(&["chat", &addr.to_string()]),
        b"hi from wirekit\n",
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" 127.0.0.1:"), "{text}");
    assert!(text.ends_with("\nhi from wirekit\n\n"), "{text:?}");
    let f = watch.until("hi from wirekit");
    assert_eq!(f.body, "hi from wirekit");
    sender_of(&f.head);
    // The seed server saw the client quit.
    server.wait_err("quits");
}

#[test]
fn three_wirekit_clients_broadcast_and_quit() {
    let (_srv, addr) = serve_chat(&[]);
    let a = addr.to_string();
    // One at a time, each named before the next arrives.
    let mut clients: Vec<Proc> = Vec::new();
    for i in 1..=3 {
        let name = format!("c{i}");
        let mut p = Proc::spawn(&name, wirekit(&["chat", &a, "--name", &name]));
        p.wait_out(&format!("is now c{i}"));
        clients.push(p);
    }
    for c in &mut clients {
        c.wait_out("is now c3");
    }
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(&format!("line from c{}\n", i + 1));
    }
    for c in &mut clients {
        for j in 1..=3 {
            c.wait_out(&format!(" c{j}\nline from c{j}\n\n"));
        }
    }
    clients[0].send("quit\n");
    assert!(clients[0].wait_exit().success());
    clients[1].wait_out("c1 left");
    clients[2].wait_out("c1 left");
    clients[1].send("/who\n");
    clients[1].wait_out("online (2): c2, c3");
    for c in &mut clients[1..] {
        c.send("quit\n");
        assert!(c.wait_exit().success());
    }
}

#[test]
fn stalled_reader_is_dropped_while_others_keep_receiving() {
    let (_srv, addr) = serve_chat(&["--chat-queue", "16"]);
    let mut reader = Raw::connect(addr);
    reader.until("joined (1 online)");
    let stalled = Raw::connect(addr);
    let stalled_addr = ip_port(stalled.local());
    reader.until("joined (2 online)");
    let sender = Raw::connect(addr);
    reader.until("joined (3 online)");
    // The sender's own copies are drained by a thread.
    let mut w = sender.writer();
    let drain = std::thread::spawn(move || {
        let mut sender = sender;
        sender.until_closed().len()
    });
    // Batches of 8 lines, each confirmed by the reader before the next, so
    // the reader never has more than 8 frames (plus notices) queued and
    // cannot be the slow one. Bounded: about 48 MB at most.
    let filler = "z".repeat(1000);
    let mut dropped = None;
    for batch in 0..6000 {
        let mut chunk = String::new();
        for i in 0..7 {
            chunk.push_str(&format!("{filler} {batch}/{i}\n"));
        }
        chunk.push_str(&format!("end of batch {batch}\n"));
        w.write_all(chunk.as_bytes()).unwrap();
        loop {
            let f = reader.frame().expect("the reader stays connected");
            if f.body.contains("was disconnected") {
                dropped = Some(f.body.clone());
            }
            if f.body == format!("end of batch {batch}") {
                break;
            }
        }
        if dropped.is_some() {
            break;
        }
    }
    let notice = dropped.expect("the stalled client was never dropped");
    assert_eq!(
        notice,
        format!("* {stalled_addr} was disconnected: too slow: outgoing queue full")
    );
    w.write_all(b"after the drop\n").unwrap();
    reader.until("after the drop");
    reader.send(b"/who\n");
    assert!(reader.until("online (").body.starts_with("* online (2)"));
    // The drain thread ends when the server (killed on drop) closes the
    // sender's connection.
    drop(drain);
}

#[test]
fn over_long_line_is_refused_and_the_connection_kept() {
    let (_srv, addr) = serve_chat(&["--chat-max-line", "64"]);
    let mut a = Raw::connect(addr);
    a.until("joined (1 online)");
    let mut b = Raw::connect(addr);
    a.until("joined (2 online)");
    let long = "L".repeat(65);
    a.send(format!("{long}\n{}\n", "s".repeat(64)).as_bytes());
    let notice = a.until("was not sent");
    assert_eq!(notice.body, "* line longer than 64 bytes was not sent");
    assert_eq!(sender_of(&notice.head), "server");
    assert_eq!(a.until("sss").body, "s".repeat(64));
    // b never sees the refused line: the next said line is the short one.
    let f = b.until("sss");
    assert_eq!(f.body, "s".repeat(64));
    a.send(b"still works\n");
    b.until("still works");
}

#[test]
fn two_hundred_clients_join_and_leave_concurrently() {
    let (_srv, addr) = serve_chat(&[]);
    let mut watch = Raw::connect(addr);
    watch.until("joined (1 online)");
    let w = watch.writer();
    let observer = std::thread::spawn(move || {
        let mut hellos = 0;
        loop {
            let f = watch.frame().expect("observer stays connected");
            if f.body.starts_with("hello from ") {
                hellos += 1;
            }
            if f.body.starts_with("* online (") {
                return (hellos, f.body);
            }
        }
    });
    let workers: Vec<_> = (0..20)
        .map(|t| {
            std::thread::spawn(move || {
                for k in 0..10 {
                    let mut c = Raw::connect(addr);
                    let line = format!("hello from {t}/{k}");
                    c.send(format!("{line}\n").as_bytes());
                    c.until(&line);
                    c.send(b"quit\n");
                    c.until_closed();
                }
            })
        })
        .collect();
    for wk in workers {
        wk.join().expect("client thread");
    }
    let mut w = w;
    w.write_all(b"/who\n").unwrap();
    let (hellos, who) = observer.join().expect("observer");
    assert_eq!(hellos, 200);
    assert!(who.starts_with("* online (1): 127.0.0.1:"), "{who}");
}

#[test]
fn shutdown_tells_every_client_and_exits() {
    let (mut srv, addr) = serve_chat(&[]);
    let mut a = Raw::connect(addr);
    let mut b = Raw::connect(addr);
    a.until("joined (2 online)");
    b.until("joined (2 online)");
    srv.signal("INT");
    for c in [&mut a, &mut b] {
        let f = c.until("stopping");
        assert_eq!(f.body, "* server is stopping");
        assert!(c.until_closed().is_empty());
    }
    let status = srv
        .wait_timeout(Duration::from_secs(30))
        .expect("server exits");
    assert!(status.success(), "{status:?}");
}

#[test]
fn chat_client_reports_bad_arguments() {
    let out = run_with_timeout(
        wirekit(&["chat", "127.0.0.1:1", "--name", "a b"]),
        b"",
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nickname"),
        "{out:?}"
    );
    let out = run_with_timeout(
        wirekit(&[
            "serve",
            "--listen",
            "chat=127.0.0.1:0",
            "--chat-max-line",
            "5000",
        ]),
        b"",
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
}

#[test]
fn idle_timeout_close_still_leaves_the_room() {
    let (_srv, addr) = serve_chat(&["--idle-timeout", "1"]);
    let mut a = Raw::connect(addr);
    a.until("joined (1 online)");
    let b = Raw::connect(addr);
    let b_addr = ip_port(b.local());
    a.until("joined (2 online)");
    // a keeps its own connection busy with /who (answered to a only);
    // b moves no bytes and is closed by the framework's idle timeout.
    let left = format!("{b_addr} left");
    let mut seen = false;
    for _ in 0..100 {
        a.send(b"/who\n");
        let f = a.frame().expect("a stays connected");
        if f.body == format!("* {left}") {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(seen, "b's idle close was never announced");
    a.send(b"/who\n");
    assert!(a.until("online (").body.starts_with("* online (1): "));
    drop(b);
}

#[test]
fn ipv6_peers_are_shown_like_the_seed_shows_them() {
    let srv = Server::start(&["serve", "--listen", "chat=[::1]:0"], 1);
    let addr = srv.addr("chat", "tcp");
    let mut a = Raw::connect(addr);
    a.send(b"over v6\n");
    let f = a.until("over v6");
    // Python's "{}:{}".format(*addr) on an IPv6 address: no brackets.
    assert_eq!(sender_of(&f.head), format!("::1:{}", a.local().port()));
}
