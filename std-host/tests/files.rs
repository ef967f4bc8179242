//! File transfer (issue 5), native protocol over real loopback sockets:
//! interrupted and resumed transfers, corrupt uploads, names that try to
//! leave the root, listings, stat, limits and a 5 GiB sparse round trip.
//! The seeds' programs are in `files_seeds.rs`; idle timeout, overwrite
//! rules, md5 cache and the seed 002 size limit in `files_guarantees.rs`.

wirekit_testkit::kit!();

mod common_files;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common_files::*;
use kit::{python, run_with_timeout, temp_dir, wirekit, Server};

#[test]
fn hostile_names_are_refused() {
    let (root, work, outside) = (temp_dir("f-root"), temp_dir("f-work"), temp_dir("f-out"));
    std::fs::write(outside.join("secret"), b"secret").unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), root.join("link")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("dirlink")).unwrap();
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let o = work.join("x");
    for name in ["../../etc/passwd", "/etc/passwd", "link", "dirlink/secret"] {
        let out = run_with_timeout(
            wirekit(&["get", &a, name, "-o", o.to_str().unwrap()]),
            b"",
            T,
        );
        assert!(!out.status.success(), "{name} was served");
        let err = stderr(&out);
        assert!(err.contains("server refused"), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one-line reason: {err}");
        assert!(!o.exists());
    }
    let local = work.join("up");
    std::fs::write(&local, b"data").unwrap();
    for name in ["dirlink/new", "../escape", "/tmp/abs"] {
        let out = run_with_timeout(wirekit(&["put", &a, local.to_str().unwrap(), name]), b"", T);
        assert!(!out.status.success(), "{name} was accepted");
    }
    assert!(!outside.join("new").exists());
    assert!(!root.parent().unwrap().join("escape").exists());
}

#[test]
fn interrupted_upload_leaves_no_file_and_resumes_to_the_right_md5() {
    let (root, work) = (temp_dir("f-root"), temp_dir("f-work"));
    let local = work.join("big.bin");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&local, &data).unwrap();
    let srv = serve(&root);
    let [h, p] = addr_args(srv.addr("files", "tcp"));
    let l = local.to_str().unwrap();
    let out = run_with_timeout(
        python(
            "native_files_raw.py",
            &[&h, &p, "partial-put", "big.bin", l, "1000000"],
        ),
        b"",
        T,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // Wait for the server to notice the drop (the partial stops growing).
    let part = root.join(".big.bin.wirekit-part");
    let deadline = Instant::now() + T;
    while std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0) < 1_000_000
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !root.join("big.bin").exists(),
        "no final file after a broken upload"
    );
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 1_000_000);
    let a = srv.addr("files", "tcp").to_string();
    let out = run_with_timeout(wirekit(&["put", &a, l, "--resume"]), b"", T);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("starting at 1000000"),
        "{}",
        stderr(&out)
    );
    assert_eq!(md5_file(&root.join("big.bin")), md5_file(&local));
    assert!(!part.exists());
}

#[test]
fn killed_download_leaves_a_partial_and_resumes() {
    let (root, work) = (temp_dir("f-root"), temp_dir("f-work"));
    // Big enough that the kill lands mid-transfer, and not zeros (those
    // become holes, which would not grow the partial).
    const SIZE: u64 = 512 << 20;
    let block: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 | 1)
        .collect();
    let mut f = std::io::BufWriter::new(std::fs::File::create(root.join("big.bin")).unwrap());
    for k in 0..(SIZE >> 20) {
        use std::io::Write as _;
        f.write_all(&block).unwrap();
        f.write_all(&k.to_le_bytes()).unwrap();
    }
    drop(f);
    let size = std::fs::metadata(root.join("big.bin")).unwrap().len();
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let out_path = work.join("big.bin");
    let part = work.join(".big.bin.wirekit-part");
    let mut child = wirekit(&["get", &a, "big.bin", "-o", out_path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + T;
    while std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0) < (64 << 20)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = std::fs::metadata(&part).unwrap().len();
    assert!(kept > 0 && kept < size, "kept {kept}");
    assert!(!out_path.exists(), "no final file after a killed download");
    let out = run_with_timeout(
        wirekit(&[
            "get",
            &a,
            "big.bin",
            "-o",
            out_path.to_str().unwrap(),
            "--resume",
        ]),
        b"",
        T * 3,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::metadata(&out_path).unwrap().len(), size);
    assert!(stdout(&out).starts_with(&md5_file(&root.join("big.bin"))));
    assert!(!part.exists());
}

#[test]
fn corrupted_uploads_are_rejected() {
    let (root, work) = (temp_dir("f-root"), temp_dir("f-work"));
    let local = work.join("c.bin");
    std::fs::write(&local, vec![42u8; 100_000]).unwrap();
    let srv = serve(&root);
    let [h, p] = addr_args(srv.addr("files", "tcp"));
    let l = local.to_str().unwrap();
    let out = run_with_timeout(
        python("native_files_raw.py", &[&h, &p, "corrupt-put", "c.bin", l]),
        b"",
        T,
    );
    let text = stdout(&out);
    assert!(
        text.contains("\"status\": \"error\"") && text.contains("md5 mismatch"),
        "{text}{}",
        stderr(&out)
    );
    assert!(!root.join("c.bin").exists());
    assert!(!root.join(".c.bin.wirekit-part").exists());
    let out = run_with_timeout(
        python(
            "native_files_raw.py",
            &[&h, &p, "seed002-corrupt-put", "c.bin", l],
        ),
        b"",
        T,
    );
    assert!(stdout(&out).contains("c.bin 上传失败"), "{}", stdout(&out));
    assert!(!root.join("c.bin").exists());
}

#[test]
fn listing_shows_files_and_directories_but_not_partials() {
    let root = temp_dir("f-root");
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::write(root.join("a.txt"), b"12345").unwrap();
    std::fs::write(root.join(".b.wirekit-part"), b"partial").unwrap();
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let out = run_with_timeout(wirekit(&["ls", &a]), b"", T);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.lines().any(|l| l.trim() == "5 a.txt"), "{text}");
    assert!(
        text.lines().any(|l| l.trim_end().ends_with(" sub/")),
        "{text}"
    );
    assert!(!text.contains("wirekit-part"), "{text}");
    let out = run_with_timeout(wirekit(&["ls", &a, "../"]), b"", T);
    assert!(!out.status.success());
}

/// A 5 GiB file (sparse on disk, so the test costs time, not space)
/// downloaded and uploaded again in the native protocol; sizes past 4 GiB
/// would wrap in a 32-bit field.
#[test]
fn five_gib_sparse_file_round_trips() {
    const SIZE: u64 = 5 << 30;
    let (root, work) = (temp_dir("f-root"), temp_dir("f-work"));
    let f = std::fs::File::create(root.join("huge.bin")).unwrap();
    f.set_len(SIZE).unwrap();
    drop(f);
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let local = work.join("huge.bin");
    let l = local.to_str().unwrap();
    let out = run_with_timeout(wirekit(&["get", &a, "huge.bin", "-o", l]), b"", T * 10);
    assert!(out.status.success(), "{}", stderr(&out));
    let meta = std::fs::metadata(&local).unwrap();
    assert_eq!(meta.len(), SIZE);
    // Zeros arrive as holes: the copy is as sparse as the original.
    use std::os::unix::fs::MetadataExt as _;
    assert!(meta.blocks() * 512 < SIZE / 100, "{} blocks", meta.blocks());
    // md5 of 5 GiB of zeros, as `head -c 5G /dev/zero | md5sum` prints it.
    let zeros_md5 = "ec4bcc8776ea04479b786e063a9ace45";
    assert!(stdout(&out).starts_with(zeros_md5), "{}", stdout(&out));
    let out = run_with_timeout(wirekit(&["put", &a, l, "back.bin"]), b"", T * 10);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::metadata(root.join("back.bin")).unwrap().len(),
        SIZE
    );
    assert!(stdout(&out).starts_with(zeros_md5), "{}", stdout(&out));
    let _ = std::fs::remove_file(&local);
    let _ = std::fs::remove_file(root.join("back.bin"));
}

#[test]
fn stat_and_the_upload_size_limit() {
    let (root, work) = (temp_dir("f-root"), temp_dir("f-work"));
    std::fs::write(root.join("s.txt"), b"hello\n").unwrap();
    let r = root.to_str().unwrap();
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "files=127.0.0.1:0",
            "--root",
            r,
            "--files-max-size",
            "1000",
        ],
        1,
    );
    let [h, p] = addr_args(srv.addr("files", "tcp"));
    let out = run_with_timeout(
        python("native_files_raw.py", &[&h, &p, "stat", "s.txt", "-"]),
        b"",
        T,
    );
    let text = stdout(&out);
    assert!(
        text.contains("\"md5\": \"b1946ac92492d2347c6235b4d2611184\""),
        "{text}"
    );
    assert!(
        text.contains("\"size\": 6") && text.contains("\"status\": \"ok\""),
        "{text}"
    );
    let out = run_with_timeout(
        python("native_files_raw.py", &[&h, &p, "stat", "nope", "-"]),
        b"",
        T,
    );
    assert!(stdout(&out).contains("no such file"), "{}", stdout(&out));
    let big = work.join("big");
    std::fs::write(&big, vec![1u8; 1001]).unwrap();
    let a = srv.addr("files", "tcp").to_string();
    let out = run_with_timeout(wirekit(&["put", &a, big.to_str().unwrap()]), b"", T);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("exceeds the limit of 1000 bytes"),
        "{}",
        stderr(&out)
    );
    assert!(!root.join("big").exists());
}

/// Starts an upload that sends 1 KiB of `up` and then waits, holding a
/// transfer slot until its stdin closes.
fn hold_a_slot(srv: &Server, up: &Path) -> std::process::Child {
    let [h, p] = addr_args(srv.addr("files", "tcp"));
    let mut holder = python(
        "native_files_raw.py",
        &[&h, &p, "hold-put", "held.bin", up.to_str().unwrap(), "1024"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(holder.stdout.take().unwrap()));
    let offer = lines.next().unwrap().unwrap();
    assert!(offer.contains("\"status\": \"ready\""), "{offer}");
    assert_eq!(lines.next().unwrap().unwrap(), "holding");
    holder
}

/// Retries `wirekit get ADDR s.txt -o OUT` until it succeeds or `T`
/// passes (a freed slot is seen once the server notices the disconnect).
fn get_until_admitted(a: &str, o: &str) -> std::process::Output {
    let deadline = Instant::now() + T;
    loop {
        let out = run_with_timeout(wirekit(&["get", a, "s.txt", "-o", o]), b"", T);
        if out.status.success() || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn transfers_beyond_the_limit_are_refused_until_a_slot_frees() {
    let (root, work) = (temp_dir("f-root"), temp_dir("f-work"));
    std::fs::write(root.join("s.txt"), b"hello\n").unwrap();
    let up = work.join("up.bin");
    std::fs::write(&up, vec![7u8; 64 << 10]).unwrap();
    let srv = Server::start(
        &[
            "serve",
            "--listen",
            "files=127.0.0.1:0",
            "--root",
            root.to_str().unwrap(),
            "--files-max-transfers",
            "1",
        ],
        1,
    );
    let a = srv.addr("files", "tcp").to_string();
    let mut holder = hold_a_slot(&srv, &up);

    let out_path = work.join("s.txt");
    let o = out_path.to_str().unwrap();
    let busy = run_with_timeout(wirekit(&["get", &a, "s.txt", "-o", o]), b"", T);
    assert!(!busy.status.success());
    assert!(
        stderr(&busy).contains("too many transfers"),
        "{}",
        stderr(&busy)
    );
    assert!(!out_path.exists());
    let busy = run_with_timeout(wirekit(&["put", &a, up.to_str().unwrap()]), b"", T);
    assert!(
        stderr(&busy).contains("too many transfers"),
        "{}",
        stderr(&busy)
    );
    assert!(!root.join("up.bin").exists());

    // Closing the holder's stdin drops its connection; its slot frees
    // (the server notices the disconnect, so allow it a moment).
    drop(holder.stdin.take());
    holder.wait().unwrap();
    assert!(
        !root.join("held.bin").exists(),
        "no final file for a cut upload"
    );
    let ok = get_until_admitted(&a, o);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(std::fs::read(&out_path).unwrap(), b"hello\n");
}
