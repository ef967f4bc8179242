//! Helpers shared by the file transfer tests (`files.rs`, `files_seeds.rs`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::kit::{python, Server};
use md5::{Digest as _, Md5};

/// Timeout for one peer run.
pub const T: Duration = Duration::from_secs(60);

/// Text with several lines and multi-byte characters (seed 002 and 004
/// read files line by line).
pub fn text_file() -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..3000 {
        v.extend_from_slice(format!("第{i}行 line {i} of the test file\n").as_bytes());
    }
    v
}

pub fn md5_file(path: &Path) -> String {
    let mut f = std::fs::File::open(path).unwrap();
    let mut m = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        m.update(&buf[..n]);
    }
    format!("{:x}", m.finalize())
}

pub fn serve(root: &Path) -> Server {
    let root = root.to_str().unwrap();
    Server::start(
        &[
            "serve",
            "--listen",
            "files=127.0.0.1:0",
            "--listen",
            "files-ack=127.0.0.1:0",
            "--root",
            root,
        ],
        2,
    )
}

pub fn addr_args(a: SocketAddr) -> [String; 2] {
    [a.ip().to_string(), a.port().to_string()]
}

pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A seed's Python server, killed when dropped.
pub struct PyServer {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl PyServer {
    /// Starts `tests/py/SCRIPT 127.0.0.1 0 ROOT` and reads its address.
    pub fn start(script: &str, root: &Path) -> PyServer {
        let mut cmd = python(script, &["127.0.0.1", "0", root.to_str().unwrap()]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawn python server");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("{script} printed no listening line");
            });
        let addr = line.rsplit(' ').next().unwrap().parse().unwrap();
        PyServer { child, addr }
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn in_dir(mut cmd: Command, dir: &Path) -> Command {
    cmd.current_dir(dir);
    cmd
}
