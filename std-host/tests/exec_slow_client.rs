//! Issue 13 items 7 and 8: clients that send a command and never read its
//! output. The timeout must still stop the command and free its slot
//! (item 7), and the seed dialects must not hold the whole output of every
//! such connection in memory (item 8).

wirekit_testkit::kit!();

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use kit::{run_with_timeout, wirekit, Server};

const T: Duration = Duration::from_secs(60);

fn frame(header: &str, body: &[u8]) -> Vec<u8> {
    let mut f = (header.len() as u32).to_le_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    f.extend_from_slice(body);
    f
}

fn processes_with(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .is_ok_and(|c| c.starts_with("yes ") && c.contains(marker))
        })
        .count()
}

#[test]
fn timeout_stops_a_command_whose_client_does_not_read() {
    let s = Server::start(
        &[
            "serve",
            "--exec-insecure",
            "--exec-timeout",
            "1",
            "--exec-max-concurrent",
            "1",
            "--listen",
            "exec=127.0.0.1:0",
        ],
        1,
    );
    let addr = s.addr("exec", "tcp");
    let cmd = b"yes 77310-never-read";
    let mut c = TcpStream::connect(addr).expect("connect");
    c.write_all(&frame(r#"{"op":"hello"}"#, b"")).unwrap();
    let exec = format!(r#"{{"op":"exec","total_size":{}}}"#, cmd.len());
    c.write_all(&frame(&exec, cmd)).unwrap();
    // `c` is never read: the server's writes block once the socket
    // buffers are full, within milliseconds of `yes` starting.
    let deadline = Instant::now() + Duration::from_secs(3);
    while processes_with("77310-never-read") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Gone soon after the 1 s timeout (bounded wait, not a speed check).
    let deadline = Instant::now() + Duration::from_secs(10);
    while processes_with("77310-never-read") > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        processes_with("77310-never-read"),
        0,
        "the command outlived --exec-timeout"
    );
    // The only slot is free again although `c` is still open and unread.
    let out = run_with_timeout(
        wirekit(&["exec", &addr.to_string(), "--", "echo", "slot", "free"]),
        b"",
        T,
    );
    assert_eq!(
        out.stdout,
        b"slot free\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(c);
}

/// Peak resident set size in KiB (VmHWM).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn running_with(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .count()
}

#[test]
fn seed_dialect_replies_to_clients_that_do_not_read_are_not_held_in_memory() {
    const CLIENTS: usize = 12;
    let s = Server::start(
        &[
            "serve",
            "--exec-insecure",
            "--exec-max-concurrent",
            "32",
            "--listen",
            "exec=127.0.0.1:0",
            "--listen",
            "exec-len=127.0.0.1:0",
            "--listen",
            "exec-ack=127.0.0.1:0",
        ],
        3,
    );
    let before = peak_rss_kib(s.pid());
    // 8 MB of output each, to clients that never read a byte.
    let cmd = b"head -c 8000001 /dev/zero";
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let service = ["exec-len", "exec", "exec-ack"][i % 3];
        let mut c = TcpStream::connect(s.addr(service, "tcp")).expect("connect");
        c.write_all(cmd).unwrap();
        clients.push(c);
    }
    // Every command has run and ended (bounded wait): its whole output has
    // been taken from the pipes and is waiting for its client.
    std::thread::sleep(Duration::from_millis(500));
    let deadline = Instant::now() + Duration::from_secs(30);
    while running_with("8000001") > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(running_with("8000001"), 0, "commands still running");
    std::thread::sleep(Duration::from_millis(500));
    let peak = peak_rss_kib(s.pid());
    eprintln!(
        "{CLIENTS} non-reading clients x 8 MB: server VmHWM {peak} KiB (at start {before} KiB)"
    );
    // The old code held every reply whole (twice while assembling it):
    // more than 12 x 16 MB. Now each holds at most 2 x 64 KiB in memory.
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
    drop(clients);
}

#[test]
fn unsent_output_over_all_connections_is_bounded() {
    let s = Server::start(
        &[
            "serve",
            "--exec-insecure",
            "--exec-spool-max",
            "20000000",
            "--listen",
            "exec-len=127.0.0.1:0",
        ],
        1,
    );
    let addr = s.addr("exec-len", "tcp");
    let port = addr.port().to_string();
    let seed = |cmd: &str| {
        let out = run_with_timeout(
            kit::python("seed001_exec_len_client.py", &["127.0.0.1", &port]),
            format!("{cmd}\n").as_bytes(),
            T,
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // 15 MB for a client that never reads: more than the socket buffers
    // take, so most of it stays spooled.
    let mut stuck = TcpStream::connect(addr).expect("connect");
    stuck.write_all(b"head -c 15000000 /dev/zero").unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let out = seed("head -c 8000000 /dev/zero | tr '\\0' y");
    assert!(out.contains("too much unsent output"), "{:.300}", out);
    assert!(!out.contains("yyyy"), "{:.300}", out);
    assert!(
        seed("echo small").contains("small"),
        "small replies still fit"
    );
    // Once the stuck client is gone, its share is free again.
    drop(stuck);
    std::thread::sleep(Duration::from_millis(500));
    let out = seed("head -c 8000000 /dev/zero | tr '\\0' y");
    assert_eq!(out.matches('y').count(), 8_000_000, "{:.300}", out);
}
