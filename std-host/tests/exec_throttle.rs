//! Issue 13 item 13: failed logins are throttled per source address and
//! summarised in the log, while a correct proof from another address still
//! works.

wirekit_testkit::kit!();

use std::process::Command;
use std::time::{Duration, Instant};

use kit::{run_with_timeout, temp_dir, wirekit, Server};

const T: Duration = Duration::from_secs(60);

/// Tries `n` wrong proofs from 127.0.0.2, one connection each; prints how
/// many were checked and failed, refused unchecked, and anything else.
const ATTACKER: &str = r#"
import json, socket, struct, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
def frame(h):
    b = json.dumps(h).encode()
    return struct.pack('<I', len(b)) + b
def read_exact(s, k):
    buf = b''
    while len(buf) < k:
        c = s.recv(k - len(buf))
        if not c:
            return None
        buf += c
    return buf
def read_frame(s):
    l = read_exact(s, 4)
    if l is None:
        return {}
    return json.loads(read_exact(s, struct.unpack('<I', l)[0]))
failed = refused = other = 0
for i in range(n):
    s = socket.socket()
    s.bind(('127.0.0.2', 0))
    s.settimeout(10)
    s.connect(('127.0.0.1', port))
    s.sendall(frame({"op": "hello"}))
    h = read_frame(s)
    if h.get('op') == 'challenge':
        s.sendall(frame({"op": "auth", "token": "00" * 32}))
        if 'authentication failed' in read_frame(s).get('error', ''):
            failed += 1
        else:
            other += 1
    elif 'too many failed logins' in h.get('error', ''):
        refused += 1
    else:
        other += 1
    s.close()
print(failed, refused, other)
"#;

#[test]
fn failed_proofs_are_throttled_per_source_and_summarised() {
    let dir = temp_dir("exec-throttle");
    let token = dir.join("token");
    std::fs::write(&token, "0123456789abcdef-secret\n").unwrap();
    let token = token.display().to_string();
    let s = Server::start(
        &[
            "serve",
            "--listen",
            "exec=127.0.0.1:0",
            "--exec-token-file",
            &token,
        ],
        1,
    );
    let port = s.addr("exec", "tcp").port().to_string();
    let mut attack = Command::new("python3");
    attack.args(["-c", ATTACKER, &port, "40"]);
    let out = run_with_timeout(attack, b"", T);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let counts = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(counts, "5 35 0", "checked-and-failed, refused, other");

    // A correct proof from another address (127.0.0.1) still works.
    let addr = s.addr("exec", "tcp").to_string();
    let ok = run_with_timeout(
        wirekit(&["exec", &addr, "--token-file", &token, "--", "echo", "in"]),
        b"",
        T,
    );
    assert_eq!(
        ok.stdout,
        b"in\n",
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let deadline = Instant::now() + Duration::from_secs(2);
    let mut log = Vec::new();
    while Instant::now() < deadline {
        log.extend(s.stderr_lines());
        std::thread::sleep(Duration::from_millis(100));
    }
    let about = log.iter().filter(|l| l.contains("127.0.0.2")).count();
    assert!(
        (1..=3).contains(&about),
        "40 attempts, {about} log lines:\n{log:#?}"
    );
}
