//! Command-line clients for the services. Each resolves its address,
//! applies a timeout to every network wait, and reports failures as one
//! line (the binary turns an `Err` into exit status 1).

pub mod chat;
pub mod conn;
pub mod echo;
pub mod exec;
pub mod files;
pub mod probe;
pub mod talk;
pub mod time;
pub mod visible;

use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use anyhow::{anyhow, Context as _};

/// Resolves `HOST:PORT` to its first address.
pub fn resolve(addr: &str) -> anyhow::Result<SocketAddr> {
    addr.to_socket_addrs()
        .with_context(|| format!("bad address `{addr}` (want HOST:PORT)"))?
        .next()
        .ok_or_else(|| anyhow!("`{addr}` resolves to no address"))
}

/// A UDP socket bound to an ephemeral port of `addr`'s family and
/// connected to it, so replies from anyone else are filtered out.
pub fn udp_connected(addr: SocketAddr) -> anyhow::Result<UdpSocket> {
    let local = if addr.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let sock = UdpSocket::bind(local)?;
    sock.connect(addr)?;
    Ok(sock)
}

/// Parses a `--timeout` value in seconds.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1e6 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!("`{s}` is not a positive number of seconds")),
    }
}

/// Runs an interactive client on a single-threaded runtime. Such clients
/// read stdin on a plain thread (tokio's stdin cannot be cancelled), which
/// may still be blocked in a read when the client is done: the runtime is
/// shut down without waiting for it, and the thread ends with the process.
pub fn block_on_interactive<F>(fut: F) -> anyhow::Result<()>
where
    F: Future<Output = anyhow::Result<()>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(fut);
    rt.shutdown_background();
    result
}
