//! Test harness for the integration tests in `tests/tests/`: starts the real
//! `wirekit` binary, learns the ports it bound from its `listening ...`
//! lines, runs peers (the wirekit clients, the seeds' Python programs, Debian
//! tools) against it, and kills everything it started when dropped.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Path of the `wirekit` binary, built once per test process if needed.
///
/// Integration tests of this crate cannot use `CARGO_BIN_EXE_*` (the binary
/// belongs to another package), so the harness builds it with the same
/// cargo and profile that is running the tests.
pub fn wirekit_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build_bin("wirekit-host", "wirekit"))
}

/// Path of the `wirekit-bench` load generator (its own crate, so that the
/// product binary carries none), built like [`wirekit_bin`].
pub fn bench_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build_bin("wirekit-loadgen", "wirekit-bench"))
}

/// Builds binary `bin` of workspace package `package` with the cargo and
/// profile running the tests, and returns its path.
fn build_bin(package: &str, bin: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test-binary>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps");
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(workspace_root())
        .args(["build", "-q", "-p", package, "--bin", bin]);
    if release {
        build.arg("--release");
    }
    // `cargo test` gives this process the test crate's CARGO_PKG_*
    // and CARGO_MANIFEST_* variables; build scripts that watch them
    // (ring's) would otherwise rebuild on every switch between this
    // build and the outer one.
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("CARGO_PKG_") || k.starts_with("CARGO_MANIFEST_") {
            build.env_remove(&key);
        }
    }
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "building the {bin} binary failed");
    let path = profile_dir.join(bin);
    assert!(path.exists(), "{} missing after build", path.display());
    path
}

/// A running `wirekit serve` (or any long-running wirekit subcommand) that
/// is killed when dropped.
pub struct Server {
    child: Child,
    addrs: HashMap<(String, String), SocketAddr>,
    stderr: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `wirekit <args…>` and waits (at most 20 s) until it has
    /// printed `expected` lines of the form `listening SERVICE PROTO ADDR`.
    pub fn start(args: &[&str], expected: usize) -> Server {
        Self::start_in(args, expected, None)
    }

    /// Like [`Server::start`] with a working directory.
    pub fn start_in(args: &[&str], expected: usize, cwd: Option<&Path>) -> Server {
        let mut cmd = Command::new(wirekit_bin());
        cmd.args(args);
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        Self::spawn(cmd, expected)
    }

    /// Starts any server command (wirekit with extra environment, or a
    /// Python baseline) that prints `listening SERVICE PROTO ADDR` lines,
    /// and waits (at most 20 s) for `expected` of them.
    pub fn spawn(mut cmd: Command, expected: usize) -> Server {
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

impl Drop for Server {
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
pub fn wirekit(args: &[&str]) -> Command {
    let mut cmd = Command::new(wirekit_bin());
    cmd.args(args);
    cmd
}

/// A `wirekit-bench` load generator command (not yet run).
pub fn wirekit_bench(args: &[&str]) -> Command {
    let mut cmd = Command::new(bench_bin());
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
pub fn serve_files(root: &Path) -> Server {
    let root = root.to_str().expect("a UTF-8 temp path");
    Server::start(
        &["serve", "--listen", "files=127.0.0.1:0", "--root", root],
        1,
    )
}
