//! Command-line clients for the services. Each resolves its address,
//! applies a timeout to every network wait, and reports failures as one
//! line (the binary turns an `Err` into exit status 1).

pub mod echo;
pub mod time;

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::{anyhow, Context as _};

/// Resolves `HOST:PORT` to its first address.
pub fn resolve(addr: &str) -> anyhow::Result<SocketAddr> {
    addr.to_socket_addrs()
        .with_context(|| format!("bad address `{addr}` (want HOST:PORT)"))?
        .next()
        .ok_or_else(|| anyhow!("`{addr}` resolves to no address"))
}

/// Parses a `--timeout` value in seconds.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1e6 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!("`{s}` is not a positive number of seconds")),
    }
}
