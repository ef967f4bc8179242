//! Who may upload to a files listener (issue 14), over real sockets: the
//! upload token (`--files-token-file`, `wirekit put --token-file`), the
//! read-only default of a listener beyond loopback for the native and the
//! seed 002 dialect, `--files-writable`, the throttle on failed proofs,
//! and the exposure refusal of a writable listener in clear text.

wirekit_testkit::kit!();

mod common_files;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common_files::{in_dir, stderr, stdout, T};
use kit::{python, run_with_timeout, temp_dir, wirekit, Server};

const TOKEN: &str = "0123456789abcdef0123456789abcdef\n";

/// `wirekit serve` with one files listener on `listen`, rooted at `root`.
fn serve(root: &Path, listen: &str, extra: &[&str]) -> Server {
    let mut args = vec!["serve", "--listen", listen, "--root"];
    args.push(root.to_str().unwrap());
    args.extend_from_slice(extra);
    Server::start(&args, 1)
}

/// Where to connect: a wildcard listener is reached on 127.0.0.1 (the
/// server decides by its listen address, not by the client's).
fn reach(srv: &Server) -> String {
    let a = srv.addr("files", "tcp");
    SocketAddr::from(([127, 0, 0, 1], a.port())).to_string()
}

fn run(args: &[&str]) -> std::process::Output {
    run_with_timeout(wirekit(args), b"", T)
}

/// Every entry under `root`, partials included, as relative paths.
fn entries(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p.clone());
            }
            out.push(p.strip_prefix(root).unwrap().display().to_string());
        }
    }
    out.sort();
    out
}

/// A refusal: exit status 255 and one `wirekit: error:` line naming `why`.
fn assert_refused(o: &std::process::Output, why: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(255), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains(why), "{err}");
}

#[test]
fn put_needs_the_token_and_a_wrong_one_writes_nothing() {
    let (root, work) = (temp_dir("fa-root"), temp_dir("fa-work"));
    std::fs::write(root.join("pub.txt"), b"readable by anyone\n").unwrap();
    let (token, wrong) = (work.join("token"), work.join("wrong"));
    std::fs::write(&token, TOKEN).unwrap();
    std::fs::write(&wrong, "not the token at all, but long\n").unwrap();
    let local = work.join("up.bin");
    std::fs::write(&local, vec![7u8; 300_000]).unwrap();
    let t = token.to_str().unwrap();
    let srv = serve(&root, "files=127.0.0.1:0", &["--files-token-file", t]);
    let a = reach(&srv);
    let l = local.to_str().unwrap();

    let none = run(&["put", &a, l]);
    assert_refused(&none, "authentication required");
    let bad = run(&["put", &a, l, "--token-file", wrong.to_str().unwrap()]);
    assert_refused(&bad, "wrong token");
    assert_eq!(
        entries(&root),
        ["pub.txt"],
        "a refused upload left something"
    );
    // The seed dialect cannot authenticate, so it cannot upload either.
    let seed = run(&["put", &a, l, "--dialect", "seed002"]);
    assert_refused(&seed, "need its token");
    assert_eq!(
        entries(&root),
        ["pub.txt"],
        "a refused seed upload left something"
    );

    let ok = run(&["put", &a, l, "--token-file", t]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(
        std::fs::read(root.join("up.bin")).unwrap(),
        vec![7u8; 300_000]
    );

    // Reading needs no token.
    let out = work.join("got.txt");
    let get = run(&["get", &a, "pub.txt", "-o", out.to_str().unwrap()]);
    assert!(get.status.success(), "{}", stderr(&get));
    assert_eq!(std::fs::read(&out).unwrap(), b"readable by anyone\n");
    let ls = run(&["ls", &a]);
    assert!(ls.status.success(), "{}", stderr(&ls));
    assert!(stdout(&ls).contains("up.bin"), "{}", stdout(&ls));
}

#[test]
fn failed_proofs_are_throttled_per_source() {
    let (root, work) = (temp_dir("fa-thr-root"), temp_dir("fa-thr-work"));
    let (token, wrong) = (work.join("token"), work.join("wrong"));
    std::fs::write(&token, TOKEN).unwrap();
    std::fs::write(&wrong, "not the token at all, but long\n").unwrap();
    std::fs::write(work.join("f"), b"x").unwrap();
    let t = token.to_str().unwrap();
    let srv = serve(&root, "files=127.0.0.1:0", &["--files-token-file", t]);
    let a = reach(&srv);
    let l = work.join("f");
    let l = l.to_str().unwrap();
    for _ in 0..5 {
        let bad = run(&["put", &a, l, "--token-file", wrong.to_str().unwrap()]);
        assert_refused(&bad, "wrong token");
    }
    // Now even the right token is not checked until the window ends.
    let held = run(&["put", &a, l, "--token-file", t]);
    assert_refused(&held, "too many failed logins");
    assert!(!root.join("f").exists());
    // Downloads do not need a proof, so they are not throttled.
    let ls = run(&["ls", &a]);
    assert!(ls.status.success(), "{}", stderr(&ls));
}

/// The seed 002 client (unchanged) uploads `name` from `work`; it does
/// not read the answer, so the caller polls the root.
fn seed002_put(a: &str, work: &Path, name: &str) {
    let (h, p) = a.rsplit_once(':').unwrap();
    let cmd = in_dir(python("seed002_ftp_client.py", &[h, p]), work);
    let out = run_with_timeout(cmd, format!("put {name}\n").as_bytes(), T);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn appears(p: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if p.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn a_listener_beyond_loopback_is_read_only_for_every_dialect() {
    let (root, work) = (temp_dir("fa-ro-root"), temp_dir("fa-ro-work"));
    std::fs::write(root.join("pub.txt"), b"still readable\n").unwrap();
    std::fs::write(work.join("up.txt"), b"one\ntwo\n").unwrap();
    let srv = serve(&root, "files=0.0.0.0:0", &[]);
    let a = reach(&srv);
    let l = work.join("up.txt");
    let l = l.to_str().unwrap();
    assert_refused(&run(&["put", &a, l]), "read-only");
    assert_refused(&run(&["put", &a, l, "--dialect", "seed002"]), "read-only");
    seed002_put(&a, &work, "up.txt");
    assert!(!appears(&root.join("up.txt")), "the seed client uploaded");
    assert_eq!(entries(&root), ["pub.txt"]);
    let out = work.join("got.txt");
    let get = run(&["get", &a, "pub.txt", "-o", out.to_str().unwrap()]);
    assert!(get.status.success(), "{}", stderr(&get));
    let ls = run(&["ls", &a]);
    assert!(stdout(&ls).contains("pub.txt"), "{}", stdout(&ls));
    drop(srv);

    // --files-writable lifts it (in clear text only with --plaintext).
    let srv = serve(
        &root,
        "files=0.0.0.0:0",
        &["--files-writable", "--plaintext"],
    );
    let a = reach(&srv);
    let ok = run(&["put", &a, l, "native.txt"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(
        std::fs::read(root.join("native.txt")).unwrap(),
        b"one\ntwo\n"
    );
    seed002_put(&a, &work, "up.txt");
    assert!(
        appears(&root.join("up.txt")),
        "the seed client could not upload"
    );
    // A token given to a server that has none is a mistake worth a word.
    let token = work.join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let t = token.to_str().unwrap();
    assert_refused(
        &run(&["put", &a, l, "t.txt", "--token-file", t]),
        "no upload token",
    );
    assert!(!root.join("t.txt").exists());
}

#[test]
fn a_writable_listener_beyond_loopback_needs_tls_or_plaintext() {
    let (root, work) = (temp_dir("fa-exp-root"), temp_dir("fa-exp-work"));
    let token = work.join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let r = root.to_str().unwrap();
    let t = token.to_str().unwrap();
    for extra in [["--files-writable"].as_slice(), &["--files-token-file", t]] {
        let mut args = vec!["serve", "--listen", "files=0.0.0.0:0", "--root", r];
        args.extend_from_slice(extra);
        let refused = run(&args);
        assert!(!refused.status.success(), "{extra:?}");
        let err = stderr(&refused);
        assert!(
            err.contains("files+tls") && err.contains("--plaintext"),
            "{err}"
        );
        assert!(
            stdout(&refused).is_empty(),
            "it listened: {}",
            stdout(&refused)
        );
    }
    // Read-only, it starts (with the clear-text warning).
    let srv = serve(&root, "files=0.0.0.0:0", &[]);
    drop(srv);
    // --plaintext: it starts and warns once for the listener.
    let srv = serve(
        &root,
        "files=0.0.0.0:0",
        &["--files-token-file", t, "--plaintext"],
    );
    std::thread::sleep(Duration::from_millis(300));
    let log = srv.stderr_lines().join("\n");
    let warned = log
        .matches("reachable from other hosts and not encrypted")
        .count();
    assert_eq!(warned, 1, "{log}");
}
