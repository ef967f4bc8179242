//! Opening a files connection: TCP with timeouts, TLS when the options
//! ask for it (`--tls`, `--tls-pin`, `--tls-ca`, first use), and the
//! upload token's challenge and proof (`--token-file`, native dialect),
//! bound to the TLS session when there is one.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use wirekit_core::service::exec::auth;
use wirekit_core::service::file::access::{
    auth_request, challenge_request, parse_auth_reply, parse_challenge, DOMAIN,
};

use super::{read_reply_raw, request, ClientDialect};
use crate::services::files::conn::{Conn, Stream};
use crate::tls::client::{ClientTls, TlsClientOpts};

/// Connects with read/write timeouts, over TLS if `tls` asks for it (the
/// server's certificate is checked before this returns).
pub fn connect(addr: &str, timeout: u64, tls: &TlsClientOpts) -> anyhow::Result<Conn> {
    let t = Duration::from_secs(timeout.max(1));
    // Checked first: a bad pin or known-hosts file needs no connection.
    let setup = ClientTls::from_opts(tls, addr)?;
    let sa = addr
        .to_socket_addrs()
        .with_context(|| format!("bad address {addr}"))?
        .next()
        .ok_or_else(|| anyhow!("{addr} resolves to nothing"))?;
    let s = TcpStream::connect_timeout(&sa, t).with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(t))?;
    s.set_write_timeout(Some(t))?;
    s.set_nodelay(true)?;
    let stream = match setup {
        None => Stream::Plain(s),
        Some(c) => Stream::Tls(Box::new(c.connect_blocking(s)?)),
    };
    Ok(Conn::new(stream))
}

/// Reads the token in `path` (as `wirekit serve --files-token-file` does).
pub fn read_token(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let t = auth::token_from_file(&bytes).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(t.to_vec())
}

/// Proves `token` to the server: challenge, then the proof bound to this
/// connection. A wrong token ends in the server's refusal.
pub fn authenticate(conn: &mut Conn, token: &[u8]) -> anyhow::Result<()> {
    request(conn, &challenge_request(), ClientDialect::Native)?;
    let h = read_reply_raw(conn)?;
    let nonce = parse_challenge(&h).map_err(|e| anyhow!("{e}"))?;
    let binding = conn
        .stream
        .binding(DOMAIN.exporter_label, auth::BINDING_LEN)
        .context("exporting the TLS channel binding")?;
    let proof = auth::proof_in(DOMAIN, token, nonce, &binding);
    let proof = String::from_utf8_lossy(&proof).into_owned();
    super::send(conn, &auth_request(&proof), b"")?;
    let h = read_reply_raw(conn)?;
    parse_auth_reply(&h).map_err(|e| anyhow!("{e}"))
}
