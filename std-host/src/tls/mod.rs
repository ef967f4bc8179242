//! TLS for the TCP services and their clients (issue 14): rustls on both
//! sides, no OpenSSL, TLS 1.3 preferred and TLS 1.2 allowed for old peers.
//!
//! - [`identity`]: where a server's certificate comes from — PEM files, or
//!   a self-signed one created once in the state directory.
//! - [`server`]: the acceptor, with a certificate that SIGHUP reloads
//!   without touching open connections, optional client certificates and a
//!   handshake timeout.
//! - [`read_ahead`]: the socket under a session, read a record at a time.
//! - [`client`]: the client side; a server is trusted by a CA, by a pinned
//!   fingerprint, or, with neither, on first use like ssh ([`trust`]).
//!
//! A certificate is named by its fingerprint, `sha256:` and the SHA-256 of
//! the leaf certificate's DER in hex, as `wirekit serve` prints it and
//! `--tls-pin` takes it:
//!
//! ```
//! use wirekit_host::tls::{fingerprint, parse_fingerprint};
//! let fp = fingerprint(b"not really a certificate");
//! assert!(fp.starts_with("sha256:") && fp.len() == 7 + 64);
//! // openssl's colon-separated upper-case form is accepted too.
//! let openssl_style = fp[7..].to_uppercase().as_bytes().chunks(2)
//!     .map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(":");
//! assert_eq!(parse_fingerprint(&openssl_style).unwrap(), parse_fingerprint(&fp).unwrap());
//! ```

pub mod client;
pub mod identity;
pub mod read_ahead;
pub mod server;
pub mod trust;

use std::sync::Arc;

use sha2::{Digest as _, Sha256};

/// The crypto every wirekit TLS endpoint uses (ring: pure Rust and
/// assembly, no C toolchain or cmake needed to build it), with ring's
/// cipher suites, none added or removed, but the AES-128-GCM ones first.
///
/// ring lists AES-256-GCM first; AES-128-GCM (TLS 1.3's mandatory suite,
/// what Go and BoringSSL prefer on CPUs with AES instructions) does 10
/// AES rounds instead of 14 and cut the server's CPU per 16 KiB TLS echo
/// by about a fifth (issue 14's `scripts/bench-tls`). A peer that prefers
/// another suite still gets it: the server follows the client's order.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites.sort_by_key(|s| !aes_128_gcm(s.suite()));
    Arc::new(p)
}

fn aes_128_gcm(suite: rustls::CipherSuite) -> bool {
    use rustls::CipherSuite as S;
    matches!(
        suite,
        S::TLS13_AES_128_GCM_SHA256
            | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    )
}

/// The SHA-256 of a certificate's DER.
pub fn digest(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

/// `sha256:HEX` of a certificate's DER.
pub fn fingerprint(der: &[u8]) -> String {
    format_fingerprint(&digest(der))
}

/// `sha256:HEX` of a digest.
pub fn format_fingerprint(d: &[u8; 32]) -> String {
    format!("sha256:{}", hex::encode(d))
}

/// Reads a fingerprint: `sha256:HEX`, or the bare hex, in either case and
/// with or without the colons `openssl x509 -fingerprint` puts in.
pub fn parse_fingerprint(s: &str) -> anyhow::Result<[u8; 32]> {
    let t = s.trim();
    let hexpart = t
        .strip_prefix("sha256:")
        .or_else(|| t.strip_prefix("SHA256:"))
        .unwrap_or(t);
    let compact: String = hexpart.chars().filter(|c| *c != ':').collect();
    let mut out = [0u8; 32];
    hex::decode_to_slice(&compact, &mut out).map_err(|_| {
        anyhow::anyhow!("`{s}` is not a SHA-256 fingerprint (sha256: and 64 hex digits)")
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests;
