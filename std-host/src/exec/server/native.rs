//! The native protocol on the `exec` listener: session opening and
//! authentication, then commands whose output streams back as frames.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::bail;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tracing::{info, warn};
use wirekit_core::codec::frame::{Event, FrameDecoder, Limits};
use wirekit_core::service::exec::native::{ClientMsg, ServerMsg};
use wirekit_core::service::exec::{auth, check_command, MAX_NATIVE_COMMAND};
use wirekit_core::wire::{emit_frame_header, Header};

use super::text::SHUTDOWN;
use super::Io;
use crate::exec::run::{RunError, Sink, Stream};
use crate::exec::{Auth, ExecService};
use crate::runtime::throttle::Verdict;

/// Writes native frames as the command produces output.
struct FrameSink<'a, S> {
    stream: &'a mut S,
}

impl<S: Io> Sink for FrameSink<'_, S> {
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

async fn send(stream: &mut impl Io, msg: ServerMsg<'_>) -> anyhow::Result<()> {
    let mut frame = [0u8; 512];
    let n = emit_frame_header(&msg.header(), &mut frame).map_err(|e| anyhow::anyhow!("{e}"))?;
    stream.write_all(&frame[..n]).await?;
    Ok(())
}

/// Sends a final error and ends the connection.
async fn refuse_native(stream: &mut impl Io, msg: &str) -> anyhow::Result<()> {
    send(stream, ServerMsg::Error(msg)).await?;
    stream.shutdown().await?;
    Ok(())
}

type Decoder = FrameDecoder<1024>;

/// Reads the next whole client frame; `None` at a clean EOF.
async fn next_frame(
    stream: &mut impl Io,
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

/// Where a native session stands.
struct Session<S> {
    stream: S,
    peer: SocketAddr,
    svc: Arc<ExecService>,
    authed: bool,
    /// The challenge sent, until a proof for it arrives.
    nonce: Option<String>,
    /// The TLS session's exported keying material the proof must be bound
    /// to (empty on a plain connection).
    binding: Vec<u8>,
}

pub(super) async fn serve(
    mut stream: impl Io,
    peer: SocketAddr,
    svc: Arc<ExecService>,
    mut pending: Vec<u8>,
    binding: Vec<u8>,
) -> anyhow::Result<()> {
    if !svc.allowed(peer.ip()) {
        warn!(%peer, "exec: refused: address not in --exec-allow");
        svc.refused("exec", "not_allowed");
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
    let authed = matches!(svc.auth, Auth::Insecure);
    let mut s = Session {
        stream,
        peer,
        svc,
        authed,
        nonce: None,
        binding,
    };
    loop {
        let (header, body) = match next_frame(&mut s.stream, &mut dec, &mut pending).await {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(()),
            Err(e) => return refuse_native(&mut s.stream, &e.to_string()).await,
        };
        let msg = match ClientMsg::parse(&header, MAX_NATIVE_COMMAND as u64) {
            Ok(m) => m,
            Err(e) => {
                return refuse_native(&mut s.stream, &format!("bad request: {e}")).await;
            }
        };
        if !s.on_message(msg, &body).await? {
            return Ok(());
        }
    }
}

impl<S: Io> Session<S> {
    /// Handles one client message; false when the connection must end
    /// (after a refusal was sent).
    async fn on_message(&mut self, msg: ClientMsg<'_>, body: &[u8]) -> anyhow::Result<bool> {
        let peer = self.peer;
        match msg {
            ClientMsg::Hello => match &self.svc.auth {
                Auth::Insecure => send(&mut self.stream, ServerMsg::Ready).await?,
                Auth::Token(_) => {
                    let log = &mut |l: String| warn!("exec: {l}");
                    let now = Instant::now();
                    if let Verdict::Refuse { retry_after } =
                        self.svc.throttle.check(peer.ip(), now, log)
                    {
                        self.svc.refused("exec", "rate_limited");
                        // Counted, not logged: the summary says how many.
                        let msg = format!(
                            "too many failed logins from your address; try again in {} s",
                            retry_after.as_secs() + 1
                        );
                        refuse_native(&mut self.stream, &msg).await?;
                        return Ok(false);
                    }
                    let mut random = [0u8; auth::NONCE_LEN];
                    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("{e}"))?;
                    let n = String::from_utf8_lossy(&auth::nonce_hex(&random)).into_owned();
                    send(&mut self.stream, ServerMsg::Challenge(&n)).await?;
                    self.nonce = Some(n);
                }
            },
            ClientMsg::Auth(proof) => {
                let ok = match (&self.svc.auth, self.nonce.take()) {
                    (Auth::Insecure, _) => true,
                    (Auth::Token(t), Some(n)) => auth::verify(t, &n, &self.binding, proof),
                    (Auth::Token(_), None) => false,
                };
                if !ok {
                    let log = &mut |l: String| warn!("exec: {l}");
                    self.svc.throttle.failed(peer.ip(), Instant::now(), log);
                    self.svc.auth_failed("exec");
                    refuse_native(&mut self.stream, "authentication failed: wrong token").await?;
                    return Ok(false);
                }
                self.authed = true;
                self.svc.throttle.succeeded(peer.ip());
                send(&mut self.stream, ServerMsg::Ready).await?;
            }
            ClientMsg::Exec(_) if !self.authed => {
                warn!(%peer, "exec: refused: not authenticated");
                let msg = "authentication required: this server needs a token (--token-file)";
                refuse_native(&mut self.stream, msg).await?;
                return Ok(false);
            }
            ClientMsg::Exec(_) => native_exec(&mut self.stream, peer, &self.svc, body).await?,
        }
        Ok(true)
    }
}

async fn native_exec(
    stream: &mut impl Io,
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
    let outcome = svc.run(cmd, permit, &mut FrameSink { stream }).await;
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
        Err(RunError::Shutdown) => {
            refuse_native(stream, SHUTDOWN).await?;
            bail!("{SHUTDOWN}")
        }
    }
}
