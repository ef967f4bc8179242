//! Plugs the exec listeners into `wirekit serve`: one registry entry per
//! dialect, all sharing one [`ExecService`] (so the concurrency limit holds
//! across listeners), each address checked before it is bound.

use std::net::SocketAddr;
use std::sync::Arc;

use super::server::{handle, Flavor};
use super::ExecService;
use crate::runtime::{Conn, ConnCtx, Launch};
use crate::services::Shared;

fn shared(l: &Launch, s: &Shared) -> anyhow::Result<Arc<ExecService>> {
    s.exec.get_or_try_init(|| {
        Ok(ExecService::new(&s.opts.exec)?
            .with_shutdown(l.shutdown())
            // This process is the `wirekit` binary; /proc/self/exe stays
            // valid even if the file is replaced while the server runs.
            .with_supervisor("/proc/self/exe")
            .with_metrics(l.metrics().clone()))
    })
}

fn start(
    l: &Launch,
    s: &Shared,
    name: &'static str,
    flavor: Flavor,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    let svc = shared(l, s)?;
    svc.check_listen(addr)?;
    if let Some(idle) = l.idle_timeout() {
        if idle < svc.timeout {
            // The idle timeout counts bytes moved: a command that prints
            // nothing for that long loses its connection (and is killed).
            tracing::warn!(
                "--idle-timeout ({idle:?}) is shorter than --exec-timeout ({:?}): silent commands end at the idle timeout",
                svc.timeout
            );
        }
    }
    l.tcp(name, addr, move |conn: Conn, ctx: ConnCtx| {
        let binding = channel_binding(&conn);
        handle(flavor, conn, ctx.peer, svc.clone(), binding)
    })
}

/// The TLS session's keying material for the exec proof (RFC 8446 §7.5),
/// or nothing on a plain connection.
fn channel_binding(conn: &Conn) -> Vec<u8> {
    use wirekit_core::service::exec::auth::{BINDING_LEN, EXPORTER_LABEL};
    let mut out = vec![0u8; BINDING_LEN];
    match conn
        .get_ref()
        .export_keying_material(&mut out, EXPORTER_LABEL, b"")
    {
        Some(()) => out,
        None => Vec::new(),
    }
}

/// `exec`: native protocol and the seeds' JSON-header dialect.
pub fn start_exec(l: &Launch, s: &Shared, addr: SocketAddr) -> anyhow::Result<()> {
    start(l, s, "exec", Flavor::Exec, addr)
}

/// `exec-len`: the seeds' 4-byte length dialect.
pub fn start_len(l: &Launch, s: &Shared, addr: SocketAddr) -> anyhow::Result<()> {
    start(l, s, "exec-len", Flavor::Len, addr)
}

/// `exec-ack`: seed 004's size, ack, output dialect.
pub fn start_ack(l: &Launch, s: &Shared, addr: SocketAddr) -> anyhow::Result<()> {
    start(l, s, "exec-ack", Flavor::Ack, addr)
}
