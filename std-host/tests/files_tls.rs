//! The files service over TLS (issue 14), over real sockets: `wirekit
//! get`/`put`/`ls` with a pinned certificate and the upload token, first
//! use and a changed certificate, a proof that is not bound to the TLS
//! session, and the seed 002 client wrapped in Python's `ssl`.

wirekit_testkit::kit!();

mod common_files;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common_files::{in_dir, md5_file, stderr, stdout, T};
use kit::{python, run_with_timeout, temp_dir, wirekit, Server};

const TOKEN: &str = "0123456789abcdef0123456789abcdef\n";

/// A `files+tls` listener with a self-signed certificate kept in `state`.
fn serve_tls(root: &Path, state: &Path, extra: &[&str]) -> Server {
    let mut args = vec![
        "serve",
        "--listen",
        "files+tls=127.0.0.1:0",
        "--tls-self-signed",
        "--state-dir",
        state.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Server::start(&args, 1)
}

/// The certificate's fingerprint as Python's `ssl` computes it (an
/// independent check of what wirekit pins).
fn fingerprint(state: &Path) -> String {
    let code = "import ssl,hashlib,sys;\
                der=ssl.PEM_cert_to_DER_cert(open(sys.argv[1]).read());\
                print('sha256:'+hashlib.sha256(der).hexdigest())";
    let cert = state.join("tls-self-signed-cert.pem");
    let out = Command::new("python3")
        .args(["-c", code, cert.to_str().unwrap()])
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_string()
}

fn run(args: &[&str]) -> std::process::Output {
    run_with_timeout(wirekit(args), b"", T)
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn get_put_and_ls_over_tls_with_a_pin_and_the_token() {
    let (root, state, work) = (
        temp_dir("ft-root"),
        temp_dir("ft-state"),
        temp_dir("ft-work"),
    );
    let token = work.join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let t = token.to_str().unwrap();
    let srv = serve_tls(&root, &state, &["--files-token-file", t]);
    let a = srv.addr("files", "tls").to_string();
    let pin = fingerprint(&state);
    let local = work.join("big.bin");
    std::fs::write(&local, data(3_000_017)).unwrap();
    let l = local.to_str().unwrap();

    let put = run(&["put", &a, l, "--tls-pin", &pin, "--token-file", t]);
    assert!(put.status.success(), "{}", stderr(&put));
    assert_eq!(md5_file(&root.join("big.bin")), md5_file(&local));
    let no_token = run(&["put", &a, l, "again.bin", "--tls-pin", &pin]);
    assert!(!no_token.status.success());
    assert!(stderr(&no_token).contains("authentication required"));

    let out = work.join("back.bin");
    let o = out.to_str().unwrap();
    let get = run(&["get", &a, "big.bin", "-o", o, "--tls-pin", &pin]);
    assert!(get.status.success(), "{}", stderr(&get));
    assert_eq!(md5_file(&out), md5_file(&local));
    let ls = run(&["ls", &a, "--tls-pin", &pin]);
    assert!(ls.status.success(), "{}", stderr(&ls));
    assert!(stdout(&ls).contains("big.bin"), "{}", stdout(&ls));

    // A wrong pin: refused before anything is asked or written.
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let out2 = work.join("never.bin");
    let bad = run(&[
        "get",
        &a,
        "big.bin",
        "-o",
        out2.to_str().unwrap(),
        "--tls-pin",
        &wrong,
    ]);
    assert_eq!(bad.status.code(), Some(255), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("--tls-pin"), "{}", stderr(&bad));
    assert!(!out2.exists());
    // Plain text to the TLS port: an error, not a hang.
    let t0 = Instant::now();
    let plain = run(&["ls", &a, "--timeout", "5"]);
    assert!(!plain.status.success());
    assert!(t0.elapsed() < Duration::from_secs(15));
}

#[test]
fn first_use_is_remembered_and_a_changed_certificate_refused() {
    let (root, state, work) = (
        temp_dir("ft-tofu-root"),
        temp_dir("ft-tofu-st"),
        temp_dir("ft-tofu-w"),
    );
    std::fs::write(root.join("a.txt"), b"hello\n").unwrap();
    let srv = serve_tls(&root, &state, &[]);
    let a = srv.addr("files", "tls").to_string();
    let known = work.join("known_hosts");
    let k = known.to_str().unwrap();
    let first = run(&["ls", &a, "--tls", "--known-hosts", k]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stderr(&first).contains("trusting"), "{}", stderr(&first));
    assert!(std::fs::read_to_string(&known)
        .unwrap()
        .contains(&fingerprint(&state)));
    let out = work.join("a.txt");
    let o = out.to_str().unwrap();
    let again = run(&["get", &a, "a.txt", "-o", o, "--tls", "--known-hosts", k]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(std::fs::read(&out).unwrap(), b"hello\n");

    std::fs::write(&known, format!("{a} sha256:{}\n", "cd".repeat(32))).unwrap();
    let out2 = work.join("b.txt");
    let changed = run(&[
        "get",
        &a,
        "a.txt",
        "-o",
        out2.to_str().unwrap(),
        "--tls",
        "--known-hosts",
        k,
    ]);
    assert_eq!(changed.status.code(), Some(255));
    assert!(stderr(&changed).contains("CHANGED"), "{}", stderr(&changed));
    let up = work.join("up.txt");
    std::fs::write(&up, b"x").unwrap();
    let put = run(&["put", &a, up.to_str().unwrap(), "--tls", "--known-hosts", k]);
    assert!(stderr(&put).contains("CHANGED"), "{}", stderr(&put));
    // Nothing was exchanged: no download, no partial, no upload.
    let left: Vec<_> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n == "b.txt")
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(!root.join("up.txt").exists());
}

/// Runs `code` as a Python script under `tls_wrap.py` (Python's `ssl`,
/// the certificate pinned) with `args`.
fn python_tls(work: &Path, pin: &str, code: &str, args: &[&str]) -> std::process::Output {
    let script = work.join("client.py");
    std::fs::write(&script, code).unwrap();
    let mut all = vec![script.to_str().unwrap()];
    all.extend_from_slice(args);
    let mut cmd = python("tls_wrap.py", &all);
    cmd.env("WIREKIT_TLS_PIN", &pin[7..]);
    run_with_timeout(cmd, b"", T)
}

/// A native client that proves the right token but binds the proof to no
/// session (as a proof relayed from a plain connection would be).
const UNBOUND: &str = r#"
import hashlib, hmac, json, socket, struct, sys
def frame(h):
    j = json.dumps(h).encode()
    return struct.pack('<i', len(j)) + j
def read(s):
    def exact(n):
        b = b''
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                raise EOFError
            b += c
        return b
    n = struct.unpack('<i', exact(4))[0]
    return json.loads(exact(n))
host, port, token = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], 'rb').read().strip()
s = socket.create_connection((host, port), timeout=20)
s.sendall(frame({'op': 'challenge'}))
nonce = read(s)['nonce']
proof = hmac.new(token, b'wirekit-files-v1\0' + nonce.encode(), hashlib.sha256).hexdigest()
s.sendall(frame({'op': 'auth', 'token': proof}))
print(json.dumps(read(s)))
"#;

#[test]
fn a_proof_not_bound_to_the_tls_session_is_refused() {
    let (root, state, work) = (
        temp_dir("ft-bind-root"),
        temp_dir("ft-bind-st"),
        temp_dir("ft-bind-w"),
    );
    let token = work.join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let t = token.to_str().unwrap();
    let srv = serve_tls(&root, &state, &["--files-token-file", t]);
    let a = srv.addr("files", "tls");
    let pin = fingerprint(&state);
    let port = a.port().to_string();
    let out = python_tls(&work, &pin, UNBOUND, &["127.0.0.1", &port, t]);
    let text = stdout(&out);
    assert!(
        text.contains("authentication failed"),
        "{text}\n{}",
        stderr(&out)
    );
}

#[test]
fn the_seed002_client_through_python_ssl_gets_and_puts() {
    let (root, state, work) = (
        temp_dir("ft-seed-root"),
        temp_dir("ft-seed-st"),
        temp_dir("ft-seed-w"),
    );
    let text: Vec<u8> = (0..2000)
        .flat_map(|i| format!("第{i}行 line {i}\n").into_bytes())
        .collect();
    std::fs::write(root.join("a.txt"), &text).unwrap();
    std::fs::write(work.join("up.txt"), b"one\ntwo\n").unwrap();
    let srv = serve_tls(&root, &state, &[]);
    let a = srv.addr("files", "tls");
    let pin = fingerprint(&state);
    let script = kit::workspace_root().join("tests/py/seed002_ftp_client.py");
    let port = a.port().to_string();
    let mut cmd = python(
        "tls_wrap.py",
        &[script.to_str().unwrap(), "127.0.0.1", &port],
    );
    cmd.env("WIREKIT_TLS_PIN", &pin[7..]);
    let out = run_with_timeout(in_dir(cmd, &work), b"get a.txt\nput up.txt\n", T);
    assert!(
        stdout(&out).contains("a.txt 下载成功"),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(std::fs::read(work.join("a.txt")).unwrap(), text);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !root.join("up.txt").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(std::fs::read(root.join("up.txt")).unwrap(), b"one\ntwo\n");
}
