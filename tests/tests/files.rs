//! File transfer (issue 5) over real loopback sockets: the seeds' Python
//! clients against `wirekit serve`, the wirekit client against the seeds'
//! Python servers, interrupted and resumed transfers, corrupt uploads,
//! names that try to leave the root, and a 5 GiB sparse round trip.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use md5::{Digest as _, Md5};
use wirekit_tests::{python, run_with_timeout, temp_dir, wirekit, Server};

const T: Duration = Duration::from_secs(60);

/// Text with several lines and multi-byte characters (seed 002 and 004
/// read files line by line).
fn text_file() -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..3000 {
        v.extend_from_slice(format!("第{i}行 line {i} of the test file\n").as_bytes());
    }
    v
}

fn md5_file(path: &Path) -> String {
    let mut f = std::fs::File::open(path).unwrap();
    let mut m = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        m.update(&buf[..n]);
    }
    format!("{:x}", m.finalize())
}

fn serve(root: &Path) -> Server {
    let root = root.to_str().unwrap();
    Server::start(
        &[
            "serve",
            "--listen",
            "files=127.0.0.1:0",
            "--listen",
            "files-ack=127.0.0.1:0",
            "--root",
            root,
        ],
        2,
    )
}

fn addr_args(a: SocketAddr) -> [String; 2] {
    [a.ip().to_string(), a.port().to_string()]
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A seed's Python server, killed when dropped.
struct PyServer {
    child: Child,
    addr: SocketAddr,
}

impl PyServer {
    fn start(script: &str, root: &Path) -> PyServer {
        let mut cmd = python(script, &["127.0.0.1", "0", root.to_str().unwrap()]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawn python server");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("{script} printed no listening line");
            });
        let addr = line.rsplit(' ').next().unwrap().parse().unwrap();
        PyServer { child, addr }
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn in_dir(mut cmd: Command, dir: &Path) -> Command {
    cmd.current_dir(dir);
    cmd
}

#[test]
fn seed000_client_downloads_from_wirekit() {
    let (root, work) = (temp_dir("f-root"), temp_dir("f-work"));
    std::fs::write(root.join("a.txt"), text_file()).unwrap();
    let srv = serve(&root);
    let [h, p] = addr_args(srv.addr("files", "tcp"));
    let cmd = in_dir(python("seed000_download_client.py", &[&h, &p]), &work);
    let out = run_with_timeout(cmd, "a.txt\nmissing.txt\n../../etc/passwd\n".as_bytes(), T);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert_eq!(std::fs::read(work.join("cpoy_a.txt")).unwrap(), text_file());
    assert!(text.contains("文件[a.txt]下载成功"), "{text}");
    assert_eq!(text.matches("文件不存在").count(), 2, "{text}");
}

#[test]
fn seed002_client_gets_and_puts_with_wirekit() {
    let (root, work) = (temp_dir("f-root"), temp_dir("f-work"));
    std::fs::write(root.join("a.txt"), text_file()).unwrap();
    std::fs::write(work.join("up.txt"), b"one\ntwo\nthree\n").unwrap();
    let srv = serve(&root);
    let [h, p] = addr_args(srv.addr("files", "tcp"));
    let cmd = in_dir(python("seed002_ftp_client.py", &[&h, &p]), &work);
    let out = run_with_timeout(cmd, b"get a.txt\nput up.txt\n", T);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("a.txt 下载成功"), "{text}");
    assert_eq!(std::fs::read(work.join("a.txt")).unwrap(), text_file());
    // The seed client does not wait for the upload's answer: poll for it.
    let deadline = Instant::now() + T;
    while !root.join("up.txt").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        std::fs::read(root.join("up.txt")).unwrap(),
        b"one\ntwo\nthree\n"
    );
    // A missing file closes the connection; the seed client says so.
    let cmd = in_dir(python("seed002_ftp_client.py", &[&h, &p]), &work);
    let out = run_with_timeout(cmd, b"get nothing.txt\n", T);
    assert!(
        stdout(&out).contains("服务器端没有该文件"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn seed004_client_gets_from_wirekit_ack_listener() {
    let (root, work) = (temp_dir("f-root"), temp_dir("f-work"));
    std::fs::write(root.join("a.txt"), text_file()).unwrap();
    let srv = serve(&root);
    let [h, p] = addr_args(srv.addr("files-ack", "tcp"));
    let cmd = in_dir(python("seed004_ftp_client.py", &[&h, &p]), &work);
    let out = run_with_timeout(cmd, b"get a.txt\n", T);
    let text = stdout(&out);
    assert!(text.contains("文件校验正确"), "{text}\n{}", stderr(&out));
    assert_eq!(std::fs::read(work.join("a_new.txt")).unwrap(), text_file());
    // Where the seed server hangs, wirekit answers; the seed client shows
    // the text in its int() error and exits instead of waiting forever.
    let cmd = in_dir(python("seed004_ftp_client.py", &[&h, &p]), &work);
    let out = run_with_timeout(cmd, b"get missing.txt\n", T);
    assert!(
        stderr(&out).contains("error: missing.txt: no such file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn wirekit_client_against_the_seed_servers() {
    let (root, work) = (temp_dir("f-root"), temp_dir("f-work"));
    std::fs::write(root.join("a.txt"), text_file()).unwrap();
    let want = md5_file(&root.join("a.txt"));
    for (script, dialect) in [
        ("seed000_download_server.py", "seed000"),
        ("seed002_ftp_server.py", "seed002"),
        ("seed004_ftp_server.py", "seed004"),
    ] {
        let py = PyServer::start(script, &root);
        let a = py.addr.to_string();
        let out_path = work.join(format!("{dialect}.txt"));
        let o = out_path.to_str().unwrap();
        let out = run_with_timeout(
            wirekit(&["get", &a, "a.txt", "-o", o, "--dialect", dialect]),
            b"",
            T,
        );
        assert!(out.status.success(), "{dialect}: {}", stderr(&out));
        assert_eq!(md5_file(&out_path), want, "{dialect}");
        assert!(
            stdout(&out).starts_with(&want),
            "{dialect}: {}",
            stdout(&out)
        );
    }
    // Upload to the seed 002 server, which appends and answers in text.
    let py = PyServer::start("seed002_ftp_server.py", &root);
    let a = py.addr.to_string();
    let local = work.join("up.txt");
    std::fs::write(&local, text_file()).unwrap();
    let out = run_with_timeout(
        wirekit(&[
            "put",
            &a,
            local.to_str().unwrap(),
            "up.txt",
            "--dialect",
            "seed002",
        ]),
        b"",
        T,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(root.join("up.txt")).unwrap(), text_file());
    // The seed 000 server answers `{}` for a missing file.
    let py = PyServer::start("seed000_download_server.py", &root);
    let a = py.addr.to_string();
    let o = work.join("none").to_str().unwrap().to_string();
    let out = run_with_timeout(
        wirekit(&["get", &a, "missing.txt", "-o", &o, "--dialect", "seed000"]),
        b"",
        T,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no such file"), "{}", stderr(&out));
    // The seed 004 server never answers for a missing file: the client's
    // timeout turns the hang into an error.
    let py = PyServer::start("seed004_ftp_server.py", &root);
    let a = py.addr.to_string();
    let out = run_with_timeout(
        wirekit(&[
            "get",
            &a,
            "missing.txt",
            "-o",
            &o,
            "--dialect",
            "seed004",
            "--timeout",
            "2",
        ]),
        b"",
        T,
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("waiting for the size"),
        "{}",
        stderr(&out)
    );
}

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
