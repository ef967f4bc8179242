//! The one table of services `wirekit serve` knows: name → start function
//! and default address. Adding a service is a module plus one entry here
//! (and a line in [`SERVICES_HELP`]).

use std::net::SocketAddr;

use super::{echo, rfc, time, Launch, ListenSpec};
use crate::exec::service as exec;

/// A service `wirekit serve --listen NAME=ADDR` can run.
#[derive(Debug)]
pub struct Service {
    /// The name used in `--listen` and in `listening` lines.
    pub name: &'static str,
    /// Address in the default set (no `--listen`), if the service is in it.
    pub default: Option<&'static str>,
    /// Binds the service's socket(s) at the address and spawns its tasks.
    pub start: fn(&Launch, SocketAddr) -> anyhow::Result<()>,
}

/// Every service. Entries with a `default` run when no `--listen` is given.
pub static SERVICES: &[Service] = &[
    Service {
        name: "echo",
        default: Some("127.0.0.1:8080"),
        start: echo::start_tcp,
    },
    Service {
        name: "udp-echo",
        default: Some("127.0.0.1:8181"),
        start: echo::start_udp,
    },
    Service {
        name: "time",
        default: Some("127.0.0.1:9000"),
        start: time::start,
    },
    Service {
        name: "files",
        default: Some("127.0.0.1:8484"),
        start: crate::files::start,
    },
    Service {
        name: "files-ack",
        default: None,
        start: crate::files::start_ack,
    },
    Service {
        name: "plain-echo",
        default: None,
        start: rfc::start_echo,
    },
    Service {
        name: "discard",
        default: None,
        start: rfc::start_discard,
    },
    Service {
        name: "chargen",
        default: None,
        start: rfc::start_chargen,
    },
    Service {
        name: "daytime",
        default: None,
        start: rfc::start_daytime,
    },
    Service {
        name: "rfc868",
        default: None,
        start: rfc::start_rfc868,
    },
    Service {
        name: "exec",
        default: None,
        start: exec::start_exec,
    },
    Service {
        name: "exec-len",
        default: None,
        start: exec::start_len,
    },
    Service {
        name: "exec-ack",
        default: None,
        start: exec::start_ack,
    },
    Service {
        name: "chat",
        default: Some("127.0.0.1:9999"),
        start: crate::chat::start,
    },
];

/// The service list shown by `wirekit serve --help`.
pub const SERVICES_HELP: &str = "\
Services (default address in brackets; * = in the default set):
  echo        TCP upper-echo, the seeds' first server          * [127.0.0.1:8080]
  udp-echo    UDP upper-echo, up to 65,507 bytes               * [127.0.0.1:8181]
  time        UDP strftime time server: datagram = format      * [127.0.0.1:9000]
  files       file transfer: native get/put/ls, seed 000, 002    * [127.0.0.1:8484]
  files-ack   file transfer: seed 004's size/ack/bytes/md5 get
  plain-echo  RFC 862 echo, TCP and UDP
  discard     RFC 863 discard, TCP and UDP
  chargen     RFC 864 character generator, TCP and UDP
  daytime     RFC 867 daytime, TCP and UDP
  rfc868      RFC 868 time (32-bit seconds since 1900), TCP and UDP
  exec        remote commands: native protocol + seeds' JSON header
  exec-len    remote commands, seeds' 4-byte length reply
  exec-ack    remote commands, seed 004's size / ack / output
              (exec*: need --exec-token-file or --exec-insecure)
  chat        group chat, seed 003 line format, /nick /who     * [127.0.0.1:9999]";

/// Looks a service up by name.
pub fn find(name: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.name == name)
}

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
