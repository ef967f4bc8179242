//! `--listen` specs, the default set and systemd's passed sockets, resolved
//! against the table of services in [`crate::services`].

use std::net::SocketAddr;

use super::ListenSpec;
use crate::services::{find, SERVICES};

/// Services that only speak UDP: `+tls` makes no sense for them.
const UDP_ONLY: &[&str] = &["udp-echo", "time"];

/// Parses `SERVICE[+tls]=ADDR` (or `SERVICE[+tls]` for its default
/// address). `localhost` is accepted for 127.0.0.1, as the clients accept it.
pub fn parse_listen(s: &str) -> Result<ListenSpec, String> {
    let (name, addr) = match s.split_once('=') {
        Some((n, a)) => (n, Some(a)),
        None => (s, None),
    };
    let (name, tls) = match name.strip_suffix("+tls") {
        Some(n) => (n, true),
        None => (name, false),
    };
    let service = find(name).ok_or_else(|| {
        let names: Vec<&str> = SERVICES.iter().map(|s| s.name).collect();
        format!("unknown service `{name}` (known: {})", names.join(", "))
    })?;
    if tls && UDP_ONLY.contains(&name) {
        return Err(format!(
            "{name} is a UDP service: +tls applies to TCP services"
        ));
    }
    let addr = match (addr, service.default) {
        (Some(a), _) => a,
        (None, Some(d)) => d,
        (None, None) => return Err(format!("{name} has no default address: use {name}=ADDR")),
    };
    let addr = parse_addr(addr)?;
    Ok(ListenSpec { service, addr, tls })
}

fn parse_addr(addr: &str) -> Result<SocketAddr, String> {
    let bad = || format!("`{addr}` is not IP:PORT (IPv6 as [::1]:PORT)");
    if let Some(port) = addr.strip_prefix("localhost:") {
        let port: u16 = port.parse().map_err(|_| bad())?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    addr.parse().map_err(|_| bad())
}

/// The listen set systemd passed: one listener per name and address (a
/// service's TCP and UDP sockets on one address make one listener), each
/// name a service, `NAME+tls` for TLS.
pub fn from_activation(passed: &[super::systemd::Passed]) -> anyhow::Result<Vec<ListenSpec>> {
    let mut specs: Vec<ListenSpec> = Vec::new();
    for p in passed {
        let spec = parse_listen(&format!("{}={}", p.name, p.addr))
            .map_err(|e| anyhow::anyhow!("passed socket `{}`: {e}", p.name))?;
        let dup = specs
            .iter()
            .any(|s| s.service.name == spec.service.name && s.addr == spec.addr);
        if !dup {
            specs.push(spec);
        }
    }
    Ok(specs)
}

/// The default set: every service with a default address.
pub fn default_set() -> anyhow::Result<Vec<ListenSpec>> {
    SERVICES
        .iter()
        .filter_map(|s| s.default.map(|d| (s, d)))
        .map(|(service, d)| {
            Ok(ListenSpec {
                service,
                addr: d.parse()?,
                tls: false,
            })
        })
        .collect()
}
