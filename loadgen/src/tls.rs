//! `--tls` for `wirekit-bench echo` and `wirekit-bench connect`: the same loads
//! over TLS, against a `SERVICE+tls` listener or any TLS echo server
//! (`socat OPENSSL-LISTEN:…`), so they can be compared side by side.
//!
//! This is a load generator, not a client to trust: without `--tls-pin`
//! it accepts any certificate (the handshake signature is still checked).
//! Session resumption is off, so every new connection pays a full
//! handshake, the worst case and the same for every server measured.

use std::io::{self, ErrorKind, Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;

use anyhow::Context as _;
use rustls::client::Resumption;
use rustls::{ClientConfig, ClientConnection};
use rustls_pki_types::ServerName;
use tokio_rustls::TlsConnector;

use wirekit_host::tls::trust::FingerprintVerifier;
use wirekit_host::tls::{format_fingerprint, parse_fingerprint, provider};

/// TLS options of the TCP bench modes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// Speak TLS 1.3 (or 1.2) to the server. For benchmarks only: without
    /// --tls-pin ANY certificate is accepted.
    #[arg(long)]
    pub tls: bool,
    /// Accept only the certificate with this fingerprint (as `wirekit
    /// serve` prints it). Implies --tls.
    #[arg(long, value_name = "sha256:HEX")]
    pub tls_pin: Option<String>,
}

/// A TLS client setup for the bench, shared by all its connections.
#[derive(Clone)]
pub struct BenchTls {
    connector: TlsConnector,
    name: ServerName<'static>,
}

impl BenchTls {
    /// The setup `args` ask for (None: plain TCP), for server `addr`.
    pub fn from_args(args: &TlsArgs, addr: &str) -> anyhow::Result<Option<BenchTls>> {
        if !args.tls && args.tls_pin.is_none() {
            return Ok(None);
        }
        let verifier = match &args.tls_pin {
            Some(pin) => {
                let fp = parse_fingerprint(pin)?;
                let why = format!(
                    "certificate does not match --tls-pin {}",
                    format_fingerprint(&fp)
                );
                FingerprintVerifier::new(Some(fp), why)
            }
            None => FingerprintVerifier::new(None, String::new()),
        };
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        config.resumption = Resumption::disabled();
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .with_context(|| format!("`{host}` is not a valid server name"))?;
        Ok(Some(BenchTls {
            connector: TlsConnector::from(Arc::new(config)),
            name,
        }))
    }

    /// Handshakes over a connected socket.
    pub async fn handshake(
        &self,
        tcp: tokio::net::TcpStream,
    ) -> io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        self.connector.connect(self.name.clone(), tcp).await
    }
}

/// One benchmark connection in non-blocking mode: plain, or TLS driven by
/// hand (rustls's buffers between the bench's bytes and the socket).
pub enum Wire {
    /// Clear text.
    Plain(TcpStream),
    /// TLS, handshake done, and the ciphertext read ahead of rustls.
    Tls(TcpStream, Box<ClientConnection>, Ahead),
}

/// Ciphertext read from the socket and not yet given to rustls: the
/// socket is read a whole record at a time, as the server's
/// `tls::read_ahead` does, instead of rustls's 4 KiB per `read_tls`.
pub struct Ahead {
    buf: Box<[u8]>,
    at: usize,
    len: usize,
}

impl Default for Ahead {
    fn default() -> Self {
        Self {
            buf: vec![0u8; wirekit_host::tls::read_ahead::CHUNK].into_boxed_slice(),
            at: 0,
            len: 0,
        }
    }
}

impl Wire {
    /// The socket (for epoll).
    pub fn sock(&self) -> &TcpStream {
        match self {
            Wire::Plain(s) | Wire::Tls(s, ..) => s,
        }
    }

    /// Like a non-blocking `write`: how much of `data` was taken, or
    /// `WouldBlock` when nothing could be.
    pub fn send(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(s) => s.write(data),
            Wire::Tls(s, c, _) => {
                let n = c.writer().write(data)?;
                flush(s, c)?;
                match n {
                    0 => Err(ErrorKind::WouldBlock.into()),
                    n => Ok(n),
                }
            }
        }
    }

    /// Sends what TLS still holds; true while some is left.
    pub fn pending(&mut self) -> io::Result<bool> {
        match self {
            Wire::Plain(_) => Ok(false),
            Wire::Tls(s, c, _) => {
                flush(s, c)?;
                Ok(c.wants_write())
            }
        }
    }

    /// Like a non-blocking `read` (0 at the end of the stream).
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(s) => s.read(buf),
            Wire::Tls(s, c, a) => loop {
                match c.reader().read(buf) {
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    r => return r,
                }
                if a.at == a.len {
                    a.len = s.read(&mut a.buf)?;
                    a.at = 0;
                    if a.len == 0 {
                        return Ok(0);
                    }
                }
                let mut ahead = &a.buf[a.at..a.len];
                a.at += c.read_tls(&mut ahead)?;
                c.process_new_packets().map_err(io::Error::other)?;
            },
        }
    }
}

/// Writes TLS records until rustls holds none or the socket is full.
fn flush(s: &mut TcpStream, c: &mut ClientConnection) -> io::Result<()> {
    while c.wants_write() {
        match c.write_tls(s) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
