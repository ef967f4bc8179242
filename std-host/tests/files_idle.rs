//! Issue 13 item 2: idle files connections must not stop the service.
//! Each used to hold a blocking thread, so ~512 silent connections left
//! none for anyone else until the idle timeout. Here 2,000 (or
//! `WIREKIT_IDLE_CONNS`, e.g. 10000 for the benchmark) silent connections
//! are held open over loopback while `wirekit ls` and a 10 MB get must
//! still complete; the server's memory is reported.

wirekit_testkit::kit!();

mod common_files;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common_files::*;
use kit::{run_with_timeout, temp_dir, wirekit, wirekit_bin, Server};

/// Raises this process's open-file limit (soft and hard) with prlimit(1).
fn raise_nofile(n: u64) {
    let ok = Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={n}:{n}"))
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "prlimit could not raise RLIMIT_NOFILE to {n}");
}

/// `VmRSS` and `VmHWM` of `pid` in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Open descriptors of `pid`.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Threads of `pid` (the old server grew one per connection).
fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count())
}

fn serve_many(root: &Path, conns: usize) -> Server {
    let limit = conns + 1000;
    let script = format!(
        "ulimit -n {limit} && exec \"$0\" serve --listen files=127.0.0.1:0 --root \"$1\" \
         --max-connections {}",
        conns + 100
    );
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .arg(wirekit_bin())
        .arg(root.to_str().unwrap());
    Server::spawn(cmd, 1)
}

/// Opens `n` connections that never send a byte.
fn hold_idle(a: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| TcpStream::connect(a).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect()
}

#[test]
fn thousands_of_idle_connections_leave_the_files_service_usable() {
    let conns: usize = std::env::var("WIREKIT_IDLE_CONNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    raise_nofile((conns + 1000) as u64);
    let (root, work) = (temp_dir("fi-root"), temp_dir("fi-work"));
    let data: Vec<u8> = (0..10_000_000u32)
        .map(|i| (i * 7 + i / 977) as u8)
        .collect();
    std::fs::write(root.join("ten.bin"), &data).unwrap();
    let srv = serve_many(&root, conns);
    let a = srv.addr("files", "tcp");
    let (rss0, _) = memory_kib(srv.pid());

    let idle = hold_idle(a, conns);
    // Every connection has been accepted (and would hold a thread in the
    // old server) once the server has a descriptor for each.
    let deadline = Instant::now() + T;
    while open_fds(srv.pid()) < conns && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let fds = open_fds(srv.pid());
    assert!(fds >= conns, "the server accepted only {fds} of {conns}");

    let t0 = Instant::now();
    let ls = run_with_timeout(wirekit(&["ls", &a.to_string()]), b"", T);
    let ls_time = t0.elapsed();
    assert!(ls.status.success(), "ls: {}", stderr(&ls));
    assert!(stdout(&ls).contains("ten.bin"), "{}", stdout(&ls));
    let t0 = Instant::now();
    let get = wirekit(&["get", &a.to_string(), "ten.bin", "-o"]);
    let mut get = get;
    get.arg(work.join("ten.bin"));
    let get = run_with_timeout(get, b"", T);
    let get_time = t0.elapsed();
    assert!(get.status.success(), "get: {}", stderr(&get));
    assert_eq!(
        md5_file(&work.join("ten.bin")),
        md5_file(&root.join("ten.bin"))
    );

    let (rss, hwm) = memory_kib(srv.pid());
    eprintln!(
        "idle files connections: {conns}; ls {ls_time:?}, 10 MB get {get_time:?}; \
         server VmRSS {rss} KiB (before the connections {rss0} KiB), VmHWM {hwm} KiB, \
         threads {}",
        threads(srv.pid())
    );
    drop(idle);
}
