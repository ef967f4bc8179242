//! The exec clients' connection: plain TCP or TLS over it (`--tls`,
//! `--tls-pin`, `--tls-ca`, trust on first use), one blocking byte stream
//! either way. Timeouts are the TCP socket's, so they hold under TLS too.
//!
//! Over TLS the link also yields the channel binding of the native proof:
//! keying material exported from this TLS session (RFC 8446 §7.5) with the
//! label and (empty) context the server uses, so a proof relayed by a man
//! in the middle, who holds a different session with the server, fails.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use rustls::{ClientConnection, StreamOwned};
use wirekit_core::service::exec::auth::{BINDING_LEN, EXPORTER_LABEL};

use crate::client::resolve;
use crate::tls::client::{ClientTls, TlsClientOpts};

/// A connection to a server.
pub enum Link {
    /// Clear text.
    Plain(TcpStream),
    /// TLS, handshake done and the server's certificate checked.
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Link {
    /// Connects to `addr` (as the user typed it: TLS trust on first use
    /// remembers it) within `timeout`, and with TLS options that ask for
    /// it, finishes the TLS handshake within the same timeout.
    pub fn connect(addr: &str, timeout: Duration, tls: &TlsClientOpts) -> anyhow::Result<Link> {
        // Refuse bad TLS options before touching the network.
        let tls = ClientTls::from_opts(tls, addr)?;
        let sa = resolve(addr)?;
        let tcp = TcpStream::connect_timeout(&sa, timeout)
            .with_context(|| format!("connecting to {sa}"))?;
        let _ = tcp.set_nodelay(true);
        tcp.set_write_timeout(Some(timeout))?;
        tcp.set_read_timeout(Some(timeout))?;
        match tls {
            None => Ok(Link::Plain(tcp)),
            Some(tls) => Ok(Link::Tls(Box::new(tls.connect_blocking(tcp).map_err(
                |e| {
                    anyhow!(
                        "{e:#}; is {addr} a TLS listener (`--listen SERVICE+tls=ADDR` on the server)?"
                    )
                },
            )?))),
        }
    }

    /// The TCP socket underneath (for its timeouts).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Link::Plain(s) => s,
            Link::Tls(s) => s.get_ref(),
        }
    }

    /// The channel binding of the exec proof: empty in clear text, the
    /// exported keying material over TLS.
    pub fn binding(&self) -> anyhow::Result<Vec<u8>> {
        match self {
            Link::Plain(_) => Ok(Vec::new()),
            Link::Tls(s) => {
                let out = s
                    .conn
                    .export_keying_material([0u8; BINDING_LEN], EXPORTER_LABEL, Some(b""))
                    // Never fall back to an unbound proof over TLS: that is
                    // the one a man in the middle could relay.
                    .map_err(|e| anyhow!("cannot bind the token proof to the TLS session: {e}"))?;
                Ok(out.to_vec())
            }
        }
    }
}

impl Read for Link {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Link::Plain(s) => s.read(buf),
            Link::Tls(s) => match s.read(buf) {
                // A peer that closes TCP without TLS's close_notify: every
                // exec dialect frames its replies (lengths, an exit frame),
                // so a cut reply is still noticed as one.
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(0),
                r => r,
            },
        }
    }
}

impl Write for Link {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Link::Plain(s) => s.write(buf),
            Link::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Link::Plain(s) => s.flush(),
            Link::Tls(s) => s.flush(),
        }
    }
}
