//! File transfer (issue 5) guarantees beyond the transfers themselves,
//! over real loopback sockets: the idle timeout, never overwriting a
//! local or remote file unasked, the md5 cache, and the seed 002
//! dialect's 2 GiB limit.

wirekit_testkit::kit!();

mod common_files;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common_files::*;
use kit::{run_with_timeout, temp_dir, wirekit, Server};

/// `wirekit serve` with only the files listener and extra options.
fn serve_with(root: &Path, extra: &[&str]) -> Server {
    let mut args = vec![
        "serve",
        "--listen",
        "files=127.0.0.1:0",
        "--root",
        root.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Server::start(&args, 1)
}

/// Reads until the peer closes (EOF or reset); false if it is still open
/// after `limit`.
fn closed_within(mut s: TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn silent_connections_are_closed_after_the_idle_timeout() {
    let (root, work) = (temp_dir("fg-root"), temp_dir("fg-work"));
    std::fs::write(root.join("a.txt"), text_file()).unwrap();
    let srv = serve_with(&root, &["--idle-timeout", "1"]);
    let a = srv.addr("files", "tcp");
    // One says nothing; one stops in the middle of a native frame (a
    // prefix announcing a 100-byte header, then 10 bytes of it).
    let silent = TcpStream::connect(a).unwrap();
    let mut half = TcpStream::connect(a).unwrap();
    half.write_all(&100u32.to_be_bytes()).unwrap();
    half.write_all(b"{\"op\":\"get").unwrap();
    // A transfer on another connection meanwhile is unaffected.
    let out = in_dir(wirekit(&["get", &a.to_string(), "a.txt"]), &work);
    let out = run_with_timeout(out, b"", T);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(md5_file(&work.join("a.txt")), md5_file(&root.join("a.txt")));
    // Generous deadlines: the assertion is that they close, not when.
    assert!(closed_within(silent, Duration::from_secs(30)));
    assert!(closed_within(half, Duration::from_secs(30)));
}

#[test]
fn get_never_overwrites_a_local_file_unasked() {
    let (root, work) = (temp_dir("fg-root"), temp_dir("fg-work"));
    std::fs::write(root.join("a.txt"), text_file()).unwrap();
    std::fs::write(work.join("a.txt"), b"mine").unwrap();
    let srv = serve_with(&root, &[]);
    let a = srv.addr("files", "tcp").to_string();
    let get = |extra: &[&str]| {
        let mut args = vec!["get", a.as_str(), "a.txt"];
        args.extend_from_slice(extra);
        let out = run_with_timeout(in_dir(wirekit(&args), &work), b"", T);
        assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
    };
    let remote = md5_file(&root.join("a.txt"));
    get(&[]);
    get(&[]);
    assert_eq!(std::fs::read(work.join("a.txt")).unwrap(), b"mine");
    assert_eq!(md5_file(&work.join("a.txt(1)")), remote);
    assert_eq!(md5_file(&work.join("a.txt(2)")), remote);
    // -o writes exactly there, existing or not.
    std::fs::write(work.join("chosen"), b"old").unwrap();
    get(&["-o", "chosen"]);
    assert_eq!(md5_file(&work.join("chosen")), remote);
    assert!(!work.join("a.txt(3)").exists());
    // --force replaces the file of the same name.
    get(&["--force"]);
    assert_eq!(md5_file(&work.join("a.txt")), remote);
    assert!(!work.join("a.txt(3)").exists());
}

#[test]
fn put_never_overwrites_a_remote_file_without_force() {
    let (root, work) = (temp_dir("fg-root"), temp_dir("fg-work"));
    std::fs::write(root.join("b.txt"), b"theirs").unwrap();
    std::fs::write(work.join("b.txt"), text_file()).unwrap();
    let srv = serve_with(&root, &[]);
    let a = srv.addr("files", "tcp").to_string();
    let local = work.join("b.txt");
    let local = local.to_str().unwrap();
    let out = run_with_timeout(wirekit(&["put", &a, local]), b"", T);
    assert!(
        !out.status.success(),
        "an existing remote file was replaced"
    );
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "one-line reason: {err}");
    assert!(err.contains("exists"), "{err}");
    assert_eq!(std::fs::read(root.join("b.txt")).unwrap(), b"theirs");
    let out = run_with_timeout(wirekit(&["put", &a, local, "--force"]), b"", T);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(root.join("b.txt")).unwrap(), text_file());
}

/// The `hit=` values of the server's md5 cache lookups for `name` so far,
/// once there are `n` of them (or whatever arrived within 30 s). `log`
/// keeps the server's lines across calls (reading them drains them).
fn cache_lookups(srv: &Server, log: &mut Vec<String>, name: &str, n: usize) -> Vec<bool> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        log.extend(srv.stderr_lines());
        let hits: Vec<bool> = log
            .iter()
            .filter(|l| l.contains("md5 cache") && l.contains(&format!("name=\"{name}\"")))
            .map(|l| l.contains("hit=true"))
            .collect();
        if hits.len() >= n || Instant::now() > deadline {
            return hits;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn repeated_gets_use_the_cached_md5_until_the_file_changes() {
    let (root, work) = (temp_dir("fg-root"), temp_dir("fg-work"));
    let path = root.join("c.bin");
    std::fs::write(&path, text_file()).unwrap();
    let mut cmd = std::process::Command::new(kit::wirekit_bin());
    cmd.args(["serve", "--listen", "files=127.0.0.1:0", "--root"])
        .arg(&root)
        .env("RUST_LOG", "wirekit_host::services::files=debug");
    let srv = Server::spawn(cmd, 1);
    let a = srv.addr("files", "tcp").to_string();
    let mut log = Vec::new();
    let get = || {
        let out = in_dir(wirekit(&["get", &a, "c.bin", "--force"]), &work);
        let out = run_with_timeout(out, b"", T);
        assert!(out.status.success(), "{}", stderr(&out));
        md5_file(&work.join("c.bin"))
    };
    assert_eq!(get(), md5_file(&path));
    assert_eq!(get(), md5_file(&path));
    assert_eq!(cache_lookups(&srv, &mut log, "c.bin", 2), [false, true]);
    // New content (and so a new mtime and size): hashed again, and the
    // client's own check proves the md5 it got is the new one.
    std::fs::write(&path, b"changed").unwrap();
    assert_eq!(get(), md5_file(&path));
    assert_eq!(
        cache_lookups(&srv, &mut log, "c.bin", 3),
        [false, true, false]
    );
    // An upload's verified md5 is remembered for the next get.
    let up = work.join("d.bin");
    std::fs::write(&up, b"uploaded").unwrap();
    let out = run_with_timeout(wirekit(&["put", &a, up.to_str().unwrap()]), b"", T);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = in_dir(wirekit(&["get", &a, "d.bin", "-o", "d.copy"]), &work);
    assert!(run_with_timeout(out, b"", T).status.success());
    assert_eq!(cache_lookups(&srv, &mut log, "d.bin", 1), [true]);
}

#[test]
fn seed002_dialect_refuses_sizes_its_int_cannot_hold() {
    let (root, work) = (temp_dir("fg-root"), temp_dir("fg-work"));
    // One byte more than `struct.pack('i')` can announce; sparse.
    let big = 1u64 << 31;
    std::fs::File::create(root.join("big.bin"))
        .unwrap()
        .set_len(big)
        .unwrap();
    std::fs::write(root.join("small.txt"), b"small").unwrap();
    let srv = serve_with(&root, &[]);
    let a = srv.addr("files", "tcp").to_string();
    let out = in_dir(
        wirekit(&["get", &a, "big.bin", "--dialect", "seed002"]),
        &work,
    );
    let out = run_with_timeout(out, b"", T);
    assert!(!out.status.success(), "a 2 GiB file went over seed 002");
    let err = stderr(&out);
    assert!(err.contains("2 GiB or more"), "{err}");
    assert!(!work.join("big.bin").exists());
    let deadline = Instant::now() + T;
    while !srv
        .stderr_lines()
        .iter()
        .any(|l| l.contains("do not fit its 'i' size field"))
    {
        assert!(Instant::now() < deadline, "no warning in the server log");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The server goes on serving, in both dialects; the native listing
    // reports the real size.
    let out = in_dir(
        wirekit(&["get", &a, "small.txt", "--dialect", "seed002"]),
        &work,
    );
    let out = run_with_timeout(out, b"", T);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(work.join("small.txt")).unwrap(), b"small");
    let out = run_with_timeout(wirekit(&["ls", &a]), b"", T);
    assert!(stdout(&out).contains(&big.to_string()), "{}", stdout(&out));

    // Uploading such a file over seed 002 is refused before any byte.
    let local = work.join("big.up");
    std::fs::File::create(&local).unwrap().set_len(big).unwrap();
    let out = run_with_timeout(
        wirekit(&["put", &a, local.to_str().unwrap(), "--dialect", "seed002"]),
        b"",
        T,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("32-bit int"), "{}", stderr(&out));
    assert!(!root.join("big.up").exists());
}
