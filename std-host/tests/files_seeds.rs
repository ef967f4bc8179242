//! File transfer (issue 5) with the seeds' Python programs over real
//! loopback sockets: their clients (000 download, 002 get/put, 004 get)
//! against `wirekit serve`, and the wirekit client against their servers.

wirekit_testkit::kit!();

mod common_files;

use std::time::{Duration, Instant};

use common_files::*;
use kit::{python, run_with_timeout, temp_dir, wirekit};

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
fn wirekit_get_from_each_seed_server() {
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
}

#[test]
fn wirekit_put_to_the_seed002_server() {
    let (root, work) = (temp_dir("f-root"), temp_dir("f-work"));
    // The seed 002 server appends and answers in text.
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
}

#[test]
fn wirekit_get_of_a_missing_file_from_the_seed_servers_fails_cleanly() {
    let (root, work) = (temp_dir("f-root"), temp_dir("f-work"));
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
