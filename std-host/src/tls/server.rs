//! The server side: one [`ServerTls`] per `wirekit serve` run, shared by
//! every `SERVICE+tls` listener. Its certificate sits behind a resolver
//! that [`ServerTls::reload`] swaps (on SIGHUP), so new handshakes get the
//! new certificate while open connections keep theirs.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{bail, Context as _};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::identity::{default_state_dir, Identity};
use super::{fingerprint, provider};

/// TLS options of `wirekit serve` (used by `--listen SERVICE+tls=ADDR`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsServerOpts {
    /// Certificate chain for the TLS listeners (PEM, leaf first);
    /// reloaded with the key on SIGHUP.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Use a self-signed certificate, created once in --state-dir and
    /// reused after (clients pin it or trust it on first use).
    #[arg(long, conflicts_with = "tls_cert")]
    pub tls_self_signed: bool,
    /// Require client certificates issued by this CA (PEM) on TLS listeners.
    #[arg(long, value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,
    /// Seconds a client gets to complete the TLS handshake.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub tls_handshake_timeout: f64,
    /// Where the server keeps state (the self-signed certificate);
    /// default: $XDG_DATA_HOME/wirekit (~/.local/share/wirekit).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// The certificate new handshakes get; replaced by [`ServerTls::reload`].
#[derive(Debug)]
struct CertSlot(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for CertSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.read().ok().map(|k| Arc::clone(&k))
    }
}

/// The TLS side of `wirekit serve`.
#[derive(Debug, Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    slot: Arc<CertSlot>,
    opts: TlsServerOpts,
    timeout: Duration,
}

impl ServerTls {
    /// Loads the identity the options name. Fails when they name none: a
    /// TLS listener needs `--tls-cert/--tls-key` or `--tls-self-signed`.
    pub fn new(opts: &TlsServerOpts) -> anyhow::Result<ServerTls> {
        let key = Arc::new(load(opts)?);
        let slot = Arc::new(CertSlot(RwLock::new(key)));
        let p = provider();
        let builder = ServerConfig::builder_with_provider(Arc::clone(&p))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .context("TLS protocol versions")?;
        let builder = match &opts.tls_client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let roots = roots_from_pem(ca)?;
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), p)
                    .build()
                    .context("client certificate verifier")?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder.with_cert_resolver(Arc::clone(&slot) as Arc<dyn ResolvesServerCert>);
        let secs = opts.tls_handshake_timeout;
        if !(secs.is_finite() && secs > 0.0 && secs <= 3600.0) {
            bail!("--tls-handshake-timeout must be between 0 and 3600 seconds");
        }
        Ok(ServerTls {
            config: Arc::new(config),
            slot,
            opts: opts.clone(),
            timeout: Duration::from_secs_f64(secs),
        })
    }

    /// `sha256:HEX` of the current leaf certificate.
    pub fn fingerprint(&self) -> String {
        let key = self.slot.0.read().map(|k| Arc::clone(&k));
        match key {
            Ok(k) => k.cert.first().map_or_else(String::new, |c| fingerprint(c)),
            Err(_) => String::new(),
        }
    }

    /// Reads the certificate and key again (SIGHUP). On any error the old
    /// certificate stays in use and the error is returned for the log.
    pub fn reload(&self) -> anyhow::Result<String> {
        let key = Arc::new(load(&self.opts)?);
        let mut cur = self
            .slot
            .0
            .write()
            .map_err(|_| anyhow::anyhow!("certificate slot poisoned"))?;
        *cur = key;
        drop(cur);
        Ok(self.fingerprint())
    }

    /// Runs the server handshake on `io`, bounded by the handshake timeout:
    /// a peer that sends nothing, or plain text, is refused in bounded time.
    pub async fn accept<IO>(&self, io: IO) -> anyhow::Result<TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let acceptor = TlsAcceptor::from(Arc::clone(&self.config));
        match tokio::time::timeout(self.timeout, acceptor.accept(io)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(anyhow::anyhow!("TLS handshake failed: {e}")),
            Err(_) => bail!("TLS handshake not completed within {:?}", self.timeout),
        }
    }
}

fn load(opts: &TlsServerOpts) -> anyhow::Result<CertifiedKey> {
    let id = match (&opts.tls_cert, &opts.tls_key, opts.tls_self_signed) {
        (Some(c), Some(k), _) => Identity::from_pem_files(c, k)?,
        (_, _, true) => {
            let dir = opts.state_dir.clone().unwrap_or_else(default_state_dir);
            Identity::self_signed(&dir)?
        }
        _ => bail!("a TLS listener needs --tls-cert and --tls-key, or --tls-self-signed"),
    };
    CertifiedKey::from_der(id.chain, id.key, &provider())
        .context("the TLS key does not fit the certificate")
}

/// A root store holding every certificate of a PEM file.
pub fn roots_from_pem(path: &std::path::Path) -> anyhow::Result<RootCertStore> {
    use rustls_pki_types::pem::PemObject as _;
    let mut roots = RootCertStore::empty();
    let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading CA certificates from {}", path.display()))?;
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        bail!("{}: no usable CA certificate in it", path.display());
    }
    Ok(roots)
}
