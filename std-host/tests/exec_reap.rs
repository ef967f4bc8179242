//! Issue 13 item 10: nothing a command starts may outlive it, not even a
//! process that left the command's process group and session (`setsid`)
//! or was orphaned by a double fork.

wirekit_testkit::kit!();

use std::process::Command;
use std::time::{Duration, Instant};

use kit::{python, run_with_timeout, wirekit, Server};

const T: Duration = Duration::from_secs(60);

fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        // Not the `sh -c` that names the marker inside its script.
        if cmdline.starts_with("sleep ") && cmdline.contains(marker) {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

/// Waits (bounded) for every `sleep MARKER` process to be gone.
fn assert_no_process_with(marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_with(marker).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left = processes_with(marker);
    // Do not leave them behind for the next run either.
    for p in &left {
        if let Some(pid) = p.split(':').next() {
            let _ = std::process::Command::new("kill")
                .args(["-9", pid])
                .status();
        }
    }
    assert_eq!(
        left,
        Vec::<String>::new(),
        "processes outlived their command"
    );
}

#[test]
fn setsid_and_double_fork_do_not_outlive_the_command() {
    let s = Server::start(
        &[
            "serve",
            "--exec-insecure",
            "--listen",
            "exec=127.0.0.1:0",
            "--listen",
            "exec-len=127.0.0.1:0",
        ],
        2,
    );
    let addr = s.addr("exec", "tcp").to_string();
    for (cmd, marker) in [
        // A new session: out of reach of the process-group kill.
        ("setsid sleep 32101 >/dev/null 2>&1 & echo started", "32101"),
        // The same, keeping the output pipe open.
        ("setsid sleep 32102 & echo started", "32102"),
        // A double fork: the sleep's parent exits at once.
        ("sh -c '(setsid sleep 32202 &) &'; echo started", "32202"),
        (
            "sh -c '(sleep 32203 >/dev/null &) &'; echo started",
            "32203",
        ),
        // An escaped tree: killing the orphan orphans its child in turn.
        (
            "setsid sh -c 'sleep 32204 & wait' >/dev/null 2>&1 & sleep 0.5; echo started",
            "32204",
        ),
    ] {
        let out = run_with_timeout(wirekit(&["exec", &addr, "--", cmd]), b"", T);
        assert_eq!(out.stdout, b"started\n", "{cmd}");
        assert_eq!(out.status.code(), Some(0), "{cmd}");
        assert_no_process_with(marker);
    }
    // A seed client's command is supervised the same way.
    let port = s.addr("exec-len", "tcp").port().to_string();
    let out = run_with_timeout(
        python("seed001_exec_len_client.py", &["127.0.0.1", &port]),
        b"setsid sleep 32301 >/dev/null 2>&1 & echo started\n",
        T,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("started"));
    assert_no_process_with("32301");
}

#[test]
fn escaped_processes_die_at_the_timeout_too() {
    let s = Server::start(
        &[
            "serve",
            "--exec-insecure",
            "--exec-timeout",
            "1",
            "--listen",
            "exec=127.0.0.1:0",
        ],
        1,
    );
    let addr = s.addr("exec", "tcp").to_string();
    let cmd = "setsid sleep 32401 >/dev/null 2>&1 & echo started; sleep 32402";
    let out = run_with_timeout(wirekit(&["exec", &addr, "--", cmd]), b"", T);
    assert_eq!(out.status.code(), Some(124));
    assert_no_process_with("3240");
    // Exit codes still come through the supervisor.
    let out = run_with_timeout(wirekit(&["exec", &addr, "--", "exit 7"]), b"", T);
    assert_eq!(out.status.code(), Some(7));
    let out = run_with_timeout(wirekit(&["exec", &addr, "--", "kill -TERM $$"]), b"", T);
    assert_eq!(out.status.code(), Some(128 + 15));
}

#[test]
fn commands_get_the_open_file_limit_the_server_was_started_with() {
    // The server raises its own soft RLIMIT_NOFILE to the hard limit to hold
    // many connections; the commands it runs must not inherit that (a
    // shell's `ulimit -n`, select()-based programs break above 1024).
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "ulimit -Sn 256 && exec \"$0\" \"$@\""])
        .arg(kit::wirekit_bin())
        .args(["serve", "--exec-insecure", "--listen", "exec=127.0.0.1:0"]);
    let s = Server::spawn(cmd, 1);
    let addr = s.addr("exec", "tcp").to_string();
    let out = run_with_timeout(wirekit(&["exec", &addr, "--", "ulimit -Sn"]), b"", T);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "256\n");
    assert_eq!(out.status.code(), Some(0));
}
