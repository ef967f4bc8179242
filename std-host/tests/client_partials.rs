//! Issue 17 items 3 and 4, over real sockets: a `.NAME.wirekit-part` file
//! exists only when it holds data worth resuming; `-o DIR` puts the file in
//! DIR; a local directory is refused before connecting; a partial left by
//! an earlier run is resumed by default (native) or kept with a clear
//! choice (seed dialects), never emptied silently; a failed md5 check is
//! not preceded by `done`.

wirekit_testkit::kit!();

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use kit::{run_with_timeout, serve_files as serve, stderr_text as stderr, temp_dir, wirekit};

const T: Duration = Duration::from_secs(60);

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn nothing_transferred_leaves_no_partial() {
    let work = temp_dir("cp-work");
    // A port nobody listens on.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let mut cmd = wirekit(&["get", &dead, "f.txt"]);
    cmd.current_dir(&work);
    let out = run_with_timeout(cmd, b"", T);
    assert!(!out.status.success());
    assert_eq!(entries(&work), Vec::<String>::new(), "{}", stderr(&out));
    let root = temp_dir("cp-root");
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let mut cmd = wirekit(&["get", &a, "missing.txt"]);
    cmd.current_dir(&work);
    let out = run_with_timeout(cmd, b"", T);
    assert!(!out.status.success());
    assert_eq!(entries(&work), Vec::<String>::new(), "{}", stderr(&out));
}

#[test]
fn output_directory_receives_the_file() {
    let (root, work) = (temp_dir("cp-root"), temp_dir("cp-work"));
    std::fs::write(root.join("f.txt"), b"hello").unwrap();
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let sub = work.join("sub");
    std::fs::create_dir(&sub).unwrap();
    for o in [format!("{}/", sub.display()), sub.display().to_string()] {
        let out = run_with_timeout(wirekit(&["get", &a, "f.txt", "-o", &o, "--force"]), b"", T);
        assert!(out.status.success(), "-o {o}: {}", stderr(&out));
        assert_eq!(std::fs::read(sub.join("f.txt")).unwrap(), b"hello");
        assert_eq!(entries(&work), vec!["sub".to_string()], "-o {o}");
        assert_eq!(entries(&sub), vec!["f.txt".to_string()], "-o {o}");
    }
}

#[test]
fn put_of_a_directory_is_refused_before_connecting() {
    let (root, work) = (temp_dir("cp-root"), temp_dir("cp-work"));
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let out = run_with_timeout(wirekit(&["put", &a, work.to_str().unwrap(), "d"]), b"", T);
    assert_eq!(out.status.code(), Some(255));
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(entries(&root), Vec::<String>::new());
}

#[test]
fn an_existing_partial_is_resumed_not_discarded() {
    let (root, work) = (temp_dir("cp-root"), temp_dir("cp-work"));
    let body = data(300_000);
    std::fs::write(root.join("big.bin"), &body).unwrap();
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let part = work.join(".big.bin.wirekit-part");
    std::fs::write(&part, &body[..100_000]).unwrap();
    let mut cmd = wirekit(&["get", &a, "big.bin"]);
    cmd.current_dir(&work);
    let out = run_with_timeout(cmd, b"", T);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("resuming: 100000 bytes kept"), "{err}");
    assert!(err.contains("starting at 100000"), "{err}");
    assert_eq!(std::fs::read(work.join("big.bin")).unwrap(), body);
    assert!(!part.exists());
}

#[test]
fn md5_error_is_not_preceded_by_done() {
    let (root, work) = (temp_dir("cp-root"), temp_dir("cp-work"));
    let body = data(300_000);
    std::fs::write(root.join("big.bin"), &body).unwrap();
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let part = work.join(".big.bin.wirekit-part");
    std::fs::write(&part, vec![0xAAu8; 100_000]).unwrap();
    let mut cmd = wirekit(&["get", &a, "big.bin", "--resume"]);
    cmd.current_dir(&work);
    let out = run_with_timeout(cmd, b"", T);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(err.contains("md5 mismatch"), "{err}");
    assert!(!err.contains("done"), "{err}");
    assert!(!work.join("big.bin").exists());
}

#[test]
fn seed_dialect_keeps_a_partial_and_offers_a_choice() {
    let (root, work) = (temp_dir("cp-root"), temp_dir("cp-work"));
    std::fs::write(root.join("f.txt"), b"hello world\n").unwrap();
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let part = work.join(".f.txt.wirekit-part");
    std::fs::write(&part, b"hello").unwrap();
    let mut cmd = wirekit(&["get", &a, "f.txt", "--dialect", "seed000"]);
    cmd.current_dir(&work);
    let out = run_with_timeout(cmd, b"", T);
    assert_eq!(out.status.code(), Some(255), "{}", stderr(&out));
    assert!(stderr(&out).contains("--restart"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&part).unwrap(), b"hello");
    let mut cmd = wirekit(&["get", &a, "f.txt", "--dialect", "seed000", "--restart"]);
    cmd.current_dir(&work);
    let out = run_with_timeout(cmd, b"", T);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(work.join("f.txt")).unwrap(), b"hello world\n");
    assert!(!part.exists());
}

/// `-o` naming a device or a pipe (`-o /dev/null` is the common case)
/// writes into it: renaming the verified partial over it, as for a
/// regular file, replaced the device with a regular file (found when a
/// machine's /dev/null had become one). A named pipe stands in for the
/// device here, so a failure cannot damage the machine running the test.
#[test]
fn output_to_a_pipe_writes_into_it_and_leaves_it_a_pipe() {
    use std::os::unix::fs::FileTypeExt as _;
    let (root, work) = (temp_dir("cp-root"), temp_dir("cp-work"));
    let body = data(300_000);
    std::fs::write(root.join("f.bin"), &body).unwrap();
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let fifo = work.join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Read and write, so opening does not wait for the client and the
    // reader never sees an end of stream: it reads the file's length, and
    // the test waits for that with a deadline (a client that replaced the
    // pipe never writes into it).
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let (fifo, len) = (fifo.clone(), body.len());
        std::thread::spawn(move || {
            use std::io::Read as _;
            let mut f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&fifo)
                .unwrap();
            let mut got = vec![0u8; len];
            let _ = tx.send(f.read_exact(&mut got).map(|()| got));
        });
    }
    let out = run_with_timeout(
        wirekit(&["get", &a, "f.bin", "-o", fifo.to_str().unwrap()]),
        b"",
        T,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let got = rx.recv_timeout(Duration::from_secs(20));
    assert!(
        matches!(&got, Ok(Ok(g)) if *g == body),
        "the pipe did not get the file"
    );
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "{} is no longer a pipe", fifo.display());
    assert_eq!(entries(&work), ["pipe"], "no partial left beside it");
}
