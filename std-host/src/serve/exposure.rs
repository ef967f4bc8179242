//! The exposure policy, checked before anything is bound: what may listen
//! where, in clear text. Loopback is this machine only; any other address
//! (the wildcard `0.0.0.0`/`::` included) is reachable from other hosts.
//!
//! | service | loopback | other address, `+tls` | other address, plain |
//! |---|---|---|---|
//! | `exec`, `exec-len`, `exec-ack` | runs | runs | refused unless `--plaintext` (then a warning) |
//! | `files` with `--files-token-file` or `--files-writable` | runs | runs | refused unless `--plaintext` (then a warning) |
//! | `files` otherwise (read-only off loopback) | runs | runs | runs, with one warning line |
//! | anything else | runs | runs | runs, with one warning line |

use crate::runtime::is_local;

use anyhow::bail;
use tracing::warn;

use super::{Args, ListenSpec};

/// Services that run commands: never in clear text across a network
/// unless the operator says so.
const COMMAND_SERVICES: &[&str] = &["exec", "exec-len", "exec-ack"];

/// Services that take uploads when the files options allow them
/// (`files-ack` is seed 004's download-only exchange).
const UPLOAD_SERVICES: &[&str] = &["files"];

/// Refuses what the policy forbids and warns, once per listener, about
/// every listener that other hosts reach in clear text. `--exec-insecure`
/// (no authentication at all) keeps command services on loopback even
/// with TLS.
pub fn check(specs: &[ListenSpec], args: &Args) -> anyhow::Result<()> {
    // Uploads in clear text: the files (and who may change them) are
    // exposed to anyone on the path, as commands are for exec.
    let writable = args.files.token_file.is_some() || args.files.writable;
    for s in specs.iter().filter(|s| !is_local(s.addr.ip())) {
        let name = s.service.name;
        if COMMAND_SERVICES.contains(&name) && args.exec.exec_insecure {
            bail!(
                "--exec-insecure refuses to listen on {}: only loopback addresses \
                 (127.0.0.0/8, ::1) are allowed without a token",
                s.addr
            );
        }
        if s.tls {
            continue;
        }
        let what = if COMMAND_SERVICES.contains(&name) {
            Some("would run commands for other hosts")
        } else if UPLOAD_SERVICES.contains(&name) && writable {
            Some("would take uploads from other hosts")
        } else {
            None
        };
        if let (Some(what), false) = (what, args.plaintext) {
            bail!(
                "{name} on {} {what} in clear text: serve it over TLS \
                 (--listen {name}+tls={}) or pass --plaintext",
                s.addr,
                s.addr
            );
        }
        warn!(
            service = name,
            addr = %s.addr,
            "reachable from other hosts and not encrypted (use {name}+tls to encrypt)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_local_and_everything_else_is_not() {
        for a in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"] {
            assert!(is_local(a.parse().unwrap()), "{a}");
        }
        for a in [
            "0.0.0.0",
            "::",
            "10.0.0.1",
            "192.168.1.1",
            "fe80::1",
            "8.8.8.8",
        ] {
            assert!(!is_local(a.parse().unwrap()), "{a}");
        }
    }
}
