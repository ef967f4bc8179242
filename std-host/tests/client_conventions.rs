//! Issue 17 items 4, 6 and 7 over real sockets: Ctrl-C during a download
//! says what was kept and how to resume; `-o -` and `put ADDR -` use
//! stdout and stdin; `exec ADDR CMD…` needs no `--`; a closed pipe ends the
//! client quietly; every client subcommand's help has EXAMPLES and the
//! exit-code table.

wirekit_testkit::kit!();

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kit::{run_with_timeout, stderr_text as stderr, temp_dir, wirekit, wirekit_bin, Server};

const T: Duration = Duration::from_secs(60);

fn serve(root: &Path) -> Server {
    Server::start(
        &[
            "serve",
            "--listen",
            "files=127.0.0.1:0",
            "--listen",
            "exec=127.0.0.1:0",
            "--exec-insecure",
            "--root",
            root.to_str().unwrap(),
        ],
        2,
    )
}

#[test]
fn exec_without_double_dash_and_quiet_closed_pipe() {
    let root = temp_dir("cc-root");
    let srv = serve(&root);
    let e = srv.addr("exec", "tcp").to_string();
    let out = run_with_timeout(wirekit(&["exec", &e, "echo", "-n", "a", "b"]), b"", T);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, b"a b");
    let line = format!("'{}' exec {e} -- yes | head -2", wirekit_bin().display());
    let mut sh = Command::new("sh");
    sh.args(["-c", &line]);
    let out = run_with_timeout(sh, b"", T);
    assert_eq!(out.stdout, b"y\ny\n");
    assert_eq!(stderr(&out), "", "a closed pipe is no error to report");
}

#[test]
fn stdout_and_stdin_as_dash() {
    let (root, work) = (temp_dir("cc-root"), temp_dir("cc-work"));
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let out = run_with_timeout(wirekit(&["put", &a, "-", "in.txt"]), b"from stdin\n", T);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(root.join("in.txt")).unwrap(), b"from stdin\n");
    let mut cmd = wirekit(&["get", &a, "in.txt", "-o", "-"]);
    cmd.current_dir(&work);
    let out = run_with_timeout(cmd, b"", T);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, b"from stdin\n");
    assert_eq!(
        std::fs::read_dir(&work).unwrap().count(),
        0,
        "no file for -o -"
    );
}

#[test]
fn ctrl_c_says_what_was_kept_and_resume_continues() {
    let (root, work) = (temp_dir("cc-root"), temp_dir("cc-work"));
    // Not zeros (they become holes and would not grow the partial).
    let block: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8 | 1).collect();
    let mut f = std::io::BufWriter::new(std::fs::File::create(root.join("big.bin")).unwrap());
    for _ in 0..384 {
        f.write_all(&block).unwrap();
    }
    drop(f);
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let part = work.join(".big.bin.wirekit-part");
    let child = wirekit(&["get", &a, "big.bin"])
        .current_dir(&work)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + T;
    while std::fs::metadata(&part).map_or(0, |m| m.len()) < (4 << 20) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted:") && err.contains("bytes kept in"),
        "{err}"
    );
    assert!(err.contains("to resume run:"), "{err}");
    let kept = std::fs::metadata(&part).unwrap().len();
    assert!(kept > 0);
    let mut cmd = wirekit(&["get", &a, "big.bin"]);
    cmd.current_dir(&work);
    let out = run_with_timeout(cmd, b"", T * 3);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("resuming:"), "{}", stderr(&out));
    assert_eq!(
        std::fs::metadata(work.join("big.bin")).unwrap().len(),
        384 << 20
    );
}

#[test]
fn client_help_has_examples_and_exit_codes() {
    for sub in ["exec", "shell", "get", "put", "ls"] {
        let out = run_with_timeout(wirekit(&[sub, "--help"]), b"", T);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("EXAMPLES:"), "{sub}: {text}");
        assert!(text.contains("EXIT STATUS"), "{sub}: {text}");
        assert!(text.contains("255"), "{sub}: {text}");
    }
}
