//! The RFC simple services (862 echo, 863 discard, 864 chargen, 867
//! daytime, 868 time) over TCP and UDP, with real peers: `rdate`, `socat`
//! and OpenBSD `nc`, plus raw sockets for exact byte checks.

wirekit_testkit::kit!();

use std::io::Read;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kit::{run_with_timeout, wirekit_bin, Server};

const T: Duration = Duration::from_secs(30);

/// Starts `service` (TCP and UDP) on `ip` port 0, with TZ=UTC.
fn serve_on(service: &str, ip: &str) -> Server {
    let mut cmd = Command::new(wirekit_bin());
    cmd.env("TZ", "UTC")
        .args(["serve", "--listen", &format!("{service}={ip}:0")]);
    Server::spawn(cmd, 2)
}

fn serve_v4(service: &str) -> Server {
    serve_on(service, "127.0.0.1")
}

fn sh(script: &str, stdin: &[u8]) -> std::process::Output {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    let out = run_with_timeout(cmd, stdin, T);
    assert!(out.status.success(), "{script}: {out:?}");
    out
}

fn host_port(a: SocketAddr) -> (String, String) {
    (a.ip().to_string(), a.port().to_string())
}

/// The RFC 864 pattern, written independently of the core's generator.
fn chargen_expected(len: usize) -> Vec<u8> {
    let printable: Vec<u8> = (b' '..=b'~').collect();
    let mut v = Vec::new();
    let mut line = 0;
    while v.len() < len {
        for k in 0..72 {
            v.push(printable[(line + k) % 95]);
        }
        v.extend_from_slice(b"\r\n");
        line += 1;
    }
    v.truncate(len);
    v
}

#[test]
fn plain_echo_with_nc_and_socat() {
    let srv = serve_v4("plain-echo");
    let (h, p) = host_port(srv.addr("plain-echo", "tcp"));
    let out = sh(&format!("nc -N {h} {p}"), b"Mixed case stays\n");
    assert_eq!(out.stdout, b"Mixed case stays\n");
    let binary: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let out = sh(&format!("socat -t 5 - TCP:{h}:{p}"), &binary);
    assert!(out.stdout == binary, "TCP bytes changed");
    let u = srv.addr("plain-echo", "udp");
    let out = sh(&format!("socat -t 5 - UDP:{u}"), b"udp Datagram");
    assert_eq!(out.stdout, b"udp Datagram");
}

#[test]
fn discard_swallows_everything() {
    let srv = serve_v4("discard");
    let (h, p) = host_port(srv.addr("discard", "tcp"));
    let out = sh(&format!("head -c 4000000 /dev/zero | nc -N {h} {p}"), b"");
    assert!(out.stdout.is_empty());
    let u = srv.addr("discard", "udp");
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.send_to(b"anything", u).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(c.recv_from(&mut buf).is_err(), "discard answered");
}

#[test]
fn chargen_pattern_over_tcp_and_udp() {
    let srv = serve_v4("chargen");
    let a = srv.addr("chargen", "tcp");
    // Raw socket: the first 100 lines and more are exactly the pattern.
    let mut s = TcpStream::connect(a).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let mut got = vec![0u8; 74 * 200 + 13];
    s.read_exact(&mut got).unwrap();
    assert!(got == chargen_expected(got.len()), "chargen TCP pattern");
    drop(s);
    // nc stops when head is satisfied.
    let (h, p) = host_port(a);
    let out = sh(&format!("nc -d {h} {p} | head -c 740"), b"");
    assert_eq!(out.stdout, chargen_expected(740));
    // UDP: whole lines, at most 512 bytes, the pattern continuing.
    let u = srv.addr("chargen", "udp");
    let out = sh(&format!("socat -t 2 - UDP:{u}"), b"\n");
    assert_eq!(out.stdout, chargen_expected(6 * 74));
}

fn check_daytime(text: &[u8]) {
    // "Sun Nov 22 08:50:57 2026 UTC\r\n"
    let s = std::str::from_utf8(text).unwrap();
    let year = 1970
        + SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 31_556_952;
    assert!(s.ends_with(" UTC\r\n"), "{s:?}");
    let words: Vec<&str> = s.split_whitespace().collect();
    assert_eq!(words.len(), 6, "{s:?}");
    assert!(["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].contains(&words[0]));
    assert_eq!(words[3].len(), 8, "{s:?}");
    let y: u64 = words[4].parse().unwrap();
    assert!(y.abs_diff(year) <= 1, "{s:?}");
}

#[test]
fn daytime_over_tcp_and_udp_on_both_families() {
    let srv = serve_on("daytime", "[::1]");
    let (h, p) = host_port(srv.addr("daytime", "tcp"));
    assert!(h.contains(':'), "IPv6 address expected: {h}");
    let out = sh(&format!("nc -d {h} {p}"), b"");
    check_daytime(&out.stdout);
    let u = srv.addr("daytime", "udp");
    let out = sh(&format!("socat -t 2 - UDP6:{u}"), b"\n");
    check_daytime(&out.stdout);
    let srv = serve_v4("daytime");
    let (h, p) = host_port(srv.addr("daytime", "tcp"));
    check_daytime(&sh(&format!("nc -d {h} {p}"), b"").stdout);
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn rfc868_raw_bytes_and_rdate() {
    let srv = serve_v4("rfc868");
    let a = srv.addr("rfc868", "tcp");
    let mut s = TcpStream::connect(a).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let mut four = Vec::new();
    s.read_to_end(&mut four).unwrap();
    assert_eq!(four.len(), 4);
    let secs = i64::from(u32::from_be_bytes(four.try_into().unwrap())) - 2_208_988_800;
    assert!((secs - now_unix()).abs() <= 5, "RFC 868 time off: {secs}");
    // UDP answers an empty datagram.
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    c.send_to(b"", srv.addr("rfc868", "udp")).unwrap();
    let mut buf = [0u8; 16];
    let (n, _) = c.recv_from(&mut buf).unwrap();
    assert_eq!(n, 4);
    // Debian rdate, TCP and UDP, IPv4 and IPv6.
    let year = 1970 + now_unix() / 31_556_952;
    let srv6 = serve_on("rfc868", "[::1]");
    for (srv, host) in [(&srv, "127.0.0.1"), (&srv6, "::1")] {
        for udp in [false, true] {
            let port = srv.addr("rfc868", if udp { "udp" } else { "tcp" }).port();
            let flag = if udp { "-u " } else { "" };
            let out = sh(&format!("TZ=UTC rdate -p {flag}-o {port} {host}"), b"");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains(" UTC "), "rdate {flag}{host}: {text}");
            let y: i64 = text.split_whitespace().last().unwrap().parse().unwrap();
            assert!((y - year).abs() <= 1, "rdate {flag}{host}: {text}");
        }
    }
}
