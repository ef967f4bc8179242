//! Trusting a server without a certificate authority, the way ssh does:
//! a fingerprint given on the command line (`--tls-pin`), or the one
//! remembered the first time this `host:port` was reached (trust on first
//! use), kept in a known-hosts file. A changed certificate is refused
//! before a single byte of the session is sent.
//!
//! Either way the server must still prove it holds the certificate's key:
//! the handshake signature is checked as usual, only the chain to a CA is
//! not.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::{digest, format_fingerprint, parse_fingerprint, provider};

/// Longest known-hosts file read, so a damaged file cannot eat memory.
const MAX_KNOWN_HOSTS: u64 = 4 << 20;

/// Accepts exactly one leaf certificate (by SHA-256), or, with no
/// expectation, any one, remembering which it saw.
#[derive(Debug)]
pub struct FingerprintVerifier {
    expected: Option<[u8; 32]>,
    /// Says why a different certificate is refused (pin or known host).
    mismatch: String,
    seen: Mutex<Option<[u8; 32]>>,
    algs: WebPkiSupportedAlgorithms,
}

impl FingerprintVerifier {
    /// Expects `expected` (None: first use); `mismatch` explains a refusal.
    pub fn new(expected: Option<[u8; 32]>, mismatch: String) -> FingerprintVerifier {
        FingerprintVerifier {
            expected,
            mismatch,
            seen: Mutex::new(None),
            algs: provider().signature_verification_algorithms,
        }
    }

    /// The fingerprint of the certificate the server presented, if any.
    pub fn seen(&self) -> Option<[u8; 32]> {
        self.seen.lock().ok().and_then(|s| *s)
    }
}

impl ServerCertVerifier for FingerprintVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let d = digest(end_entity);
        if let Ok(mut s) = self.seen.lock() {
            *s = Some(d);
        }
        match self.expected {
            Some(e) if e != d => Err(rustls::Error::General(format!(
                "{} (server presented {})",
                self.mismatch,
                format_fingerprint(&d)
            ))),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// The known-hosts file: one `HOST:PORT sha256:HEX` line per server.
#[derive(Debug, Clone)]
pub struct KnownHosts {
    path: PathBuf,
}

/// A remembered server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    /// Its certificate's fingerprint.
    pub fingerprint: [u8; 32],
    /// Its line in the file (1-based), for the message that says which
    /// line to delete when the change is expected.
    pub line: usize,
}

impl KnownHosts {
    /// The file at `path`.
    pub fn new(path: PathBuf) -> KnownHosts {
        KnownHosts { path }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entry for `host_port`, if any. A missing file is an empty one;
    /// a line that does not parse is an error naming it, never skipped
    /// (a silently ignored entry would turn into a fresh first use).
    pub fn lookup(&self, host_port: &str) -> anyhow::Result<Option<Known>> {
        let text = match fs::metadata(&self.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).context(format!("reading {}", self.path.display())),
            Ok(m) if m.len() > MAX_KNOWN_HOSTS => {
                anyhow::bail!("{} is larger than 4 MiB", self.path.display())
            }
            Ok(_) => fs::read_to_string(&self.path)
                .with_context(|| format!("reading {}", self.path.display()))?,
        };
        let key = normalise(host_port);
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || {
                anyhow::anyhow!(
                    "{}:{}: not `HOST:PORT sha256:HEX`",
                    self.path.display(),
                    i + 1
                )
            };
            let (host, fp) = line.split_once(char::is_whitespace).ok_or_else(bad)?;
            if normalise(host) == key {
                let fingerprint = parse_fingerprint(fp).map_err(|_| bad())?;
                return Ok(Some(Known {
                    fingerprint,
                    line: i + 1,
                }));
            }
        }
        Ok(None)
    }

    /// Appends an entry, creating the file (0600) and its directory (0700).
    pub fn add(&self, host_port: &str, fp: &[u8; 32]) -> anyhow::Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.path)
            .with_context(|| format!("opening {}", self.path.display()))?;
        let line = format!("{} {}\n", normalise(host_port), format_fingerprint(fp));
        f.write_all(line.as_bytes())
            .and_then(|()| f.sync_all())
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

/// Host names compare case-insensitively; `[::1]:7` and `[::1]:7` match.
fn normalise(host_port: &str) -> String {
    host_port.trim().to_ascii_lowercase()
}
