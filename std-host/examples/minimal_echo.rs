//! The smallest tokio upper-echo server: a yardstick for `wirekit serve
//! --listen echo`, not a service. It has none of wirekit's limits (no
//! idle timeout, no connection cap, a 16 KiB buffer per connection, no
//! shutdown), so it shows what the runtime and the kernel cost alone.
//! `scripts/bench-echo-ceiling` runs the two side by side.
//!
//! Usage: `minimal_echo [ADDR]` (default 127.0.0.1:0); prints
//! `listening echo tcp ADDR` like `wirekit serve`.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    tokio::runtime::Runtime::new()?.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("listening echo tcp {}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(echo(stream));
        }
    })
}

async fn echo(mut s: TcpStream) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        buf[..n].make_ascii_uppercase();
        s.write_all(&buf[..n]).await?;
    }
}
