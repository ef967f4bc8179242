//! Issue 13 item 14: when the server shuts down (SIGTERM), a client it
//! is serving is told so in its dialect's error form rather than cut off
//! silently, over real loopback sockets.

wirekit_testkit::kit!();

mod common_files;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common_files::*;
use kit::temp_dir;

/// A native frame: `u32 LE header length`, JSON header, no body.
fn frame(json: &str) -> Vec<u8> {
    let mut v = (json.len() as u32).to_le_bytes().to_vec();
    v.extend_from_slice(json.as_bytes());
    v
}

/// Reads one frame; returns its JSON and skips its body.
fn read_frame(s: &mut TcpStream) -> String {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut json = vec![0u8; u32::from_le_bytes(len) as usize];
    s.read_exact(&mut json).unwrap();
    let json = String::from_utf8(json).unwrap();
    let body: u64 = json
        .split("\"total_size\":")
        .nth(1)
        .and_then(|r| r.split([',', '}']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    std::io::copy(&mut s.take(body), &mut std::io::sink()).unwrap();
    json
}

fn read_to_end(mut s: TcpStream) -> String {
    let mut v = Vec::new();
    let _ = s.read_to_end(&mut v);
    String::from_utf8_lossy(&v).into_owned()
}

#[test]
fn waiting_clients_are_told_the_server_is_shutting_down() {
    let root = temp_dir("fs-root");
    std::fs::write(root.join("a.txt"), b"hello").unwrap();
    let srv = serve(&root);
    let mut native = TcpStream::connect(srv.addr("files", "tcp")).unwrap();
    native.set_read_timeout(Some(T)).unwrap();
    native
        .write_all(&frame(r#"{"op":"list","total_size":0}"#))
        .unwrap();
    let listing = read_frame(&mut native);
    assert!(listing.contains("\"ok\""), "{listing}");
    // A seed 004 client between requests.
    let seed004 = TcpStream::connect(srv.addr("files-ack", "tcp")).unwrap();
    seed004.set_read_timeout(Some(T)).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    srv.signal("TERM");
    let told = read_frame(&mut native);
    assert!(told.contains("server is shutting down"), "{told}");
    assert!(told.contains("\"error\""), "{told}");
    let told = read_to_end(seed004);
    assert_eq!(told, "error: server is shutting down");
}
