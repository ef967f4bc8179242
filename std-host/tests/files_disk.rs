//! Issue 13 item 3: a full disk and the partials uploads leave behind,
//! over real loopback sockets. The disk-full test mounts a 2 MiB tmpfs
//! as the server's root (tests run as root; if the mount is refused it
//! says SKIPPED loudly and returns).

wirekit_testkit::kit!();

mod common_files;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common_files::*;
use kit::{run_with_timeout, temp_dir, wirekit, Server};

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

/// `n` bytes that are neither zero (which would be stored as holes) nor
/// repetitive.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Every `*.wirekit-part` under `dir`.
fn partials(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".wirekit-part"))
        .collect()
}

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!("mount: {}", String::from_utf8_lossy(&out.stderr));
            return None;
        }
        Some(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn put(addr: &str, local: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["put", addr, local.to_str().unwrap()];
    args.extend_from_slice(extra);
    run_with_timeout(wirekit(&args), b"", T)
}

#[test]
fn a_full_disk_refuses_the_upload_readably_and_frees_its_space() {
    let (root, work) = (temp_dir("fd-root"), temp_dir("fd-work"));
    let Some(_fs) = Tmpfs::mount(&root, "2m") else {
        eprintln!("SKIPPED a_full_disk_refuses_the_upload: cannot mount a tmpfs (not root?)");
        return;
    };
    let srv = serve_with(&root, &[]);
    let a = srv.addr("files", "tcp").to_string();
    let (big, second) = (work.join("big.bin"), work.join("second.bin"));
    std::fs::write(&big, noise(1536 << 10, 1)).unwrap();
    std::fs::write(&second, noise(1 << 20, 2)).unwrap();
    let out = put(&a, &big, &[]);
    assert!(out.status.success(), "{}", stderr(&out));

    for extra in [&[][..], &["--force"][..]] {
        let out = put(&a, &second, extra);
        let err = stderr(&out);
        assert!(
            !out.status.success(),
            "a 1 MiB upload fit beside 1.5 MiB in 2 MiB"
        );
        assert!(
            err.contains("no space left on the server"),
            "{extra:?}: {err}"
        );
        assert!(partials(&root).is_empty(), "{:?}", partials(&root));
    }
    // Space again: the next upload works.
    std::fs::remove_file(root.join("big.bin")).unwrap();
    let out = put(&a, &second, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(md5_file(&root.join("second.bin")), md5_file(&second));
    assert!(partials(&root).is_empty());
}

/// A native frame: `u32 LE header length`, JSON header, body.
fn frame(json: &str) -> Vec<u8> {
    let mut v = (json.len() as u32).to_le_bytes().to_vec();
    v.extend_from_slice(json.as_bytes());
    v
}

/// Reads one bodiless reply frame's JSON.
fn reply(s: &mut TcpStream) -> String {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut json = vec![0u8; u32::from_le_bytes(len) as usize];
    s.read_exact(&mut json).unwrap();
    String::from_utf8(json).unwrap()
}

/// Offers a 1000-byte upload of `name`, then sends `data` (frames and
/// bytes) and returns the server's answer.
fn upload_with(a: std::net::SocketAddr, name: &str, data: &[u8]) -> String {
    let mut s = TcpStream::connect(a).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let put = format!(r#"{{"op":"put","total_size":0,"filename":"{name}","size":1000}}"#);
    s.write_all(&frame(&put)).unwrap();
    assert!(reply(&mut s).contains("ready"));
    s.write_all(data).unwrap();
    reply(&mut s)
}

#[test]
fn refused_uploads_leave_no_partial() {
    let root = temp_dir("fd-refused");
    let srv = serve_with(&root, &[]);
    let a = srv.addr("files", "tcp");
    // The data frame announces another size than the offer.
    let mut bad = frame(r#"{"op":"data","offset":0,"total_size":10}"#);
    bad.extend_from_slice(b"0123456789");
    let answer = upload_with(a, "sized.bin", &bad);
    assert!(answer.contains("does not match the offer"), "{answer}");
    // Broken framing inside the upload: a trailer that is not JSON.
    let mut broken = frame(r#"{"op":"data","offset":0,"total_size":1000}"#);
    broken.extend_from_slice(&[7u8; 1000]);
    broken.extend_from_slice(&frame("not json at all"));
    let answer = upload_with(a, "framed.bin", &broken);
    assert!(answer.contains("error"), "{answer}");
    assert!(partials(&root).is_empty(), "{:?}", partials(&root));
}

/// Leaves a resumable partial of `name`: the client stops mid-upload.
fn interrupted_upload(a: std::net::SocketAddr, name: &str) {
    let mut s = TcpStream::connect(a).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let put = format!(r#"{{"op":"put","total_size":0,"filename":"{name}","size":1000}}"#);
    s.write_all(&frame(&put)).unwrap();
    assert!(reply(&mut s).contains("ready"));
    s.write_all(&frame(r#"{"op":"data","offset":0,"total_size":1000}"#))
        .unwrap();
    s.write_all(&[9u8; 400]).unwrap();
}

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

#[test]
fn resumable_partials_expire_after_the_ttl() {
    let root = temp_dir("fd-ttl");
    // At start-up: a two-day-old partial goes, a fresh one stays.
    std::fs::write(root.join(".old.bin.wirekit-part"), b"old").unwrap();
    let touched = Command::new("touch")
        .args(["-d", "2 days ago"])
        .arg(root.join(".old.bin.wirekit-part"))
        .status()
        .unwrap();
    assert!(touched.success());
    std::fs::write(root.join(".new.bin.wirekit-part"), b"new").unwrap();
    let srv = serve_with(&root, &[]);
    assert!(!root.join(".old.bin.wirekit-part").exists());
    assert!(root.join(".new.bin.wirekit-part").exists());
    drop(srv);

    // Periodically: with a 2 s TTL an interrupted upload's partial goes.
    std::fs::remove_file(root.join(".new.bin.wirekit-part")).unwrap();
    let srv = serve_with(&root, &["--files-partial-ttl", "2s"]);
    interrupted_upload(srv.addr("files", "tcp"), "cut.bin");
    let part = root.join(".cut.bin.wirekit-part");
    assert!(wait_until(T, || part.exists()), "no partial was kept");
    let t0 = Instant::now();
    assert!(
        wait_until(T, || !part.exists()),
        "the partial never expired"
    );
    eprintln!("partial removed {:?} after it was seen", t0.elapsed());
}

#[test]
fn a_bad_ttl_is_refused() {
    let out = run_with_timeout(
        wirekit(&[
            "serve",
            "--listen",
            "files=127.0.0.1:0",
            "--files-partial-ttl",
            "1w",
        ]),
        b"",
        T,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unit must be"), "{}", stderr(&out));
}
