//! The exec listeners' connection handlers: one command at a time per
//! connection, each answered completely before the next is read.
//!
//! - `exec`: the first read decides ([`detect`]): native frames, or a seed
//!   client's bare command text answered in the seeds' JSON-header framing.
//! - `exec-len`: bare command text, answered with a 4-byte length + output.
//! - `exec-ack`: bare command text, answered with the size as text, then,
//!   after the client's ack, the output.
//!
//! In the seed dialects one read is one command, as in the seeds' servers;
//! output is collected (up to the cap) because its size and md5 go first.

use std::net::SocketAddr;
use std::sync::Arc;

mod native;
pub mod spool;
mod text;

use tokio::io::AsyncReadExt as _;
use tokio::io::{AsyncRead, AsyncWrite};
use wirekit_core::service::exec::{detect, Dialect};

use super::ExecService;
use text::{TextConn, TextDialect};

/// A connection's byte stream (a `TcpStream`, or the serve framework's
/// activity-tracking wrapper around one).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Which exec listener a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `exec`: native protocol or the seeds' JSON-header framing.
    Exec,
    /// `exec-len`: the seeds' 4-byte length framing.
    Len,
    /// `exec-ack`: seed 004's size text, ack, output.
    Ack,
}

/// Serves one connection until the client closes it or breaks the rules.
/// `binding` is the TLS channel binding (see
/// `wirekit_core::service::exec::auth`), empty on a plain connection.
pub async fn handle(
    flavor: Flavor,
    mut stream: impl Io,
    peer: SocketAddr,
    svc: Arc<ExecService>,
    binding: Vec<u8>,
) -> anyhow::Result<()> {
    let mut buf = vec![0u8; 8192];
    let n = stream.read(&mut buf).await?;
    if n == 0 {
        return Ok(());
    }
    buf.truncate(n);
    let text = match (flavor, detect(&buf)) {
        (Flavor::Exec, Dialect::Native) => {
            return native::serve(stream, peer, svc, buf, binding).await
        }
        (Flavor::Exec, Dialect::Text) => TextDialect::Json,
        (Flavor::Len, _) => TextDialect::Len,
        (Flavor::Ack, _) => TextDialect::Ack,
    };
    text::serve(&mut TextConn::new(stream, text, buf), peer, &svc).await
}
