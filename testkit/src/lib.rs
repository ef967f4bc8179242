//! Harness of the integration tests (`std-host/tests/`, `loadgen/tests/`):
//! starts the real `wirekit` program, learns the ports it bound from its
//! `listening ...` lines, runs peers (the wirekit clients, the seeds'
//! Python programs, Debian tools) against it, and kills everything it
//! started when dropped.
//!
//! The harness builds nothing. Cargo builds a package's binaries for that
//! package's integration tests and tells them where through
//! `CARGO_BIN_EXE_<name>`, at compile time of the test crate, so the test
//! crate says how `wirekit` is started ([`Program`], usually through
//! [`kit!`]) and the harness is generic over that.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub mod nats;

/// How a test crate starts the `wirekit` program.
pub trait Program {
    /// A command running `wirekit`, no arguments given yet.
    fn command() -> Command;
}

/// Declares module `kit` in an integration test of the `wirekit-host`
/// package: everything of this harness, bound to the `wirekit` binary
/// cargo built for the test (`env!("CARGO_BIN_EXE_wirekit")`, evaluated in
/// the test crate; in a package without that binary it does not compile).
/// Test files write `wirekit_testkit::kit!();` once, then `use kit::{…}`.
#[macro_export]
macro_rules! kit {
    () => {
        /// The test harness (`wirekit_testkit`) bound to this package's
        /// `wirekit` binary.
        #[allow(dead_code)]
        mod kit {
            pub use ::wirekit_testkit::*;

            /// The `wirekit` binary cargo built for these tests.
            pub enum Wirekit {}

            impl ::wirekit_testkit::Program for Wirekit {
                fn command() -> ::std::process::Command {
                    ::std::process::Command::new(wirekit_bin())
                }
            }

            /// Path of the `wirekit` binary cargo built for these tests.
            pub fn wirekit_bin() -> &'static ::std::path::Path {
                ::std::path::Path::new(env!("CARGO_BIN_EXE_wirekit"))
            }

            /// A running `wirekit` of these tests.
            pub type Server = ::wirekit_testkit::Server<Wirekit>;

            /// A `wirekit` client command (not yet run).
            pub fn wirekit(args: &[&str]) -> ::std::process::Command {
                ::wirekit_testkit::wirekit::<Wirekit>(args)
            }

            /// `wirekit serve` with only a `files` listener, rooted at `root`.
            pub fn serve_files(root: &::std::path::Path) -> Server {
                ::wirekit_testkit::serve_files(root)
            }
        }
    };
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit/ has a parent")
        .to_path_buf()
}

/// A running `wirekit serve` (or any long-running wirekit subcommand) that
/// is killed when dropped.
/// `P` says how `wirekit` is started.
pub struct Server<P> {
    child: Child,
    addrs: HashMap<(String, String), SocketAddr>,
    stderr: mpsc::Receiver<String>,
    program: PhantomData<fn() -> P>,
}

impl<P: Program> Server<P> {
    /// Starts `wirekit <args…>` and waits (at most 20 s) until it has
    /// printed `expected` lines of the form `listening SERVICE PROTO ADDR`.
    pub fn start(args: &[&str], expected: usize) -> Self {
        Self::start_in(args, expected, None)
    }

    /// Like [`Server::start`] with a working directory.
    pub fn start_in(args: &[&str], expected: usize, cwd: Option<&Path>) -> Self {
        let mut cmd = wirekit::<P>(args);
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        Self::spawn(cmd, expected)
    }
}

impl<P> Server<P> {
    /// Starts any server command (wirekit with extra environment, or a
    /// Python baseline) that prints `listening SERVICE PROTO ADDR` lines,
    /// and waits (at most 20 s) for `expected` of them.
    pub fn spawn(mut cmd: Command, expected: usize) -> Self {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
        let mut child = cmd.spawn().expect("spawn server");
        let stdout = child.stdout.take().expect("stdout piped");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel();
        // Reads stdout to its end even once nobody listens: a server that
        // prints per request (the seeds' do) would otherwise get EPIPE.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let (etx, erx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[wirekit] {line}");
                if etx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut addrs = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while addrs.len() < expected {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "wirekit {args:?} printed {} of {expected} listening lines",
                        addrs.len()
                    );
                }
            };
            let parts: Vec<&str> = line.split_whitespace().collect();
            if let ["listening", service, proto, addr] = parts[..] {
                let addr: SocketAddr = addr.parse().expect("listening line has an address");
                addrs.insert((service.to_string(), proto.to_string()), addr);
            }
        }
        Server {
            child,
            addrs,
            stderr: erx,
            program: PhantomData,
        }
    }

    /// The address a service bound, e.g. `addr("echo", "tcp")`.
    pub fn addr(&self, service: &str, proto: &str) -> SocketAddr {
        *self
            .addrs
            .get(&(service.to_string(), proto.to_string()))
            .unwrap_or_else(|| panic!("no listening line for {service} {proto}: {:?}", self.addrs))
    }

    /// All `listening` lines seen, as (service, proto) → address.
    pub fn addrs(&self) -> &HashMap<(String, String), SocketAddr> {
        &self.addrs
    }

    /// The process id, e.g. to send it a signal.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stderr lines logged so far (non-blocking).
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }

    /// Sends a signal (`"TERM"`, `"INT"`, …) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// The server's resident set size in KiB (VmRSS from /proc).
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl<P> Drop for Server<P> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command to completion with a hard timeout, feeding it `stdin`.
/// Panics (failing the test) if it does not finish in time.
pub fn run_with_timeout(mut cmd: Command, stdin: &[u8], timeout: Duration) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn command");
    let mut input = child.stdin.take().expect("stdin piped");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = input.write_all(&data);
    });
    let mut out = child.stdout.take().expect("stdout piped");
    let mut err = child.stderr.take().expect("stderr piped");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("command {cmd:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// A `wirekit` client command (not yet run).
pub fn wirekit<P: Program>(args: &[&str]) -> Command {
    let mut cmd = P::command();
    cmd.args(args);
    cmd
}

/// A python3 command running the script `tests/py/<script>` with `args`.
pub fn python(script: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(workspace_root().join("tests/py").join(script))
        .args(args)
        .env("PYTHONIOENCODING", "utf-8")
        .env("PYTHONUNBUFFERED", "1");
    cmd
}

/// A fresh empty temporary directory, unique per call, removed again when
/// the returned guard is dropped (also when the test panics), so repeated
/// runs do not fill the disk: the files tests write hundreds of megabytes.
pub fn temp_dir(tag: &str) -> Scratch {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("wirekit-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    Scratch(dir)
}

/// A temporary directory that is deleted, with everything in it, on drop.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A TCP connection to `to` from the loopback source address `src` (e.g.
/// `127.0.0.2`), for the servers' per-source limits.
pub fn connect_from(src: &str, to: SocketAddr) -> std::net::TcpStream {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let src: SocketAddr = format!("{src}:0").parse().expect("a source address");
    s.bind(&src.into()).expect("bind the source address");
    s.connect_timeout(&to.into(), Duration::from_secs(5))
        .expect("connect");
    s.into()
}

/// Resident set size of process `pid` in KiB (VmRSS from /proc/PID/status).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

/// A finished process's stderr as text, for assertions and messages.
pub fn stderr_text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `wirekit serve` with only a `files` listener, rooted at `root`.
pub fn serve_files<P: Program>(root: &Path) -> Server<P> {
    let root = root.to_str().expect("a UTF-8 temp path");
    Server::start(
        &["serve", "--listen", "files=127.0.0.1:0", "--root", root],
        1,
    )
}
