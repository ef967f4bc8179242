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

use anyhow::bail;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tracing::{info, warn};
use wirekit_core::codec::frame::{Event, FrameDecoder, Limits};
use wirekit_core::service::exec::ack::{AckEvent, AckServer};
use wirekit_core::service::exec::native::{ClientMsg, ServerMsg};
use wirekit_core::service::exec::{
    auth, check_command, detect, seed_reply_header, Dialect, MAX_NATIVE_COMMAND, MAX_TEXT_COMMAND,
};
use wirekit_core::wire::{emit_frame_header, emit_prefix, Digest, Header};

use super::run::{run, RunError, Sink, Stream};
use super::{Auth, ExecService};

/// Exit code reported when wirekit refused or could not run a command.
pub const EXIT_REFUSED: i32 = 255;

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
pub async fn handle(
    flavor: Flavor,
    mut stream: TcpStream,
    peer: SocketAddr,
    svc: Arc<ExecService>,
) -> anyhow::Result<()> {
    let mut buf = vec![0u8; 8192];
    let n = stream.read(&mut buf).await?;
    if n == 0 {
        return Ok(());
    }
    buf.truncate(n);
    let text = match (flavor, detect(&buf)) {
        (Flavor::Exec, Dialect::Native) => return serve_native(stream, peer, svc, buf).await,
        (Flavor::Exec, Dialect::Text) => TextDialect::Json,
        (Flavor::Len, _) => TextDialect::Len,
        (Flavor::Ack, _) => TextDialect::Ack,
    };
    let mut conn = TextConn {
        stream,
        dialect: text,
        ack: AckServer::new(),
        pending: buf,
    };
    serve_text(&mut conn, peer, &svc).await
}

/// The seeds' framings of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextDialect {
    Json,
    Len,
    Ack,
}

struct TextConn {
    stream: TcpStream,
    dialect: TextDialect,
    ack: AckServer,
    /// Bytes read but not yet used.
    pending: Vec<u8>,
}

/// Collects a command's output for the seed dialects: stdout, then stderr,
/// as the seeds send them.
#[derive(Default)]
struct Collect {
    out: Vec<u8>,
    err: Vec<u8>,
}

impl Sink for Collect {
    async fn chunk(&mut self, stream: Stream, data: &[u8]) -> std::io::Result<()> {
        match stream {
            Stream::Stdout => self.out.extend_from_slice(data),
            Stream::Stderr => self.err.extend_from_slice(data),
        }
        Ok(())
    }
}

async fn serve_text(
    conn: &mut TextConn,
    peer: SocketAddr,
    svc: &ExecService,
) -> anyhow::Result<()> {
    let mut first = true;
    while let Some(cmd) = conn.next_command().await? {
        if first && !svc.allowed(peer.ip()) {
            warn!(%peer, "exec: refused: address not in --exec-allow");
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
        let mut sink = Collect::default();
        let outcome = run(&cmd, svc.timeout, svc.max_output, &mut sink).await;
        drop(permit);
        match outcome {
            Ok(o) => {
                let mut body = sink.out;
                body.extend_from_slice(&sink.err);
                conn.reply(&body, o.ending.exit_code(), o.truncated, None)
                    .await?;
            }
            Err(RunError::Spawn(e) | RunError::Sink(e)) => {
                conn.reply_error(&format!("cannot run the command: {e}"))
                    .await?;
            }
        }
    }
    Ok(())
}

impl TextConn {
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

    /// Sends a command's reply in this connection's framing.
    async fn reply(
        &mut self,
        body: &[u8],
        code: i32,
        truncated: bool,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        let len = body.len() as u64;
        let mut head = vec![0u8; 1024];
        let n = match self.dialect {
            TextDialect::Json => {
                let h = seed_reply_header(len, Digest::of(body), code, truncated, error);
                emit_frame_header(&h, &mut head).map_err(|e| anyhow::anyhow!("{e}"))?
            }
            TextDialect::Len => {
                emit_prefix(len, &mut head).ok_or_else(|| anyhow::anyhow!("reply too long"))?
            }
            TextDialect::Ack => return self.reply_ack(body).await,
        };
        head.truncate(n);
        head.extend_from_slice(body);
        self.stream.write_all(&head).await?;
        Ok(())
    }

    async fn reply_ack(&mut self, body: &[u8]) -> anyhow::Result<()> {
        let size = self
            .ack
            .output_ready(body.len() as u64)
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
        self.stream.write_all(body).await?;
        Ok(())
    }

    async fn reply_error(&mut self, msg: &str) -> anyhow::Result<()> {
        let body = format!("wirekit: {msg}\n");
        self.reply(body.as_bytes(), EXIT_REFUSED, false, Some(msg))
            .await
    }

    /// Answers the current command with `msg` and ends the connection.
    async fn refuse(&mut self, msg: &str) -> anyhow::Result<()> {
        self.reply_error(msg).await?;
        self.stream.shutdown().await?;
        Ok(())
    }
}

/// Writes native frames as the command produces output.
struct FrameSink<'a> {
    stream: &'a mut TcpStream,
}

impl Sink for FrameSink<'_> {
    async fn chunk(&mut self, stream: Stream, data: &[u8]) -> std::io::Result<()> {
        let len = data.len() as u64;
        let msg = match stream {
            Stream::Stdout => ServerMsg::Stdout(len),
            Stream::Stderr => ServerMsg::Stderr(len),
        };
        let mut frame = vec![0u8; 256];
        let n = emit_frame_header(&msg.header(), &mut frame)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        frame.truncate(n);
        frame.extend_from_slice(data);
        self.stream.write_all(&frame).await
    }
}

async fn send(stream: &mut TcpStream, msg: ServerMsg<'_>) -> anyhow::Result<()> {
    let mut frame = [0u8; 512];
    let n = emit_frame_header(&msg.header(), &mut frame).map_err(|e| anyhow::anyhow!("{e}"))?;
    stream.write_all(&frame[..n]).await?;
    Ok(())
}

/// Sends a final error and ends the connection.
async fn refuse_native(stream: &mut TcpStream, msg: &str) -> anyhow::Result<()> {
    send(stream, ServerMsg::Error(msg)).await?;
    stream.shutdown().await?;
    Ok(())
}

type Decoder = FrameDecoder<1024>;

/// Reads the next whole client frame; `None` at a clean EOF.
async fn next_frame(
    stream: &mut TcpStream,
    dec: &mut Decoder,
    pending: &mut Vec<u8>,
) -> anyhow::Result<Option<(Header, Vec<u8>)>> {
    let mut header = None;
    let mut body = Vec::new();
    loop {
        let mut used = 0;
        loop {
            let (n, ev) = dec
                .decode(&pending[used..])
                .map_err(|e| anyhow::anyhow!("bad frame: {e}"))?;
            used += n;
            match ev {
                None => break,
                Some(Event::Header(h)) => header = Some(h.clone()),
                Some(Event::Body(b)) => body.extend_from_slice(b),
                Some(Event::End(_)) => {
                    pending.drain(..used);
                    let h = header.ok_or_else(|| anyhow::anyhow!("frame without header"))?;
                    return Ok(Some((h, body)));
                }
            }
        }
        pending.drain(..used);
        let mut buf = [0u8; 8192];
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            if header.is_none() && dec.is_idle() {
                return Ok(None);
            }
            bail!("connection closed inside a frame");
        }
        pending.extend_from_slice(&buf[..n]);
    }
}

async fn serve_native(
    mut stream: TcpStream,
    peer: SocketAddr,
    svc: Arc<ExecService>,
    mut pending: Vec<u8>,
) -> anyhow::Result<()> {
    if !svc.allowed(peer.ip()) {
        warn!(%peer, "exec: refused: address not in --exec-allow");
        return refuse_native(
            &mut stream,
            "refused: your address is not allowed (--exec-allow)",
        )
        .await;
    }
    let mut dec = Decoder::with_limits(Limits {
        max_header: 1024,
        max_body: MAX_NATIVE_COMMAND as u64,
        ..Limits::default()
    });
    let mut authed = matches!(svc.auth, Auth::Insecure);
    let mut nonce: Option<String> = None;
    loop {
        let (header, body) = match next_frame(&mut stream, &mut dec, &mut pending).await {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(()),
            Err(e) => return refuse_native(&mut stream, &e.to_string()).await,
        };
        let msg = match ClientMsg::parse(&header, MAX_NATIVE_COMMAND as u64) {
            Ok(m) => m,
            Err(e) => return refuse_native(&mut stream, &format!("bad request: {e}")).await,
        };
        match msg {
            ClientMsg::Hello => match &svc.auth {
                Auth::Insecure => send(&mut stream, ServerMsg::Ready).await?,
                Auth::Token(_) => {
                    let mut random = [0u8; auth::NONCE_LEN];
                    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("{e}"))?;
                    let n = String::from_utf8_lossy(&auth::nonce_hex(&random)).into_owned();
                    send(&mut stream, ServerMsg::Challenge(&n)).await?;
                    nonce = Some(n);
                }
            },
            ClientMsg::Auth(proof) => {
                let ok = match (&svc.auth, nonce.take()) {
                    (Auth::Insecure, _) => true,
                    (Auth::Token(t), Some(n)) => auth::verify(t, &n, proof),
                    (Auth::Token(_), None) => false,
                };
                if !ok {
                    warn!(%peer, "exec: refused: authentication failed");
                    return refuse_native(&mut stream, "authentication failed: wrong token").await;
                }
                authed = true;
                send(&mut stream, ServerMsg::Ready).await?;
            }
            ClientMsg::Exec(_) if !authed => {
                warn!(%peer, "exec: refused: not authenticated");
                return refuse_native(
                    &mut stream,
                    "authentication required: this server needs a token (--token-file)",
                )
                .await;
            }
            ClientMsg::Exec(_) => native_exec(&mut stream, peer, &svc, &body).await?,
        }
    }
}

async fn native_exec(
    stream: &mut TcpStream,
    peer: SocketAddr,
    svc: &ExecService,
    cmd: &[u8],
) -> anyhow::Result<()> {
    if let Err(e) = check_command(cmd, MAX_NATIVE_COMMAND) {
        return send(stream, ServerMsg::Error(&e.to_string())).await;
    }
    let permit = match svc.slot() {
        Ok(p) => p,
        Err(msg) => {
            warn!(%peer, "exec: {msg}");
            return send(stream, ServerMsg::Error(&msg)).await;
        }
    };
    info!(%peer, cmd = %String::from_utf8_lossy(cmd), "exec: running");
    let outcome = run(cmd, svc.timeout, svc.max_output, &mut FrameSink { stream }).await;
    drop(permit);
    match outcome {
        Ok(o) => {
            let marker = o.ending.marker();
            let note = marker.as_deref().map(str::trim);
            let exit = ServerMsg::Exit {
                code: o.ending.exit_code(),
                truncated: o.truncated,
                note,
            };
            send(stream, exit).await
        }
        Err(RunError::Spawn(e)) => {
            send(
                stream,
                ServerMsg::Error(&format!("cannot run the command: {e}")),
            )
            .await
        }
        Err(RunError::Sink(e)) => Err(anyhow::anyhow!("client gone mid-output: {e}")),
    }
}
