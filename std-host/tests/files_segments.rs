//! Issue 13 item 14's last case, over real sockets: SIGTERM while a
//! native `get` is sending the file's bytes. The client asks for the file
//! in segments, so the server stops between two and says "server is
//! shutting down"; the client says so, keeps its partial, and a later
//! `get` resumes it to the right md5.

wirekit_testkit::kit!();

mod common_files;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common_files::{md5_file, serve, stderr, T};
use kit::{run_with_timeout, temp_dir, wirekit, Server};

fn kill(sig: &str, pid: u32) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(ok.success(), "kill -{sig} {pid}");
}

#[test]
fn sigterm_mid_get_tells_the_client_which_keeps_its_partial() {
    let (root, work) = (temp_dir("fseg-root"), temp_dir("fseg-work"));
    // Large enough that a debug-build transfer (hashing as it sends)
    // takes seconds, so it can be caught in the middle.
    let block: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 13 + i / 97) as u8).collect();
    let mut f = std::fs::File::create(root.join("big.bin")).unwrap();
    for i in 0..256u32 {
        let mut b = block.clone();
        b[..4].copy_from_slice(&i.to_le_bytes());
        std::io::Write::write_all(&mut f, &b).unwrap();
    }
    drop(f);
    let root_s = root.to_str().unwrap();
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "files=127.0.0.1:0",
            "--root",
            root_s,
            "--shutdown-grace",
            "20",
        ],
        1,
    );
    let a = srv.addr("files", "tcp").to_string();
    let out = work.join("big.bin");
    let part = work.join(".big.bin.wirekit-part");
    let mut get = wirekit(&["get", &a, "big.bin", "-o", out.to_str().unwrap()]);
    get.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = get.spawn().unwrap();
    let deadline = Instant::now() + T;
    while std::fs::metadata(&part).map_or(0, |m| m.len()) == 0 {
        assert!(Instant::now() < deadline, "the download never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Hold the client still: the server fills the socket and waits in
    // the middle of a segment when the signal comes.
    kill("STOP", child.id());
    std::thread::sleep(Duration::from_millis(300));
    srv.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    kill("CONT", child.id());
    let deadline = Instant::now() + T;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the client did not finish");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(255), "{err}");
    assert!(err.contains("the server is shutting down"), "{err}");
    assert!(
        err.contains("kept in") && err.contains("to resume run"),
        "{err}"
    );
    let kept = std::fs::metadata(&part).unwrap().len();
    assert!(kept > 0 && kept < 256 << 20, "{kept}");
    drop(srv);

    // A new server; the partial is resumed, not fetched again.
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let again = run_with_timeout(
        wirekit(&["get", &a, "big.bin", "-o", out.to_str().unwrap()]),
        b"",
        T,
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(md5_file(&out), md5_file(&root.join("big.bin")));
    assert!(!part.exists());
}
