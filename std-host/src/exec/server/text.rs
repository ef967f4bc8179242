//! The seed dialects: one read is one command (the seeds' `recv(1024)`);
//! the output is collected, up to the cap, because its size (and md5) must
//! go before it; beyond a few kilobytes it waits in a temporary file
//! ([`super::spool`]), not in memory.

use std::net::SocketAddr;

use anyhow::bail;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tracing::{info, warn};
use wirekit_core::service::exec::ack::{AckEvent, AckServer};
use wirekit_core::service::exec::foreign::classify;
use wirekit_core::service::exec::{
    check_command, seed_reply_header, EXIT_REFUSED, MAX_TEXT_COMMAND,
};
use wirekit_core::wire::{emit_frame_header, emit_prefix};

use super::spool::Spool;
use super::Io;
use crate::exec::run::RunError;
use crate::exec::{Auth, ExecService};

/// The seeds' framings of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TextDialect {
    Json,
    Len,
    Ack,
}

pub(super) struct TextConn<S> {
    stream: S,
    dialect: TextDialect,
    ack: AckServer,
    /// Bytes read but not yet used.
    pending: Vec<u8>,
}

/// What a client whose command was killed by a server shutdown reads.
pub(super) const SHUTDOWN: &str = "server shutting down: command killed";

pub(super) async fn serve(
    conn: &mut TextConn<impl Io>,
    peer: SocketAddr,
    svc: &ExecService,
) -> anyhow::Result<()> {
    let mut first = true;
    while let Some(cmd) = conn.next_command().await? {
        if let Some(what) = classify(&cmd) {
            // Another protocol (a browser's HTTP request, a TLS or SSH
            // client) reached a port that runs what it reads: close
            // without running or answering anything. One line per
            // connection, since the connection ends here.
            warn!(%peer, "exec: refused {what}: not command text; connection closed, nothing run");
            svc.refused("exec", "foreign_protocol");
            return Ok(());
        }
        if first && !svc.allowed(peer.ip()) {
            warn!(%peer, "exec: refused: address not in --exec-allow");
            svc.refused("exec", "not_allowed");
            return conn
                .refuse("refused: your address is not allowed (--exec-allow)")
                .await;
        }
        first = false;
        if let Auth::Token(_) = svc.auth {
            warn!(%peer, "exec: refused: seed dialect cannot authenticate");
            return conn
                .refuse("authentication required: this server needs a token; use `wirekit exec --token-file`")
                .await;
        }
        if cmd.len() > MAX_TEXT_COMMAND {
            let msg = format!("command longer than {MAX_TEXT_COMMAND} bytes");
            return conn.refuse(&msg).await;
        }
        if let Err(e) = check_command(&cmd, MAX_TEXT_COMMAND) {
            conn.reply_error(&e.to_string()).await?;
            continue;
        }
        let permit = match svc.slot() {
            Ok(p) => p,
            Err(msg) => {
                warn!(%peer, "exec: {msg}");
                conn.reply_error(&msg).await?;
                continue;
            }
        };
        info!(%peer, cmd = %String::from_utf8_lossy(&cmd), "exec: running");
        let mut sink = Spool::new(&svc.spool);
        let outcome = svc.run(&cmd, permit, &mut sink).await;
        match outcome {
            Ok(o) => {
                conn.reply(&mut sink, o.ending.exit_code(), o.truncated, None)
                    .await?;
            }
            Err(RunError::Shutdown) => {
                return conn.refuse(SHUTDOWN).await;
            }
            Err(RunError::Spawn(e) | RunError::Sink(e)) => {
                conn.reply_error(&format!("cannot run the command: {e}"))
                    .await?;
            }
        }
    }
    Ok(())
}

impl<S: Io> TextConn<S> {
    pub(super) fn new(stream: S, dialect: TextDialect, first_read: Vec<u8>) -> Self {
        TextConn {
            stream,
            dialect,
            ack: AckServer::new(),
            pending: first_read,
        }
    }

    /// One read is one command (the seeds' `recv(1024)`); `None` at EOF.
    async fn next_command(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            if !self.pending.is_empty() {
                let input = std::mem::take(&mut self.pending);
                if self.dialect != TextDialect::Ack {
                    return Ok(Some(input));
                }
                match self
                    .ack
                    .on_read(&input)
                    .map_err(|e| std::io::Error::other(e.to_string()))?
                {
                    (used, Some(AckEvent::Command(cmd))) => {
                        let cmd = cmd.to_vec();
                        self.pending = input[used..].to_vec();
                        return Ok(Some(cmd));
                    }
                    _ => return Err(std::io::Error::other("unexpected ack")),
                }
            }
            if !self.read_more().await? {
                return Ok(None);
            }
        }
    }

    async fn read_more(&mut self) -> std::io::Result<bool> {
        let mut buf = vec![0u8; 8192];
        let n = self.stream.read(&mut buf).await?;
        self.pending.extend_from_slice(&buf[..n]);
        Ok(n > 0)
    }

    /// Sends a command's reply in this connection's framing, streaming
    /// the body from the spool.
    async fn reply(
        &mut self,
        body: &mut Spool,
        code: i32,
        truncated: bool,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        let len = body.len();
        let mut head = [0u8; 1024];
        let n = match self.dialect {
            TextDialect::Json => {
                let h = seed_reply_header(len, body.md5().await?, code, truncated, error);
                emit_frame_header(&h, &mut head).map_err(|e| anyhow::anyhow!("{e}"))?
            }
            TextDialect::Len => {
                emit_prefix(len, &mut head).ok_or_else(|| anyhow::anyhow!("reply too long"))?
            }
            TextDialect::Ack => return self.reply_ack(body).await,
        };
        self.stream.write_all(&head[..n]).await?;
        body.send(&mut self.stream).await?;
        Ok(())
    }

    async fn reply_ack(&mut self, body: &mut Spool) -> anyhow::Result<()> {
        let size = self
            .ack
            .output_ready(body.len())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        self.stream.write_all(size.as_bytes()).await?;
        loop {
            if !self.pending.is_empty() {
                let input = std::mem::take(&mut self.pending);
                let (used, ev) = self
                    .ack
                    .on_read(&input)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                self.pending = input[used..].to_vec();
                if let Some(AckEvent::Acked { .. }) = ev {
                    break;
                }
            }
            if !self.read_more().await? {
                bail!("client closed before acknowledging the size");
            }
        }
        body.send(&mut self.stream).await?;
        Ok(())
    }

    async fn reply_error(&mut self, msg: &str) -> anyhow::Result<()> {
        let mut body = Spool::of(format!("wirekit: {msg}\n").as_bytes());
        self.reply(&mut body, EXIT_REFUSED, false, Some(msg)).await
    }

    /// Answers the current command with `msg` and ends the connection.
    async fn refuse(&mut self, msg: &str) -> anyhow::Result<()> {
        self.reply_error(msg).await?;
        self.stream.shutdown().await?;
        Ok(())
    }
}
