//! The client side: `--tls` on a wirekit client, and how it decides to
//! trust the server — a CA (`--tls-ca FILE`, or `--tls-ca system`), a
//! pinned fingerprint (`--tls-pin sha256:HEX`), or, with neither, the
//! fingerprint remembered on first use ([`super::trust`]). Blocking
//! clients use [`ClientTls::connect_blocking`], async ones
//! [`ClientTls::connect`]; both finish the handshake (and so the check)
//! before returning.

use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use rustls::client::WebPkiServerVerifier;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;

use super::identity::{default_state_dir, Identity};
use super::read_ahead::ReadAhead;
use super::server::roots_from_pem;
use super::trust::{FingerprintVerifier, KnownHosts};
use super::{format_fingerprint, parse_fingerprint, provider};

/// TLS options shared by the wirekit clients.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsClientOpts {
    /// Speak TLS (to a `SERVICE+tls` listener). Without --tls-ca or
    /// --tls-pin the server is trusted on first use, like ssh.
    #[arg(long)]
    pub tls: bool,
    /// Trust servers whose certificate chains to this CA (PEM file), or
    /// `system` for the system's roots. Implies --tls.
    #[arg(long, value_name = "FILE|system")]
    pub tls_ca: Option<String>,
    /// Trust only the certificate with this fingerprint, as `wirekit
    /// serve` prints it (`tls-fingerprint` line). Implies --tls.
    #[arg(long, value_name = "sha256:HEX", conflicts_with = "tls_ca")]
    pub tls_pin: Option<String>,
    /// Known-hosts file for trust on first use
    /// [default: $XDG_DATA_HOME/wirekit/known_hosts].
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Client certificate (PEM) for servers that require one.
    #[arg(long = "tls-cert", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert (PEM).
    #[arg(long = "tls-key", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Name the certificate must carry with --tls-ca [default: the host
    /// part of ADDR].
    #[arg(long, value_name = "NAME")]
    pub tls_server_name: Option<String>,
}

impl TlsClientOpts {
    /// True when any option asks for TLS.
    pub fn wanted(&self) -> bool {
        self.tls || self.tls_ca.is_some() || self.tls_pin.is_some()
    }
}

/// A configured TLS client for one server address.
#[derive(Debug)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    tofu: Option<Tofu>,
}

/// A first-use check in progress: what to remember once the handshake
/// succeeded.
#[derive(Debug)]
struct Tofu {
    known: KnownHosts,
    host_port: String,
    verifier: Arc<FingerprintVerifier>,
    first: bool,
}

impl ClientTls {
    /// The TLS setup for `addr` (`HOST:PORT` as the user typed it), or
    /// `None` when the options do not ask for TLS.
    pub fn from_opts(opts: &TlsClientOpts, addr: &str) -> anyhow::Result<Option<ClientTls>> {
        if !opts.wanted() {
            return Ok(None);
        }
        let host = host_of(addr);
        let sni = opts
            .tls_server_name
            .clone()
            .unwrap_or_else(|| host.to_string());
        let name = ServerName::try_from(sni.clone())
            .with_context(|| format!("`{sni}` is not a valid server name"))?;
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
        let mut tofu = None;
        let builder = if let Some(ca) = &opts.tls_ca {
            let roots = if ca == "system" {
                system_roots()?
            } else {
                roots_from_pem(ca.as_ref())?
            };
            let v = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .context("server certificate verifier")?;
            builder.with_webpki_verifier(v)
        } else {
            let (verifier, first_use) = fingerprint_verifier(opts, addr)?;
            tofu = first_use;
            builder
                .dangerous()
                .with_custom_certificate_verifier(verifier)
        };
        let config = match (&opts.tls_cert, &opts.tls_key) {
            (Some(c), Some(k)) => {
                let id = Identity::from_pem_files(c, k)?;
                builder
                    .with_client_auth_cert(id.chain, id.key)
                    .context("the client key does not fit its certificate")?
            }
            _ => builder.with_no_client_auth(),
        };
        Ok(Some(ClientTls {
            config: Arc::new(config),
            name,
            tofu,
        }))
    }

    /// Handshakes over an async stream (read a record at a time, see
    /// [`ReadAhead`]).
    pub async fn connect<IO>(
        &self,
        io: IO,
    ) -> anyhow::Result<tokio_rustls::client::TlsStream<ReadAhead<IO>>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let s = TlsConnector::from(Arc::clone(&self.config))
            .connect(self.name.clone(), ReadAhead::new(io))
            .await
            .map_err(|e| anyhow::anyhow!("TLS handshake failed: {e}"))?;
        self.remember()?;
        Ok(s)
    }

    /// Handshakes over a blocking socket (its timeouts apply).
    pub fn connect_blocking(
        &self,
        mut tcp: TcpStream,
    ) -> anyhow::Result<StreamOwned<ClientConnection, TcpStream>> {
        let mut conn = ClientConnection::new(Arc::clone(&self.config), self.name.clone())?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)
                .map_err(|e| anyhow::anyhow!("TLS handshake failed: {e}"))?;
        }
        self.remember()?;
        Ok(StreamOwned::new(conn, tcp))
    }

    /// After a first-use handshake: remember the server and say so.
    fn remember(&self) -> anyhow::Result<()> {
        let Some(t) = self.tofu.as_ref().filter(|t| t.first) else {
            return Ok(());
        };
        let Some(fp) = t.verifier.seen() else {
            bail!("TLS handshake finished without a server certificate");
        };
        t.known.add(&t.host_port, &fp)?;
        eprintln!(
            "wirekit: trusting {} on first use: certificate {} (remembered in {})",
            t.host_port,
            format_fingerprint(&fp),
            t.known.path().display()
        );
        Ok(())
    }
}

/// The verifier for `--tls-pin`, or for the known-hosts entry of `addr`
/// (with what to remember after a first use).
fn fingerprint_verifier(
    opts: &TlsClientOpts,
    addr: &str,
) -> anyhow::Result<(Arc<FingerprintVerifier>, Option<Tofu>)> {
    if let Some(pin) = &opts.tls_pin {
        let fp = parse_fingerprint(pin)?;
        let why = format!(
            "certificate does not match --tls-pin {}",
            format_fingerprint(&fp)
        );
        return Ok((Arc::new(FingerprintVerifier::new(Some(fp), why)), None));
    }
    let path = opts
        .known_hosts
        .clone()
        .unwrap_or_else(|| default_state_dir().join("known_hosts"));
    let known = KnownHosts::new(path);
    let entry = known.lookup(addr)?;
    let why = entry.map_or_else(String::new, |k| {
        format!(
            "WARNING: the TLS certificate of {addr} has CHANGED since it was first trusted \
             (remembered: {}). Someone may be intercepting this connection. If the server \
             really got a new certificate, delete line {} of {} and connect again",
            format_fingerprint(&k.fingerprint),
            k.line,
            known.path().display()
        )
    });
    let verifier = Arc::new(FingerprintVerifier::new(entry.map(|k| k.fingerprint), why));
    let tofu = Tofu {
        known,
        host_port: addr.to_string(),
        verifier: Arc::clone(&verifier),
        first: entry.is_none(),
    };
    Ok((verifier, Some(tofu)))
}

/// The host part of `HOST:PORT` (brackets of an IPv6 literal removed).
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

fn system_roots() -> anyhow::Result<RootCertStore> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        bail!("no system CA certificates found (install ca-certificates, or use --tls-ca FILE)");
    }
    Ok(roots)
}
