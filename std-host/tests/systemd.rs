//! systemd integration (issue 18): socket activation through Debian's
//! `systemd-socket-activate` (the sockets are bound by it, named with
//! `--fdname`, and passed to `wirekit serve`), readiness and stopping
//! notifications over a real `NOTIFY_SOCKET`, and the shipped unit files
//! checked by `systemd-analyze verify`.

wirekit_testkit::kit!();

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

use kit::{temp_dir, wirekit_bin, workspace_root, Server};

const T: Duration = Duration::from_secs(20);

fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "!!! SKIPPED: {tool} is not installed (scripts/install-deps installs systemd) !!!"
        );
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn passed_sockets_run_the_services_their_names_say() {
    if !have("systemd-socket-activate") {
        return;
    }
    let (tcp, udp) = (free_port(), free_port());
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.args(["-l", &format!("127.0.0.1:{tcp}"), "--fdname=echo", "--"])
        .arg(wirekit_bin())
        .args(["serve"]);
    // Activation happens on the first connection: make it while the
    // harness waits for the `listening` line.
    let poke = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let mut s = TcpStream::connect(("127.0.0.1", tcp)).unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        s.write_all(b"activated").unwrap();
        let mut got = [0u8; 9];
        s.read_exact(&mut got).unwrap();
        got
    });
    let srv = Server::spawn(cmd, 1);
    assert_eq!(srv.addr("echo", "tcp").port(), tcp);
    assert_eq!(&poke.join().unwrap(), b"ACTIVATED");
    // Only what was passed runs: no default set beside it.
    assert_eq!(srv.addrs().len(), 1, "{:?}", srv.addrs());
    drop(srv);
    // A datagram socket named `time` runs the time service.
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.args([
        "-d",
        "-l",
        &format!("127.0.0.1:{udp}"),
        "--fdname=time",
        "--",
    ])
    .arg(wirekit_bin())
    .arg("serve");
    let poke = std::thread::spawn(move || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut buf = [0u8; 64];
        for _ in 0..40 {
            s.send_to(b"%Y", ("127.0.0.1", udp)).unwrap();
            if let Ok(n) = s.recv(&mut buf) {
                return String::from_utf8_lossy(&buf[..n]).into_owned();
            }
        }
        String::new()
    });
    let srv = Server::spawn(cmd, 1);
    assert_eq!(srv.addr("time", "udp").port(), udp);
    let year = poke.join().unwrap();
    assert!(year.len() == 4 && year.starts_with("20"), "{year:?}");
}

#[test]
fn readiness_and_stopping_are_notified() {
    let dir = temp_dir("sd-notify");
    let path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(T)).unwrap();
    let mut cmd = Command::new(wirekit_bin());
    cmd.args(["serve", "--listen", "echo=127.0.0.1:0"])
        .env("NOTIFY_SOCKET", &path);
    let mut srv = Server::spawn(cmd, 1);
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).expect("READY=1 within 20 s");
    assert!(String::from_utf8_lossy(&buf[..n]).contains("READY=1"));
    srv.signal("TERM");
    let n = sock.recv(&mut buf).expect("STOPPING=1 after SIGTERM");
    assert!(String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1"));
    assert!(srv.wait_timeout(T).is_some_and(|s| s.success()));
}

#[test]
fn the_shipped_units_pass_systemd_analyze_verify() {
    if !have("systemd-analyze") {
        return;
    }
    let src = workspace_root().join("contrib/systemd");
    let dir = temp_dir("sd-units");
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        let text = std::fs::read_to_string(e.path()).unwrap();
        // Point ExecStart at the binary the tests built.
        let text = text.replace("/usr/local/bin/wirekit", wirekit_bin().to_str().unwrap());
        std::fs::write(dir.join(e.file_name()), text).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.join("wirekit.service"))
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let relevant: Vec<&str> = err.lines().filter(|l| l.contains("wirekit")).collect();
    assert!(out.status.success() && relevant.is_empty(), "{err}");
}
