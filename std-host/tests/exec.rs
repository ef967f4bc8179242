//! Issue 4 (remote exec) end to end: the real `wirekit` binary against the
//! seeds' Python clients and servers and against itself, over loopback.

wirekit_testkit::kit!();

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kit::{python, run_with_timeout, temp_dir, wirekit, Server};

const T: Duration = Duration::from_secs(60);
/// 100 KB of output, then the sticky-packet question: does the next
/// command's reply start clean?
const BIG: &str = "head -c 100000 /dev/zero | tr '\\0' x";

fn serve(extra: &[&str]) -> Server {
    let mut args = vec![
        "serve",
        "--listen",
        "exec=127.0.0.1:0",
        "--listen",
        "exec-len=127.0.0.1:0",
        "--listen",
        "exec-ack=127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    Server::start(&args, 3)
}

fn addr(s: &Server, service: &str) -> String {
    s.addr(service, "tcp").to_string()
}

/// A seed Python server on a free loopback port, killed when dropped.
struct PyServer {
    child: Child,
    port: u16,
}

impl PyServer {
    fn start(script: &str) -> PyServer {
        let mut child = python(script, &["127.0.0.1", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn python");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        out.read_line(&mut line).expect("listening line");
        // Keep draining its prints so it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{script} printed {line:?}"));
        PyServer { child, port }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stdout_of(cmd: Command, stdin: &[u8]) -> String {
    let out = run_with_timeout(cmd, stdin, T);
    assert!(
        out.status.success(),
        "{:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The 100 KB of x's arrived whole, and the next command's output came
/// after them, not inside them.
fn assert_not_sticky(out: &str) {
    // The JSON-header client also prints each header (with an x in
    // "exit_code"); count only output lines.
    let out: String = out
        .lines()
        .filter(|l| !l.starts_with('{'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(out.contains("hello"), "{out:.300}");
    assert_eq!(out.matches('x').count(), 100_000, "{out:.300}");
    let xs = out
        .find(&"x".repeat(100_000))
        .expect("the x's arrive in one run");
    let second = out.rfind("second").expect("second command answered");
    // `>=`: without a prompt (stdin is a pipe) the second reply may
    // follow the x's directly.
    assert!(second >= xs + 100_000, "second reply after the 100 KB");
}

fn script() -> Vec<u8> {
    format!("echo hello\n{BIG}\necho second\n").into_bytes()
}

#[test]
fn seed_clients_against_wirekit_in_every_dialect() {
    let s = serve(&["--exec-insecure"]);
    for (client, service) in [
        ("seed001_exec_json_client.py", "exec"),
        ("seed001_exec_len_client.py", "exec-len"),
        ("seed004_exec_ack_client.py", "exec-ack"),
    ] {
        let a = s.addr(service, "tcp");
        let port = a.port().to_string();
        let out = stdout_of(python(client, &["127.0.0.1", &port]), &script());
        assert_not_sticky(&out);
        if service == "exec" {
            assert!(out.contains("'total_size': 100000"), "{out:.300}");
            assert!(out.contains("'exit_code': 0"), "{out:.300}");
        }
    }
}

#[test]
fn wirekit_client_against_seed_servers() {
    for (server, dialect) in [
        ("seed001_exec_json_server.py", "exec"),
        ("seed001_exec_len_server.py", "len"),
        ("seed004_exec_ack_server.py", "ack"),
    ] {
        let py = PyServer::start(server);
        let cmd = wirekit(&["shell", &py.addr(), "--dialect", dialect]);
        assert_not_sticky(&stdout_of(cmd, &script()));
    }
    let py = PyServer::start("seed001_exec_json_server.py");
    let cmd = wirekit(&[
        "exec",
        &py.addr(),
        "--dialect",
        "exec",
        "--",
        "echo",
        "one",
        "two",
    ]);
    assert_eq!(stdout_of(cmd, b""), "one two\n");
}

#[test]
fn wirekit_shell_is_not_sticky_in_any_dialect() {
    let s = serve(&["--exec-insecure"]);
    for (service, dialect) in [
        ("exec", "native"),
        ("exec", "exec"),
        ("exec-len", "len"),
        ("exec-ack", "ack"),
    ] {
        let cmd = wirekit(&["shell", &addr(&s, service), "--dialect", dialect]);
        let out = stdout_of(cmd, &script());
        assert_not_sticky(&out);
        // stdin is a pipe, not a terminal: no prompt (issue 17 item 6).
        assert!(!out.contains(">>> "), "{dialect}: {out:.100}");
    }
}

#[test]
fn raw_bytes_streams_and_exit_code() {
    let s = serve(&["--exec-insecure"]);
    let cmd = wirekit(&[
        "exec",
        &addr(&s, "exec"),
        "--",
        "printf '\\377\\376\\344\\275'; printf '\\200' >&2; exit 3",
    ]);
    let out = run_with_timeout(cmd, b"", T);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stdout, b"\xff\xfe\xe4\xbd");
    assert_eq!(out.stderr, b"\x80");
}

fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(marker) {
            found.push(cmdline);
        }
    }
    found
}

/// Waits (bounded) for every process whose command line holds `marker`
/// to be gone; SIGKILL takes effect asynchronously.
fn assert_no_process_with(marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_with(marker).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        processes_with(marker),
        Vec::<String>::new(),
        "orphans left running"
    );
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let s = serve(&["--exec-insecure", "--exec-timeout", "1"]);
    let cmd = wirekit(&[
        "exec",
        &addr(&s, "exec"),
        "--",
        "sleep 3171 & sleep 3172 & echo started; wait",
    ]);
    let out = run_with_timeout(cmd, b"", T);
    assert_eq!(out.status.code(), Some(124));
    assert_eq!(out.stdout, b"started\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("timed out after 1 s; process group killed"),
        "{err}"
    );
    assert_no_process_with("sleep 317");
    // A seed client sees the marker too.
    let port = s.addr("exec-len", "tcp").port().to_string();
    let out = stdout_of(
        python("seed001_exec_len_client.py", &["127.0.0.1", &port]),
        b"sleep 3173\n",
    );
    assert!(
        out.contains("[wirekit: command timed out after 1 s"),
        "{out}"
    );
    assert_no_process_with("sleep 3173");
}

#[test]
fn output_cap_truncates_with_a_marker() {
    let s = serve(&["--exec-insecure", "--exec-max-output", "5000"]);
    let out = run_with_timeout(wirekit(&["exec", &addr(&s, "exec"), "--", "yes"]), b"", T);
    assert_eq!(out.status.code(), Some(137));
    assert_eq!(out.stdout.len(), 5000);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[wirekit: output truncated at 5000 bytes"),
        "{err}"
    );
    let port = s.addr("exec", "tcp").port().to_string();
    let out = stdout_of(
        python("seed001_exec_json_client.py", &["127.0.0.1", &port]),
        b"yes\necho fine\n",
    );
    assert!(out.contains("'truncated': True"), "{out:.300}");
    assert!(out.contains("output truncated at 5000 bytes"), "{out:.300}");
    assert!(out.trim_end().ends_with("fine"), "{out:.300}");
}

fn token_file(dir: &std::path::Path, name: &str, token: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, token).expect("write token");
    p.display().to_string()
}

#[test]
fn token_is_required_and_checked() {
    let dir = temp_dir("exec-token");
    let good = token_file(&dir, "good", "0123456789abcdef-secret\n");
    let bad = token_file(&dir, "bad", "0123456789abcdef-wrong");
    let s = Server::start(
        &[
            "serve",
            "--listen",
            "exec=127.0.0.1:0",
            "--exec-token-file",
            &good,
        ],
        1,
    );
    let a = addr(&s, "exec");
    let out = run_with_timeout(wirekit(&["exec", &a, "--", "echo", "hi"]), b"", T);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("requires a token"));
    let out = run_with_timeout(
        wirekit(&["exec", &a, "--token-file", &bad, "--", "echo", "hi"]),
        b"",
        T,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("authentication failed"));
    // The seeds' clients cannot authenticate: they get a readable refusal.
    let port = s.addr("exec", "tcp").port().to_string();
    let out = stdout_of(
        python("seed001_exec_json_client.py", &["127.0.0.1", &port]),
        b"echo hi\n",
    );
    assert!(out.contains("authentication required"), "{out}");
    assert!(!out.contains("\nhi\n"), "{out}");
    // And the server still serves the right token.
    let out = run_with_timeout(
        wirekit(&["exec", &a, "--token-file", &good, "--", "echo", "hi"]),
        b"",
        T,
    );
    assert_eq!(
        out.stdout,
        b"hi\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success());
}

#[test]
fn insecure_refuses_non_loopback_and_nothing_starts_without_a_mode() {
    for args in [
        &["serve", "--listen", "exec=0.0.0.0:0", "--exec-insecure"][..],
        &["serve", "--listen", "exec-len=127.0.0.1:0"][..],
    ] {
        let out = run_with_timeout(wirekit(args), b"", T);
        assert!(!out.status.success(), "{args:?} started");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--exec-insecure"), "{err}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    }
}

#[test]
fn clients_outside_the_allow_list_are_refused() {
    let s = serve(&["--exec-insecure", "--exec-allow", "10.0.0.0/8"]);
    let out = run_with_timeout(
        wirekit(&["exec", &addr(&s, "exec"), "--", "echo", "hi"]),
        b"",
        T,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not allowed"));
    let port = s.addr("exec-ack", "tcp").port().to_string();
    let out = stdout_of(
        python("seed004_exec_ack_client.py", &["127.0.0.1", &port]),
        b"echo hi\n",
    );
    assert!(out.contains("not allowed"), "{out}");
    let logged = s.stderr_lines().join("\n");
    assert!(logged.contains("refused"), "{logged}");
}

fn frame(header: &str, body: &[u8]) -> Vec<u8> {
    let mut f = (header.len() as u32).to_le_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    f.extend_from_slice(body);
    f
}

#[test]
fn server_survives_a_client_leaving_mid_output() {
    let s = serve(&["--exec-insecure"]);
    let cmd = b"while :; do echo 5150515051505150; done";
    for _ in 0..3 {
        let mut c = TcpStream::connect(s.addr("exec", "tcp")).expect("connect");
        c.write_all(&frame(r#"{"op":"hello"}"#, b"")).unwrap();
        let exec = format!(r#"{{"op":"exec","total_size":{}}}"#, cmd.len());
        c.write_all(&frame(&exec, cmd)).unwrap();
        let mut buf = [0u8; 4096];
        let mut got = 0;
        while got < 64 * 1024 {
            let n = c.read(&mut buf).expect("output streams");
            assert!(n > 0);
            got += n;
        }
        drop(c);
    }
    assert_no_process_with("5150515051505150");
    let out = run_with_timeout(
        wirekit(&["exec", &addr(&s, "exec"), "--", "echo", "still", "here"]),
        b"",
        T,
    );
    assert_eq!(out.stdout, b"still here\n");
}

#[test]
fn native_output_streams_live() {
    let s = serve(&["--exec-insecure"]);
    let dir = temp_dir("exec-live");
    let flag = dir.join("go");
    // The command cannot finish before the test sees its first line and
    // creates the flag: if output were held back until exit, this would
    // never end (and the bounded read below fails the test).
    let cmd = format!(
        "echo first; while [ ! -e {0} ]; do sleep 0.05; done; echo second",
        flag.display()
    );
    let mut child = wirekit(&["exec", &addr(&s, "exec"), "--", &cmd])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn wirekit exec");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let _ = tx.send(line.clone());
        line.clear();
        let _ = out.read_line(&mut line);
        let _ = tx.send(line);
    });
    let first = rx.recv_timeout(T);
    std::fs::write(&flag, b"").expect("create flag");
    let second = rx.recv_timeout(T);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(first.as_deref(), Ok("first\n"));
    assert_eq!(second.as_deref(), Ok("second\n"));
}

#[test]
fn shutdown_kills_running_commands_and_tells_the_client() {
    let s = serve(&["--exec-insecure"]);
    let mut client = wirekit(&["exec", &addr(&s, "exec"), "--", "sleep 3201 & sleep 3202"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wirekit exec");
    let deadline = Instant::now() + T;
    while processes_with("sleep 320").len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!processes_with("sleep 320").is_empty(), "command started");
    let kill = run_with_timeout(
        {
            let mut k = Command::new("kill");
            k.args(["-TERM", &s.pid().to_string()]);
            k
        },
        b"",
        T,
    );
    assert!(kill.status.success());
    let mut err = String::new();
    client
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("client stderr");
    let status = client.wait().expect("client exits");
    assert_eq!(status.code(), Some(255));
    assert!(
        err.contains("server shutting down: command killed"),
        "{err}"
    );
    assert_no_process_with("sleep 320");
}

#[test]
fn ack_dialect_keeps_a_command_sent_right_after_a_zero_size_ack() {
    // Size 0: the seed client acks and sends the next command at once, so
    // both may arrive in one read; the ack word is split off exactly.
    let s = serve(&["--exec-insecure"]);
    let port = s.addr("exec-ack", "tcp").port().to_string();
    let cmds = b"true\ntrue\necho after\ntrue\necho last\n";
    let out = stdout_of(
        python("seed004_exec_ack_client.py", &["127.0.0.1", &port]),
        cmds,
    );
    assert_eq!(out, "\n\nafter\n\n\nlast\n\n");
}
