//! nats-server processes and `wirekit serve` chat nodes on the bus, for
//! the chat cluster tests (issue 19) and the load generator's cluster run:
//! everything on loopback with free ports, every wait bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{temp_dir, Program, Scratch, Server};

/// Whether nats-server is installed. Outside CI a missing server skips
/// the test loudly; in CI (`CI` set) it fails it, since
/// scripts/install-deps installs it there.
pub fn have_nats() -> bool {
    let found = Command::new("nats-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "nats-server is missing (scripts/install-deps installs it)"
        );
        eprintln!("SKIPPED: nats-server is not installed (apt-get install nats-server)");
    }
    found
}

/// A free loopback TCP port (bound and released: another process could
/// take it in between, which is unlikely enough on a test machine).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// One nats-server with JetStream, killed when dropped.
pub struct Nats {
    child: Option<Child>,
    /// Its client port.
    pub port: u16,
    store: PathBuf,
    extra: Vec<String>,
    _dir: Option<Scratch>,
}

impl Nats {
    /// A standalone server on a free port with its own store.
    pub fn start() -> Nats {
        let dir = temp_dir("nats");
        let store = dir.join("js");
        let mut n = Nats {
            child: None,
            port: free_port(),
            store,
            extra: Vec::new(),
            _dir: Some(dir),
        };
        n.restart();
        n
    }

    /// One member of a cluster (`name`, cluster port `cport`, routes to
    /// the other members' cluster ports), store under `dir`.
    pub fn member(dir: &Path, name: &str, cport: u16, routes: &[u16]) -> Nats {
        let routes: Vec<String> = routes
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect();
        let mut n = Nats {
            child: None,
            port: free_port(),
            store: dir.join(name),
            extra: vec![
                "-n".into(),
                name.into(),
                "--cluster_name".into(),
                "wk".into(),
                "--cluster".into(),
                format!("nats://127.0.0.1:{cport}"),
                "--routes".into(),
                routes.join(","),
            ],
            _dir: None,
        };
        n.restart();
        n
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again, on the same port and store) and waits
    /// until it accepts clients.
    pub fn restart(&mut self) {
        let store = self.store.to_str().expect("UTF-8 path").to_owned();
        let port = self.port.to_string();
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port, "-js", "-sd", &store])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nats-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while raw_connect(self.port).is_none() {
            assert!(Instant::now() < deadline, "nats-server did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (SIGTERM, then waits; SIGKILL after 10 s).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A plain NATS protocol connection (after INFO and CONNECT), or `None`
/// if nothing accepts on `port` yet.
fn raw_connect(port: u16) -> Option<(BufReader<TcpStream>, TcpStream)> {
    let s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut w = s.try_clone().ok()?;
    let mut r = BufReader::new(s);
    let mut info = String::new();
    r.read_line(&mut info).ok()?;
    if !info.starts_with("INFO ") {
        return None;
    }
    w.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n")
        .ok()?;
    let mut pong = String::new();
    r.read_line(&mut pong).ok()?;
    pong.starts_with("PONG").then_some((r, w))
}

/// Publishes `payload` on `subject` as a bare NATS client would (not
/// through wirekit), and waits until the server has processed it.
pub fn raw_publish(port: u16, subject: &str, payload: &[u8]) {
    let (mut r, mut w) = raw_connect(port).expect("connect to nats-server");
    let mut msg = format!("PUB {subject} {}\r\n", payload.len()).into_bytes();
    msg.extend_from_slice(payload);
    msg.extend_from_slice(b"\r\nPING\r\n");
    w.write_all(&msg).expect("publish");
    let mut reply = String::new();
    r.read_line(&mut reply).expect("reply");
    assert!(reply.starts_with("PONG"), "nats-server said {reply:?}");
    let _ = r.get_mut().read(&mut [0u8; 0]);
}

/// `wirekit serve` with one chat listener on the bus at `urls`.
pub fn node<P: Program>(urls: &str, extra: &[&str]) -> (Server<P>, SocketAddr) {
    let mut args = vec!["serve", "--listen", "chat=127.0.0.1:0", "--chat-nats", urls];
    args.extend(extra);
    let srv = Server::start(&args, 1);
    let addr = srv.addr("chat", "tcp");
    (srv, addr)
}

/// One nats-server and three chat nodes on it.
pub fn three_nodes<P: Program>(extra: &[&str]) -> (Nats, Vec<(Server<P>, SocketAddr)>) {
    let nats = Nats::start();
    let url = nats.url();
    let nodes = (0..3).map(|_| node(&url, extra)).collect();
    (nats, nodes)
}
