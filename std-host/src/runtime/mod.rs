//! The runtime: listeners (bound here or passed by systemd), the shared
//! connection limit, idle timeouts, graceful shutdown, the TLS/plain
//! [`stream::Stream`], UDP loops with per-source budgets, the HTTP driver of
//! the monitoring endpoints, and the events and metrics hooks.
//!
//! It knows no service: a service's start function gets a [`Launch`] and
//! calls [`Launch::tcp`] (the shared accept loop) or [`Launch::udp`] with a
//! handler; which services run, and with what options, is decided by the
//! `serve` command (`crate::serve`) and the service table
//! (`crate::services`), which depend on this module, never the reverse.

mod accept;
pub mod clock;
pub mod conn;
pub mod events;
pub mod fdlimit;
pub mod http;
pub mod launch;
pub mod stream;
pub mod systemd;
pub mod tcp;
pub mod throttle;
pub mod udp;
#[cfg(target_os = "linux")]
mod udp_batch;
pub mod udp_budget;

pub use conn::{Conn, ConnCtx};
pub use launch::Launch;

/// Connection limits and timeouts, shared by every TCP service.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnOpts {
    /// Most TCP connections open at once, over all services; further
    /// clients get a one-line "server busy" message and are closed.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Close a TCP connection after this many seconds with no byte moving
    /// in either direction (0 = never).
    #[arg(long, value_name = "SECS", default_value_t = 300.0, value_parser = parse_secs)]
    pub idle_timeout: f64,

    /// On Ctrl-C/SIGTERM, seconds in-flight connections get to finish
    /// before the server exits anyway.
    #[arg(long, value_name = "SECS", default_value_t = 2.0, value_parser = parse_secs)]
    pub shutdown_grace: f64,
}

fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=1e9).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds (0 to 1e9)")),
    }
}

/// What the runtime itself is configured with.
#[derive(Debug, Clone)]
pub struct RuntimeOpts {
    /// TCP limits and timeouts.
    pub conn: ConnOpts,
    /// UDP per-source budgets.
    pub udp: udp_budget::UdpOpts,
    /// Count bytes and datagrams per I/O (only when something reads the
    /// counters: it costs an atomic add per I/O).
    pub count_io: bool,
}

/// True when only this machine can reach `ip` (loopback, also as an
/// IPv4-mapped IPv6 address): what the exposure policy and the services'
/// safe defaults off loopback go by.
pub fn is_local(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Parses a size option: bytes, or a number with K, M, G or T (powers of
/// 1024), e.g. `64G`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    wirekit_core::size::parse_size(s).map_err(|e| format!("`{s}`: {e}"))
}
