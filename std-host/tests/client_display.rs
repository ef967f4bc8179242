//! Issue 17 items 8 and 9: `ls` sorted with type markers, `-l` and `-h`;
//! the seed 002 slowness note; a progress bar that fits a 50-column
//! terminal (through a pseudo-terminal) and no quarter lines for a tiny file.

wirekit_testkit::kit!();

use std::time::Duration;

use kit::{
    run_with_timeout, serve_files as serve, stderr_text as stderr, temp_dir, wirekit, wirekit_bin,
};

const T: Duration = Duration::from_secs(60);

#[test]
fn ls_is_sorted_long_and_human() {
    let root = temp_dir("cd-root");
    std::fs::write(root.join("b.txt"), vec![1u8; 1536]).unwrap();
    std::fs::write(root.join("a.txt"), b"a").unwrap();
    std::fs::create_dir(root.join("c")).unwrap();
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let out = run_with_timeout(wirekit(&["ls", &a]), b"", T);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    assert_eq!(names, ["a.txt", "b.txt", "c/"], "{text}");
    let out = run_with_timeout(wirekit(&["ls", "-lh", &a]), b"", T);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[1].starts_with("- ") && lines[1].contains(" 1.5K "),
        "{text}"
    );
    assert!(
        lines[2].starts_with("d ") && lines[2].ends_with(" c/"),
        "{text}"
    );
    let year = lines[0].split_whitespace().nth(2).unwrap();
    assert!(year.len() == 10 && year.starts_with("20"), "date in {text}");
}

#[test]
fn seed002_download_warns_it_is_slow() {
    let (root, work) = (temp_dir("cd-root"), temp_dir("cd-work"));
    std::fs::write(root.join("m.bin"), vec![7u8; 2 << 20]).unwrap();
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let mut cmd = wirekit(&["get", &a, "m.bin", "--dialect", "seed002"]);
    cmd.current_dir(&work);
    let out = run_with_timeout(cmd, b"", T);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("slow by design"), "{}", stderr(&out));
}

#[test]
fn tiny_file_logs_no_quarters() {
    let (root, work) = (temp_dir("cd-root"), temp_dir("cd-work"));
    std::fs::write(root.join("t.txt"), b"hello world").unwrap();
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let mut cmd = wirekit(&["get", &a, "t.txt"]);
    cmd.current_dir(&work);
    let out = run_with_timeout(cmd, b"", T);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains('%'), "{}", stderr(&out));
}

#[test]
fn progress_bar_fits_fifty_columns() {
    let (root, work) = (temp_dir("cd-root"), temp_dir("cd-work"));
    std::fs::write(root.join("m.bin"), vec![7u8; 2 << 20]).unwrap();
    let srv = serve(&root);
    let a = srv.addr("files", "tcp").to_string();
    let bin = wirekit_bin().to_str().unwrap().to_string();
    // Seed 002 paces its chunks, so the bar is drawn many times.
    let mut cmd = kit::python(
        "pty_run.py",
        &[
            "--cols",
            "50",
            "--stderr-only",
            "--",
            &bin,
            "get",
            &a,
            "m.bin",
            "--dialect",
            "seed002",
        ],
    );
    cmd.current_dir(&work);
    let out = run_with_timeout(cmd, b"", T);
    assert!(out.status.success(), "{}", stderr(&out));
    let tty = String::from_utf8_lossy(&out.stdout).into_owned();
    let strip = |s: &str| {
        let mut o = String::new();
        let mut esc = false;
        for c in s.chars() {
            match (esc, c) {
                (false, '\x1b') => esc = true,
                (true, c) if c.is_ascii_alphabetic() => esc = false,
                (true, _) => {}
                (false, c) => o.push(c),
            }
        }
        o
    };
    let frames: Vec<String> = tty
        .split(['\r', '\n'])
        .map(strip)
        .filter(|f| f.contains('['))
        .collect();
    assert!(!frames.is_empty(), "no bar drawn: {tty:?}");
    for f in &frames {
        assert!(
            f.chars().count() <= 50,
            "{} columns: {f:?}",
            f.chars().count()
        );
    }
}
