//! The time service against Python's `time.strftime`: every conversion
//! Python supports on Linux (glibc), with flags, widths and E/O modifiers,
//! sent through the real UDP service and compared with Python run under the
//! same `TZ`, in several zones.

wirekit_testkit::kit!();

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use kit::{python, run_with_timeout, wirekit_bin, Server};

const T: Duration = Duration::from_secs(60);

/// Every conversion character glibc knows, plus unknown ones (copied
/// through), the E/O alternatives, flags and widths, and odd edges.
fn formats() -> Vec<String> {
    let mut f: Vec<String> = Vec::new();
    for c in ('a'..='z').chain('A'..='Z') {
        f.push(format!("%{c}"));
    }
    for c in "cCxXyY".chars() {
        f.push(format!("%E{c}"));
    }
    for c in "deHImMSuUVwWy".chars() {
        f.push(format!("%O{c}"));
    }
    for flag in ["_", "-", "0", "^", "#"] {
        for c in "aAbBdeHjmpYZzyGgbIlkSs".chars() {
            f.push(format!("%{flag}{c}"));
        }
    }
    for w in ["1", "3", "10", "_12", "-8", "012", "^20"] {
        for c in "YdjaBzZpe".chars() {
            f.push(format!("%{w}{c}"));
        }
    }
    f.extend(
        [
            "%%",
            "%",
            "a%",
            "%Y-%m-%d %X",
            "%c|%x|%X|%r|%D|%F|%R|%T",
            "%n%t",
            "%:z",
            "%Ey%EC",
            "%#c",
            "%^c",
            "time: %H h 你好 %M",
            "%5%",
            "%-%",
            "%E",
            "%O",
            "%Ez",
            "%OY",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    f
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn ask_all(sock: &UdpSocket, to: SocketAddr, fmts: &[String]) -> Vec<Vec<u8>> {
    let mut buf = vec![0u8; 70_000];
    fmts.iter()
        .map(|f| {
            sock.send_to(f.as_bytes(), to).unwrap();
            let (n, _) = sock.recv_from(&mut buf).expect("time service answers");
            buf[..n].to_vec()
        })
        .collect()
}

fn python_all(tz: &str, fmts: &[String]) -> Vec<Option<Vec<u8>>> {
    let input: String = fmts.iter().map(|f| hex(f.as_bytes()) + "\n").collect();
    let mut cmd = python("strftime_ref.py", &[]);
    cmd.env("TZ", tz);
    let out = run_with_timeout(cmd, input.as_bytes(), T);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .map(|l| {
            (l != "ERR").then(|| {
                (0..l.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap())
                    .collect()
            })
        })
        .collect()
}

/// Compares the service with Python for every format. Python runs between
/// two rounds of questions, so each answer must match one of the two
/// rounds (the clock may tick in between); formats that still differ are
/// retried a few times before failing.
fn check_zone(tz: &str) {
    let mut cmd = Command::new(wirekit_bin());
    cmd.env("TZ", tz)
        .args(["serve", "--listen", "time=127.0.0.1:0"]);
    let srv = Server::spawn(cmd, 1);
    let to = srv.addr("time", "udp");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut todo = formats();
    let total = todo.len();
    for attempt in 0..4 {
        let before = ask_all(&sock, to, &todo);
        let py = python_all(tz, &todo);
        let after = ask_all(&sock, to, &todo);
        assert_eq!(py.len(), todo.len());
        let mut failed = Vec::new();
        for (i, f) in todo.iter().enumerate() {
            let ok = match &py[i] {
                Some(p) => *p == before[i] || *p == after[i],
                // Python raised: the service must answer with an error text.
                None => after[i].starts_with(b"error: "),
            };
            if !ok {
                failed.push((
                    f.clone(),
                    String::from_utf8_lossy(py[i].as_deref().unwrap_or(b"")).into_owned(),
                    String::from_utf8_lossy(&after[i]).into_owned(),
                ));
            }
        }
        if failed.is_empty() {
            eprintln!("TZ={tz}: {total} formats match Python");
            return;
        }
        if attempt == 3 {
            panic!("TZ={tz}: differs from Python (format, python, wirekit): {failed:#?}");
        }
        todo = failed.into_iter().map(|(f, _, _)| f).collect();
    }
}

#[test]
fn strftime_table_matches_python_utc() {
    check_zone("UTC");
}

#[test]
fn strftime_table_matches_python_in_other_zones() {
    for tz in [
        "Europe/Berlin",
        "Asia/Kolkata",
        "America/St_Johns",
        "EST5EDT",
        "<+0330>-3:30",
    ] {
        check_zone(tz);
    }
}
