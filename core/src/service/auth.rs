//! Challenge-response authentication, shared by exec clients and files
//! uploaders (each service has its own [`Domain`], so a proof for one never
//! opens the other): the server sends a fresh random nonce, the client
//! answers HMAC-SHA256(token, label ‖ nonce ‖ binding) in hex, the server
//! compares in constant time. The token
//! itself never crosses the wire, and a recorded proof is useless for
//! another nonce.
//!
//! Over TLS the binding is keying material exported from the session
//! ([`EXPORTER_LABEL`], RFC 8446 §7.5), which both ends of one TLS session
//! compute alike and nobody else can: a proof relayed by a man in the
//! middle (who holds two different sessions) does not verify. On a plain
//! connection the binding is empty.
//!
//! Randomness is the host's job; this module only computes and checks.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Random bytes in a nonce (sent as twice as many hex digits).
pub const NONCE_LEN: usize = 32;

/// Shortest token accepted: a guessable token would make the proof moot.
pub const MIN_TOKEN_LEN: usize = 16;

/// Which service a proof is for: each has its own HMAC label and TLS
/// exporter label, so a proof made for one service (or its channel
/// binding) is worthless for another, even with the same token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Domain {
    /// Put in front of the nonce in the HMAC.
    pub label: &'static [u8],
    /// The TLS exporter label of the channel binding (RFC 8446 §7.5).
    pub exporter_label: &'static [u8],
}

/// The exec services' domain (the wire bytes exec clients have always sent).
pub const EXEC: Domain = Domain {
    label: b"wirekit-exec-v1\0",
    exporter_label: EXPORTER_LABEL,
};

/// The TLS exporter label of the exec channel binding.
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-wirekit-exec-auth";

/// Bytes of exported keying material used as the binding.
pub const BINDING_LEN: usize = 32;

/// Why a token file's contents are not a usable token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Shorter than [`MIN_TOKEN_LEN`] bytes after trimming.
    TooShort {
        /// Its length.
        len: usize,
    },
}

impl core::fmt::Display for TokenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooShort { len } => write!(
                f,
                "token is {len} bytes; at least {MIN_TOKEN_LEN} are required"
            ),
        }
    }
}

/// The token in a token file: its contents without surrounding ASCII
/// whitespace (an editor's trailing newline must not change the token).
pub fn token_from_file(contents: &[u8]) -> Result<&[u8], TokenError> {
    let t = contents.trim_ascii();
    if t.len() < MIN_TOKEN_LEN {
        return Err(TokenError::TooShort { len: t.len() });
    }
    Ok(t)
}

/// Hex-encodes a nonce's random bytes.
pub fn nonce_hex(random: &[u8; NONCE_LEN]) -> [u8; 2 * NONCE_LEN] {
    let mut out = [0u8; 2 * NONCE_LEN];
    hex_into(random, &mut out);
    out
}

fn mac(domain: Domain, token: &[u8], nonce: &str, binding: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this never fails; the fallback
    // keeps it total without a panic path.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(token)
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
    m.update(domain.label);
    m.update(nonce.as_bytes());
    m.update(binding);
    m
}

/// Hex digits in a proof.
pub const PROOF_HEX_LEN: usize = 64;

/// The client's exec proof for `nonce` on a connection with `binding`
/// (empty without TLS), as 64 lowercase hex digits.
pub fn proof(token: &[u8], nonce: &str, binding: &[u8]) -> [u8; PROOF_HEX_LEN] {
    proof_in(EXEC, token, nonce, binding)
}

/// Checks a client's exec proof for `nonce` and `binding` in constant time.
pub fn verify(token: &[u8], nonce: &str, binding: &[u8], proof_hex: &str) -> bool {
    verify_in(EXEC, token, nonce, binding, proof_hex)
}

/// [`proof`] for another service's `domain`.
pub fn proof_in(domain: Domain, token: &[u8], nonce: &str, binding: &[u8]) -> [u8; PROOF_HEX_LEN] {
    let tag: [u8; 32] = mac(domain, token, nonce, binding)
        .finalize()
        .into_bytes()
        .into();
    let mut out = [0u8; PROOF_HEX_LEN];
    hex_into(&tag, &mut out);
    out
}

/// [`verify`] for another service's `domain`.
pub fn verify_in(
    domain: Domain,
    token: &[u8],
    nonce: &str,
    binding: &[u8],
    proof_hex: &str,
) -> bool {
    let mut tag = [0u8; 32];
    if !hex_decode(proof_hex.as_bytes(), &mut tag) {
        return false;
    }
    mac(domain, token, nonce, binding)
        .verify_slice(&tag)
        .is_ok()
}

/// True if `s` could be a nonce: [`NONCE_LEN`] bytes as hex digits.
pub fn is_nonce(s: &str) -> bool {
    s.len() == 2 * NONCE_LEN && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0xf)];
    }
}

fn hex_decode(hex: &[u8], out: &mut [u8]) -> bool {
    if hex.len() != 2 * out.len() {
        return false;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        match (nib(pair[0]), nib(pair[1])) {
            (Some(h), Some(l)) => *o = (h << 4) | l,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &[u8] = b"correct horse battery staple";

    #[test]
    fn proof_verifies_only_for_its_token_and_nonce() {
        let p = proof(TOKEN, "aa", b"");
        let p = core::str::from_utf8(&p).unwrap();
        assert!(verify(TOKEN, "aa", b"", p));
        assert!(!verify(TOKEN, "ab", b"", p));
        assert!(!verify(b"correct horse battery stapl3", "aa", b"", p));
        assert!(!verify(TOKEN, "aa", b"", &p[..62]));
        assert!(!verify(TOKEN, "aa", b"", "zz"));
        let upper = p.to_ascii_uppercase();
        assert!(verify(TOKEN, "aa", b"", &upper), "hex case does not matter");
    }

    #[test]
    fn a_proof_bound_to_one_tls_session_fails_on_another() {
        let (a, b) = ([1u8; BINDING_LEN], [2u8; BINDING_LEN]);
        let p = proof(TOKEN, "aa", &a);
        let p = core::str::from_utf8(&p).unwrap();
        assert!(verify(TOKEN, "aa", &a, p));
        assert!(!verify(TOKEN, "aa", &b, p), "relayed to another session");
        assert!(
            !verify(TOKEN, "aa", b"", p),
            "relayed to a plain connection"
        );
    }

    #[test]
    fn matches_python_hmac() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"correct horse
        //   battery staple", b"wirekit-exec-v1\0" + b"00ff", hashlib.sha256).hexdigest())'
        assert_eq!(
            &proof(TOKEN, "00ff", b""),
            b"55394e0497acd59e1eff83e94b3fa8f229bebc52a505a8ee14c53fdd81ef5757"
        );
    }

    #[test]
    fn a_proof_for_one_domain_fails_in_another() {
        const OTHER: Domain = Domain {
            label: b"wirekit-files-v1\0",
            exporter_label: b"EXPORTER-wirekit-files-auth",
        };
        let p = proof_in(OTHER, TOKEN, "aa", b"");
        let p = core::str::from_utf8(&p).unwrap();
        assert!(verify_in(OTHER, TOKEN, "aa", b"", p));
        assert!(!verify(TOKEN, "aa", b"", p), "a files proof opens exec");
        assert_eq!(proof_in(EXEC, TOKEN, "aa", b""), proof(TOKEN, "aa", b""));
        assert!(is_nonce(
            core::str::from_utf8(&nonce_hex(&[7; NONCE_LEN])).unwrap()
        ));
        assert!(!is_nonce("abc") && !is_nonce(&"g".repeat(2 * NONCE_LEN)));
    }

    #[test]
    fn token_file_is_trimmed_and_checked() {
        assert_eq!(
            token_from_file(b"  0123456789abcdef\n"),
            Ok(&b"0123456789abcdef"[..])
        );
        assert_eq!(
            token_from_file(b"short\n"),
            Err(TokenError::TooShort { len: 5 })
        );
        assert_eq!(&nonce_hex(&[0xab; NONCE_LEN])[..4], b"abab");
    }
}
