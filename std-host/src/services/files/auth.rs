//! Who may upload, on the server (issue 14): the token read from
//! `--files-token-file`, the listener's upload policy, and what the
//! native session's token exchange needs from the connection (the
//! client's address for the per-address
//! [`Throttle`](crate::runtime::throttle::Throttle) exec uses too, and the
//! TLS binding). The exchange itself is the core session's.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context as _;
use wirekit_core::service::exec::auth;
use wirekit_core::service::file::access::{may_upload, Policy, Refusal, Uploader, DOMAIN};

use super::async_conn::AsyncConn;
use super::Files;

/// Reads and checks a token file.
pub fn read_token(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("reading --files-token-file {}", path.display()))?;
    let t = auth::token_from_file(&bytes)
        .map_err(|e| anyhow::anyhow!("--files-token-file {}: {e}", path.display()))?;
    Ok(t.to_vec())
}

impl Files {
    /// The upload policy of a listener on a loopback address or not.
    pub fn policy(&self, loopback: bool) -> Policy {
        Policy {
            token: self.token.is_some(),
            writable: self.cfg.writable,
            loopback,
        }
    }

    /// Whether `who` may upload on `conn`'s listener.
    pub fn may_upload(&self, conn: &AsyncConn, who: Uploader) -> Result<(), Refusal> {
        may_upload(self.policy(conn.loopback), who)
    }
}

/// The client's address, for the throttle.
pub(super) fn peer(conn: &AsyncConn) -> Option<SocketAddr> {
    conn.stream.get_ref().peer_addr().ok()
}

/// The TLS session's exported keying material (empty on plain TCP).
pub(super) fn binding(conn: &AsyncConn) -> Vec<u8> {
    let mut out = vec![0u8; auth::BINDING_LEN];
    match conn
        .stream
        .get_ref()
        .export_keying_material(&mut out, DOMAIN.exporter_label, b"")
    {
        Some(()) => out,
        None => Vec::new(),
    }
}
