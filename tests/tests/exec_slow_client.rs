//! Issue 13 items 7 and 8: clients that send a command and never read its
//! output. The timeout must still stop the command and free its slot
//! (item 7), and the seed dialects must not hold the whole output of every
//! such connection in memory (item 8).

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use wirekit_tests::{run_with_timeout, wirekit, Server};

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
