//! Issue 17 items 1 and 2, over real sockets: the exec and files clients
//! recognise a busy or refusing server and the wrong kind of listener,
//! never hang on a silent one, and exit 255 (wirekit's own error) with a
//! one-line reason, whatever the dialect.

wirekit_testkit::kit!();

use std::net::{TcpListener, TcpStream};
use std::process::Output;
use std::time::{Duration, Instant};

use kit::{run_with_timeout, stderr_text as stderr, temp_dir, wirekit, Server};

const T: Duration = Duration::from_secs(60);

/// Exit code 255 and one line on stderr containing `words`.
fn assert_refused(o: &Output, words: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(255), "{err}");
    assert!(err.contains(words), "want {words:?} in {err:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
}

/// Connects and waits until the server has taken it as its one connection.
fn hold(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    s
}

#[test]
fn busy_server_is_a_refusal_not_data() {
    let root = temp_dir("cr-root");
    std::fs::write(root.join("f.txt"), b"hello").unwrap();
    let work = temp_dir("cr-work");
    let local = work.join("up.txt");
    std::fs::write(&local, b"up").unwrap();
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "files=127.0.0.1:0",
            "--listen",
            "exec=127.0.0.1:0",
            "--exec-insecure",
            "--max-connections",
            "1",
            "--root",
            root.to_str().unwrap(),
        ],
        2,
    );
    let files = srv.addr("files", "tcp");
    let _held = hold(files);
    let a = files.to_string();
    let o = work.join("f.txt");
    for args in [
        vec!["ls", &a],
        vec!["get", &a, "f.txt", "-o", o.to_str().unwrap()],
        vec!["put", &a, local.to_str().unwrap()],
    ] {
        let out = run_with_timeout(wirekit(&args), b"", T);
        assert_refused(&out, "server busy");
    }
    assert!(!o.exists());
    // The limit is over all services: the files connection still holds it.
    let e = srv.addr("exec", "tcp").to_string();
    for d in ["native", "exec", "len", "ack"] {
        let out = run_with_timeout(
            wirekit(&["exec", "--dialect", d, &e, "--", "echo", "hi"]),
            b"",
            T,
        );
        assert_refused(&out, "server busy");
        assert!(out.stdout.is_empty(), "{d}: busy line taken as output");
    }
}

#[test]
fn wrong_listener_is_named_with_the_right_dialect() {
    let root = temp_dir("cr-root");
    std::fs::write(root.join("f.txt"), b"hello").unwrap();
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "exec-ack=127.0.0.1:0",
            "--listen",
            "exec-len=127.0.0.1:0",
            "--listen",
            "files-ack=127.0.0.1:0",
            "--listen",
            "echo=127.0.0.1:0",
            "--exec-insecure",
            "--root",
            root.to_str().unwrap(),
        ],
        4,
    );
    let ack = srv.addr("exec-ack", "tcp").to_string();
    let len = srv.addr("exec-len", "tcp").to_string();
    let fack = srv.addr("files-ack", "tcp").to_string();
    let echo = srv.addr("echo", "tcp").to_string();
    let run = |args: &[&str]| run_with_timeout(wirekit(args), b"", T);
    assert_refused(&run(&["exec", &ack, "--", "true"]), "--dialect ack");
    assert_refused(
        &run(&["exec", "--dialect", "len", &ack, "--", "true"]),
        "--dialect ack",
    );
    assert_refused(
        &run(&["exec", "--dialect", "ack", &len, "--", "true"]),
        "--dialect len",
    );
    assert_refused(&run(&["exec", &echo, "--", "true"]), "echo listener");
    let work = temp_dir("cr-work");
    let o = work.join("f.txt");
    let o = o.to_str().unwrap();
    assert_refused(&run(&["get", &fack, "f.txt", "-o", o]), "--dialect seed004");
    assert_refused(&run(&["get", &echo, "f.txt", "-o", o]), "echo listener");
    assert_refused(&run(&["ls", &echo]), "echo listener");
}

#[test]
fn silent_server_times_out() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap().to_string();
    let started = Instant::now();
    let out = run_with_timeout(
        wirekit(&["exec", "--timeout", "1", &a, "--", "true"]),
        b"",
        T,
    );
    assert_refused(&out, "no answer");
    let out = run_with_timeout(wirekit(&["ls", "--timeout", "1", &a]), b"", T);
    assert_refused(&out, "no answer");
    assert!(started.elapsed() < Duration::from_secs(20));
    drop(l);
}

#[test]
fn seed_dialect_refusals_exit_255() {
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "exec-len=127.0.0.1:0",
            "--listen",
            "exec-ack=127.0.0.1:0",
            "--listen",
            "exec=127.0.0.1:0",
            "--exec-insecure",
            "--exec-allow",
            "10.0.0.0/8",
        ],
        3,
    );
    for (svc, d) in [
        ("exec-len", "len"),
        ("exec-ack", "ack"),
        ("exec", "exec"),
        ("exec", "native"),
    ] {
        let a = srv.addr(svc, "tcp").to_string();
        let out = run_with_timeout(
            wirekit(&["exec", "--dialect", d, &a, "--", "echo", "hi"]),
            b"",
            T,
        );
        assert_refused(&out, "not allowed");
        assert!(
            out.stdout.is_empty(),
            "{d}: {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
