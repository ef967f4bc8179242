//! Who may upload, on the server (issue 14): the token read from
//! `--files-token-file`, the native dialect's challenge and proof (see
//! `wirekit_core::service::file::access`), bound to the TLS session when
//! there is one, and failed proofs throttled per source address with the
//! same [`Throttle`](crate::runtime::throttle::Throttle) exec uses.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use wirekit_core::service::exec::auth;
use wirekit_core::service::file::access::{
    auth_ok, challenge_reply, may_upload, Policy, Refusal, Uploader, DOMAIN,
};
use wirekit_core::service::file::native::error_reply;

use super::async_conn::AsyncConn;
use super::serve_native::send_frame;
use super::Files;
use crate::runtime::throttle::Verdict;

/// Reads and checks a token file.
pub fn read_token(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("reading --files-token-file {}", path.display()))?;
    let t = auth::token_from_file(&bytes)
        .map_err(|e| anyhow::anyhow!("--files-token-file {}: {e}", path.display()))?;
    Ok(t.to_vec())
}

/// One native connection's standing in the token exchange.
#[derive(Debug, Default)]
pub struct Gate {
    /// The challenge sent, until a proof for it arrives.
    nonce: Option<String>,
    /// A valid proof was received on this connection.
    authed: bool,
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

impl Gate {
    /// The uploader this connection is, for [`Files::may_upload`].
    pub fn uploader(&self) -> Uploader {
        Uploader::Native {
            authenticated: self.authed,
        }
    }
}

/// The client's address, for the throttle.
fn peer(conn: &AsyncConn) -> Option<SocketAddr> {
    conn.stream.get_ref().peer_addr().ok()
}

/// The TLS session's exported keying material (empty on plain TCP).
fn binding(conn: &AsyncConn) -> Vec<u8> {
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

/// Answers `challenge`; false when the connection must close.
pub async fn challenge(
    files: &Files,
    conn: &mut AsyncConn,
    gate: &mut Gate,
) -> anyhow::Result<bool> {
    if files.token.is_none() {
        let msg = "this server has no upload token (no --files-token-file): \
                   do not give --token-file";
        send_frame(conn, &error_reply("challenge", msg), b"").await?;
        return Ok(true);
    }
    if let Some(ip) = peer(conn).map(|p| p.ip()) {
        let log = &mut |l: String| tracing::warn!("files: {l}");
        if let Verdict::Refuse { retry_after } = files.throttle.check(ip, Instant::now(), log) {
            if let Some(m) = &files.metrics {
                m.refused("files", "rate_limited");
            }
            let msg = format!(
                "too many failed logins from your address; try again in {} s",
                retry_after.as_secs() + 1
            );
            send_frame(conn, &error_reply("challenge", &msg), b"").await?;
            return Ok(false);
        }
    }
    let mut random = [0u8; auth::NONCE_LEN];
    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("{e}"))?;
    let n = String::from_utf8_lossy(&auth::nonce_hex(&random)).into_owned();
    send_frame(conn, &challenge_reply(&n), b"").await?;
    gate.nonce = Some(n);
    Ok(true)
}

/// Checks a proof; false when the connection must close (a wrong one).
pub async fn prove(
    files: &Files,
    conn: &mut AsyncConn,
    gate: &mut Gate,
    proof: &str,
) -> anyhow::Result<bool> {
    let ok = match (&files.token, gate.nonce.take()) {
        (Some(t), Some(n)) => auth::verify_in(DOMAIN, t, &n, &binding(conn), proof),
        _ => false,
    };
    let ip = peer(conn).map(|p| p.ip());
    if !ok {
        let log = &mut |l: String| tracing::warn!("files: {l}");
        if let Some(ip) = ip {
            files.throttle.failed(ip, Instant::now(), log);
        }
        if let Some(m) = &files.metrics {
            m.auth_failure("files");
        }
        let msg = "authentication failed: wrong token";
        send_frame(conn, &error_reply("auth", msg), b"").await?;
        return Ok(false);
    }
    if let Some(ip) = ip {
        files.throttle.succeeded(ip);
    }
    gate.authed = true;
    send_frame(conn, &auth_ok(), b"").await?;
    Ok(true)
}
