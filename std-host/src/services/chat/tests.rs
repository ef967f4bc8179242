//! Room and session behaviour over real loopback sockets, without the
//! serve framework: a bare accept loop feeding `serve_client`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::room::{Room, RoomConfig};
use super::session::serve_client;
use crate::runtime::clock::local_now;
use wirekit_core::service::chat::Relay;

/// Every wait in these tests is bounded by this.
const LIMIT: Duration = Duration::from_secs(20);

struct TestServer {
    addr: SocketAddr,
    room: Arc<Room>,
    stop: watch::Sender<bool>,
}

async fn start(config: RoomConfig) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let room = Arc::new(Room::new(config, local_now));
    let (stop, stopped) = watch::channel(false);
    let r = room.clone();
    tokio::spawn(async move {
        loop {
            let (stream, peer) = listener.accept().await.unwrap();
            let room = r.clone();
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let (rd, wr) = stream.into_split();
                let shutdown = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                serve_client(&room, rd, wr, peer, shutdown).await;
            });
        }
    });
    TestServer { addr, room, stop }
}

struct Client {
    lines: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).await.unwrap();
        let (r, w) = s.into_split();
        Client {
            lines: BufReader::new(r),
            w,
        }
    }

    async fn send(&mut self, line: &str) {
        self.w.write_all(line.as_bytes()).await.unwrap();
    }

    /// Reads frames ("header\nbody\n\n") until one's body contains `needle`;
    /// returns (header, body). Panics at end of stream or after LIMIT.
    async fn until(&mut self, needle: &str) -> (String, String) {
        tokio::time::timeout(LIMIT, async {
            loop {
                let (head, body) = self.frame().await.expect("stream ended");
                if body.contains(needle) {
                    return (head, body);
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no frame with {needle:?} in time"))
    }

    async fn frame(&mut self) -> Option<(String, String)> {
        let mut head = String::new();
        let mut body = String::new();
        let mut blank = String::new();
        if self.lines.read_line(&mut head).await.ok()? == 0 {
            return None;
        }
        self.lines.read_line(&mut body).await.ok()?;
        self.lines.read_line(&mut blank).await.ok()?;
        assert_eq!(
            blank, "\n",
            "frame ends with an empty line (after {head:?} {body:?})"
        );
        Some((head, body))
    }
}

fn config() -> RoomConfig {
    RoomConfig {
        queue: 64,
        max_line: 100,
        relay: Relay::Strip,
        history: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_nick_who_and_leave() {
    let srv = start(config()).await;
    let mut a = Client::connect(srv.addr).await;
    a.until("joined (1 online)").await;
    let mut b = Client::connect(srv.addr).await;
    a.until("joined (2 online)").await;
    b.until("joined (2 online)").await;
    a.send("hello\r\n").await;
    for c in [&mut a, &mut b] {
        let (head, body) = c.until("hello").await;
        assert_eq!(body, "hello\n");
        // The seed's header: stamp and ip:port of the sender.
        let a_port = head.trim_end().rsplit(':').next().unwrap();
        assert!(
            head.starts_with("20") && head.contains(" 127.0.0.1:"),
            "{head}"
        );
        assert!(a_port.parse::<u16>().is_ok(), "{head}");
    }
    b.send("/nick bob\n").await;
    a.until("is now bob").await;
    a.send("/nick BOB\n").await;
    a.until("already in use").await;
    b.send("hi all\n").await;
    let (head, _) = a.until("hi all").await;
    assert!(head.ends_with(" bob\n"), "{head}");
    a.send("/who\n").await;
    let (_, body) = a.until("online (2)").await;
    assert!(body.contains("bob"), "{body}");
    b.send("  quit \n").await;
    a.until("bob left").await;
    // b still gets what was queued before its quit, then the close.
    b.until("hi all").await;
    let end = tokio::time::timeout(LIMIT, b.frame()).await.unwrap();
    assert!(end.is_none(), "server closes after quit");
    assert_eq!(srv.room.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_long_line_is_refused_and_connection_kept() {
    let srv = start(config()).await;
    let mut a = Client::connect(srv.addr).await;
    a.send(&format!("{}\nshort\n", "x".repeat(101))).await;
    a.until("longer than 100 bytes was not sent").await;
    let (_, body) = a.until("short").await;
    assert_eq!(body, "short\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_reader_is_dropped_and_others_keep_receiving() {
    let srv = start(RoomConfig {
        queue: 32,
        max_line: 1024,
        relay: Relay::Strip,
        history: 0,
    })
    .await;
    let mut reader = Client::connect(srv.addr).await;
    reader.until("joined (1 online)").await;
    // Never reads after joining.
    let mut stalled = Client::connect(srv.addr).await;
    stalled.until("joined (2 online)").await;
    let mut sender = Client::connect(srv.addr).await;
    sender.until("joined (3 online)").await;
    reader.until("joined (3 online)").await;
    // The sender's own copies are drained in the background.
    let Client {
        lines: mut echo,
        w: mut out,
    } = sender;
    let drain = tokio::spawn(async move {
        let mut sink = Vec::new();
        while echo.read_until(b'\n', &mut sink).await.is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    // Batches of lines until the stalled client's socket buffers and queue
    // overflow. The reader confirms each batch before the next is sent, so
    // it never has more than 16 frames (plus notices) outstanding and cannot
    // overflow its queue of 32 however slowly it is scheduled. Bounded
    // (about 50 MB) so a bug cannot loop forever.
    let filler = "y".repeat(1000);
    let mut dropped = None;
    for batch in 0..3000 {
        let mut chunk = String::new();
        for i in 0..15 {
            chunk.push_str(&format!("{filler} {batch}/{i}\n"));
        }
        chunk.push_str(&format!("end of batch {batch}\n"));
        out.write_all(chunk.as_bytes()).await.unwrap();
        loop {
            let Some((_, body)) = reader.frame().await else {
                panic!("reader dropped in batch {batch}")
            };
            if body.contains("was disconnected: too slow") {
                dropped = Some(body.clone());
            }
            if body == format!("end of batch {batch}\n") {
                break;
            }
        }
        if dropped.is_some() {
            break;
        }
    }
    let body = dropped.expect("the stalled client was never dropped");
    assert!(body.contains("127.0.0.1:"), "{body}");
    assert_eq!(srv.room.len(), 2);
    out.write_all(b"still here\n").await.unwrap();
    reader.until("still here").await;
    drain.abort();
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_everyone() {
    let srv = start(config()).await;
    let mut a = Client::connect(srv.addr).await;
    let mut b = Client::connect(srv.addr).await;
    a.until("joined (2 online)").await;
    b.until("joined (2 online)").await;
    srv.stop.send(true).unwrap();
    for c in [&mut a, &mut b] {
        c.until("server is stopping").await;
        let end = tokio::time::timeout(LIMIT, c.frame()).await.unwrap();
        assert!(end.is_none(), "connection closed after the notice");
    }
}

/// A room without sockets: queues of 20 frames, lines of 100 bytes.
fn small_room() -> Room {
    let config = RoomConfig {
        queue: 20,
        max_line: 100,
        relay: Relay::Strip,
        history: 0,
    };
    Room::new(config, local_now)
}

/// A loopback address with `port`.
fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[test]
fn a_mass_drop_is_one_summary_notice() {
    let room = small_room();
    let mut watcher = room.join(addr(1));
    let mut stalled: Vec<_> = (0..10).map(|i| room.join(addr(100 + i))).collect();
    // Empty every queue, then fill the stalled ones without reading them.
    for m in std::iter::once(&mut watcher).chain(stalled.iter_mut()) {
        while m.frames.try_recv().is_ok() {}
    }
    let mut seen = Vec::new();
    for _ in 0..21 {
        room.say(watcher.id, b"fill");
        while let Ok(f) = watcher.frames.try_recv() {
            seen.push(String::from_utf8_lossy(&f).into_owned());
        }
    }
    assert_eq!(room.len(), 1);
    let notices: Vec<_> = seen.iter().filter(|f| f.contains("disconnected")).collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].contains("* 10 clients were disconnected: too slow"));
    for m in &mut stalled {
        let farewell = m.kicked.try_recv().expect("kicked with a farewell");
        assert!(String::from_utf8_lossy(&farewell).contains("you are disconnected"));
    }
}

/// A reconnect storm: many join while a member's writer is behind. The
/// member is not dropped for join notices (before: kicked once its queue
/// of 20 was full); it is told how many it missed, and said lines still
/// reach it in order.
#[test]
fn a_join_storm_skips_notices_instead_of_dropping_members() {
    let room = small_room();
    let mut behind = room.join(addr(1));
    while behind.frames.try_recv().is_ok() {}
    let mut storm: Vec<_> = (0..100).map(|i| room.join(addr(100 + i))).collect();
    assert_eq!(room.len(), 101, "nobody was dropped for join notices");
    assert!(
        behind.kicked.try_recv().is_err(),
        "the member behind was kicked"
    );
    let mut queued = 0;
    while behind.frames.try_recv().is_ok() {
        queued += 1;
    }
    assert!(queued <= 20, "{queued} frames queued for a queue of 20");
    let speaker = storm.pop().unwrap();
    room.say(speaker.id, b"after the storm");
    let mut got = Vec::new();
    while let Ok(f) = behind.frames.try_recv() {
        got.push(String::from_utf8_lossy(&f).into_owned());
    }
    assert_eq!(got.len(), 2, "{got:?}");
    let skipped = 100 - queued;
    assert!(
        got[0].contains(&format!(
            "* {skipped} join/leave notices skipped: server busy"
        )),
        "{got:?}"
    );
    assert!(got[1].contains("\nafter the storm\n"), "{got:?}");
    // A member too slow for said lines is still dropped.
    for _ in 0..30 {
        room.say(speaker.id, b"fill");
    }
    assert!(!room.labels().contains(&"127.0.0.1:1".to_string()));
}
