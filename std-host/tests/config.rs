//! `wirekit serve --config FILE` (issue 18): the shipped example loads,
//! a server runs from a file, and a bad key stops it with a clear error.

wirekit_testkit::kit!();

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use kit::{run_with_timeout, temp_dir, wirekit, workspace_root, Server};

const T: Duration = Duration::from_secs(30);

#[test]
fn the_example_config_loads_and_every_key_in_it_takes_effect() {
    let example = workspace_root().join("contrib/wirekit.toml");
    let ex = example.to_str().unwrap();
    let out = run_with_timeout(
        wirekit(&["serve", "--config", ex, "--print-config"]),
        b"",
        T,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "max-connections = 10000  # from",
        "root = \"./wirekit-files\"  # from",
        "chat-queue = 1024  # from",
        "listen = [\"echo=127.0.0.1:8080\", \"udp-echo=127.0.0.1:8181\"",
    ] {
        assert!(text.contains(line), "{line} not in:\n{text}");
    }
}

#[test]
fn a_server_runs_from_a_config_file_and_flags_override_it() {
    let dir = temp_dir("config-run");
    let file = dir.join("w.toml");
    std::fs::write(
        &file,
        "listen = [\"echo=127.0.0.1:0\"]\nmax-connections = 1\nidle-timeout = 30\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    // --max-connections on the command line wins over the file's 1.
    let srv = Server::start(&["serve", "--config", f, "--max-connections", "2"], 1);
    let addr = srv.addr("echo", "tcp");
    let mut a = TcpStream::connect(addr).unwrap();
    let mut b = TcpStream::connect(addr).unwrap();
    for s in [&mut a, &mut b] {
        s.set_read_timeout(Some(T)).unwrap();
        s.write_all(b"hi").unwrap();
        let mut got = [0u8; 2];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"HI");
    }
}

#[test]
fn an_unknown_key_stops_the_server_naming_the_key() {
    let dir = temp_dir("config-bad");
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "listen = [\"echo=127.0.0.1:0\"]\nmax-conections = 5\n",
    )
    .unwrap();
    let out = run_with_timeout(
        wirekit(&["serve", "--config", file.to_str().unwrap()]),
        b"",
        T,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown key `max-conections`"), "{err}");
    assert!(
        out.stdout.is_empty(),
        "it started listening: {:?}",
        out.stdout
    );
}
