//! Who may upload to a files listener (issue 14), and the native
//! protocol's token exchange that proves it.
//!
//! Reading (`get`, `stat`, `list`) needs nothing. Uploads follow
//! [`may_upload`]:
//!
//! | token file | listener | native `put` | seed 002 `put` |
//! |---|---|---|---|
//! | set | any | after `auth` | refused (it cannot authenticate) |
//! | none | loopback | allowed | allowed |
//! | none | other, `--files-writable` | allowed | allowed |
//! | none | other | refused (read-only) | refused (read-only) |
//!
//! The exchange, before the `put` on the same connection:
//!
//! ```text
//! client                                   server
//! {"op":"challenge"}                 ->
//!                                    <-    {"op":"challenge","status":"ok","nonce":N}
//! {"op":"auth","token":PROOF}        ->
//!                                    <-    {"op":"auth","status":"ok"}
//!                                    <-    | {"op":"auth","status":"error","error":…} + close
//! ```
//!
//! `N` is 32 random bytes as 64 hex digits; `PROOF` is the hex
//! HMAC-SHA256(token, `wirekit-files-v1\0` ‖ N ‖ binding), the binding
//! being 32 bytes exported from the TLS session with the label
//! `EXPORTER-wirekit-files-auth` (empty on a plain connection), as for
//! exec ([`crate::service::exec::auth`]) but in its own [`DOMAIN`], so a
//! files proof never opens exec or the reverse.

use crate::service::auth::{self, Domain};
use crate::wire::{short_string, Fields, Header};

/// The files service's proof domain.
pub const DOMAIN: Domain = Domain {
    label: b"wirekit-files-v1\0",
    exporter_label: b"EXPORTER-wirekit-files-auth",
};

/// How a listener was configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `--files-token-file` was given.
    pub token: bool,
    /// `--files-writable` was given.
    pub writable: bool,
    /// The listener's address is a loopback address.
    pub loopback: bool,
}

/// Who is uploading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploader {
    /// A native client, and whether it proved the token on this
    /// connection.
    Native {
        /// A valid `auth` was received.
        authenticated: bool,
    },
    /// A seed dialect, which has no way to authenticate.
    Seed,
}

/// Why an upload is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The server has a token and the client did not prove it.
    TokenRequired,
    /// The server has a token, which a seed dialect cannot prove.
    SeedCannotAuthenticate,
    /// No token, and the listener is reachable from other hosts.
    ReadOnly,
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::TokenRequired => {
                "authentication required: uploads to this server need its token \
                 (wirekit put --token-file FILE)"
            }
            Self::SeedCannotAuthenticate => {
                "uploads to this server need its token, which the seed dialects cannot \
                 send: use wirekit put --token-file FILE"
            }
            Self::ReadOnly => {
                "read-only: this server takes no uploads from the network (its operator \
                 can allow them with --files-token-file or --files-writable)"
            }
        })
    }
}

/// Whether `who` may upload under `p`; the table in the module doc.
pub fn may_upload(p: Policy, who: Uploader) -> Result<(), Refusal> {
    if p.token {
        // A token is never bypassed, not even by --files-writable: the
        // seed dialects would otherwise be a way around it.
        return match who {
            Uploader::Native {
                authenticated: true,
            } => Ok(()),
            Uploader::Native { .. } => Err(Refusal::TokenRequired),
            Uploader::Seed => Err(Refusal::SeedCannotAuthenticate),
        };
    }
    if p.loopback || p.writable {
        Ok(())
    } else {
        Err(Refusal::ReadOnly)
    }
}

/// The server's challenge: `{op: challenge, status: ok, nonce}`.
pub fn challenge_reply(nonce: &str) -> Fields<'_> {
    Fields {
        nonce: Some(nonce),
        ..Fields::with_status("challenge", "ok")
    }
}

/// The server accepted the proof.
pub fn auth_ok() -> Fields<'static> {
    Fields::with_status("auth", "ok")
}

/// The client's request for a challenge.
pub fn challenge_request() -> Header {
    Header::with_op("challenge")
}

/// The client's proof (64 hex digits) for the last challenge.
pub fn auth_request(proof: &str) -> Header {
    let mut h = Header::with_op("auth");
    h.token = short_string(proof);
    h
}

/// Why a server's answer in the exchange is not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyError<'h> {
    /// The server refused, with its message.
    Refused(&'h str),
    /// Another `op` than the one expected.
    UnexpectedOp,
    /// The challenge has no nonce, or not 64 hex digits.
    BadNonce,
}

impl core::fmt::Display for ReplyError<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Refused(m) => write!(f, "server refused: {m}"),
            Self::UnexpectedOp => f.write_str("unexpected answer to the token exchange"),
            Self::BadNonce => f.write_str("the server's challenge has no valid nonce"),
        }
    }
}

fn expect<'h>(h: &'h Header, op: &str) -> Result<(), ReplyError<'h>> {
    if let Some(m) = super::native::refusal(h) {
        return Err(ReplyError::Refused(m));
    }
    if !h.is_op(op) || h.status.as_deref() != Some("ok") {
        return Err(ReplyError::UnexpectedOp);
    }
    Ok(())
}

/// The nonce of a challenge reply (client side).
pub fn parse_challenge(h: &Header) -> Result<&str, ReplyError<'_>> {
    expect(h, "challenge")?;
    match h.nonce.as_deref() {
        Some(n) if auth::is_nonce(n) => Ok(n),
        _ => Err(ReplyError::BadNonce),
    }
}

/// Checks the answer to a proof (client side).
pub fn parse_auth_reply(h: &Header) -> Result<(), ReplyError<'_>> {
    expect(h, "auth")
}

#[cfg(test)]
mod tests;
