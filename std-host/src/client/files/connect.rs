//! Opening a files connection: TCP with timeouts, TLS when the options
//! ask for it (`--tls`, `--tls-pin`, `--tls-ca`, first use), and the
//! upload token's challenge and proof (`--token-file`, native dialect),
//! bound to the TLS session when there is one.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use wirekit_core::service::exec::auth;
use wirekit_core::service::file::access::DOMAIN;

use wirekit_core::blocking::Flow;
use wirekit_core::session::files::client::{ClientEvent, FilesClient};

use super::{request, ClientDialect};
use crate::client::conn::Link;
use crate::tls::client::TlsClientOpts;

/// Connects with read/write timeouts of `timeout` seconds, over TLS if
/// `tls` asks for it (the server's certificate is checked before this
/// returns).
pub fn connect(addr: &str, timeout: u64, tls: &TlsClientOpts) -> anyhow::Result<Link> {
    let t = Duration::from_secs(timeout.max(1));
    Ok(Link::new(crate::client::conn::connect(addr, t, tls)?))
}

/// Reads the token in `path` (as `wirekit serve --files-token-file` does).
pub fn read_token(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let t = auth::token_from_file(&bytes).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(t.to_vec())
}

/// Proves `token` to the server: challenge, then the proof bound to this
/// connection. A wrong token ends in the server's refusal.
pub fn authenticate(
    conn: &mut Link,
    session: &mut FilesClient,
    token: &[u8],
) -> anyhow::Result<()> {
    session.login().map_err(super::wire_err)?;
    request(conn, session, ClientDialect::Native)?;
    let challenged = conn.drive(session, |ev| {
        Ok(match ev {
            ClientEvent::Challenge => Flow::Stop,
            _ => Flow::Continue,
        })
    })?;
    if !challenged {
        anyhow::bail!("server closed the connection without answering");
    }
    let binding = conn
        .stream()
        .binding(DOMAIN.exporter_label, auth::BINDING_LEN)
        .context("exporting the TLS channel binding")?;
    session
        .authenticate(token, &binding)
        .map_err(super::wire_err)?;
    let accepted = conn.drive(session, |ev| {
        Ok(match ev {
            ClientEvent::Authenticated => Flow::Stop,
            _ => Flow::Continue,
        })
    })?;
    if !accepted {
        anyhow::bail!("server closed the connection without answering");
    }
    Ok(())
}
