//! The exec listeners' driver: one tokio loop per connection moves bytes
//! between the socket, the command and the core's
//! [`ExecServer`] session, which holds the whole conversation of every
//! dialect (see `wirekit_core::session::exec`):
//!
//! - `exec`: the first read decides: native frames, or a seed client's
//!   bare command text answered in the seeds' JSON-header framing.
//! - `exec-len`: bare command text, answered with a 4-byte length + output.
//! - `exec-ack`: bare command text, answered with the size as text, then,
//!   after the client's ack, the output.
//!
//! This module keeps what needs the host: the socket, the throttle and
//! the randomness of challenges, the concurrency slots, running the
//! command ([`command`]) and the seed dialects' output spool ([`spool`]).

use std::net::SocketAddr;
use std::sync::Arc;

mod command;
pub mod spool;

use anyhow::anyhow;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tracing::warn;
use wirekit_core::session::exec::{Config, Event, ExecServer, DEFAULT_OUTBOX};

pub use wirekit_core::session::exec::Flavor;

use super::{Auth, ExecService};
use spool::Spool;

/// A connection's byte stream (a `TcpStream`, or the serve framework's
/// activity-tracking wrapper around one).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Bytes read from the socket at once: a seed client's command is one
/// read, so this also bounds what one command read can be.
const READ: usize = 8192;

/// One connection: the session, the socket, and the seed dialects' held
/// output while it is being sent.
struct Driver<'a, S> {
    session: Box<ExecServer<'a>>,
    stream: S,
    /// Reads land here, and it is lent to [`ExecServer::poll_output`]
    /// (one native output frame fits): the two never overlap.
    buf: Vec<u8>,
    peer: SocketAddr,
    svc: &'a ExecService,
    /// The seed-dialect output being sent, and how much of it is left.
    held: Option<(Spool, u64)>,
}

/// Serves one connection until the client closes it or breaks the rules.
/// `binding` is the TLS channel binding (see
/// `wirekit_core::service::exec::auth`), empty on a plain connection.
pub async fn handle(
    flavor: Flavor,
    stream: impl Io,
    peer: SocketAddr,
    svc: Arc<ExecService>,
    binding: Vec<u8>,
) -> anyhow::Result<()> {
    let token = match &svc.auth {
        Auth::Token(t) => Some(&t[..]),
        Auth::Insecure => None,
    };
    let cfg = Config {
        flavor,
        token,
        binding: &binding,
        allowed: svc.allowed(peer.ip()),
    };
    let mut d = Driver {
        session: Box::new(ExecServer::new(cfg)),
        stream,
        buf: vec![0u8; DEFAULT_OUTBOX.max(READ)],
        peer,
        svc: &svc,
        held: None,
    };
    d.serve().await
}

/// Writes everything the session has to send.
async fn flush(
    session: &mut ExecServer<'_>,
    stream: &mut impl Io,
    out: &mut [u8],
) -> std::io::Result<()> {
    loop {
        let n = session.poll_output(out);
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&out[..n]).await?;
    }
}

/// An event without its borrow of the input, and the command it names.
fn detach(e: Event<'_>) -> (Event<'static>, Option<Vec<u8>>) {
    match e {
        Event::Run { command } => (Event::Run { command: &[] }, Some(command.to_vec())),
        Event::Foreign(f) => (Event::Foreign(f), None),
        Event::NotAllowed => (Event::NotAllowed, None),
        Event::NeedChallenge => (Event::NeedChallenge, None),
        Event::AuthFailed => (Event::AuthFailed, None),
        Event::Authenticated => (Event::Authenticated, None),
        Event::Unauthenticated => (Event::Unauthenticated, None),
        Event::Refused => (Event::Refused, None),
    }
}

impl<S: Io> Driver<'_, S> {
    /// The loop: send what the session says, feed it held output, give it
    /// input, act on its events; read only when it waits for the client.
    async fn serve(&mut self) -> anyhow::Result<()> {
        let mut pending = Vec::new();
        loop {
            self.flush().await?;
            if self.session.wants_close() {
                // Whatever the client still sends is not read.
                let _ = self.stream.shutdown().await;
                return Ok(());
            }
            if self.session.output_wanted() > 0 {
                self.feed_held().await?;
                continue;
            }
            if !pending.is_empty() {
                let (used, ev) = self.session.handle_input(&pending);
                let ev = ev.map(detach);
                pending.drain(..used);
                if let Some((ev, cmd)) = ev {
                    self.on_event(ev, cmd).await?;
                    continue;
                }
                if used > 0 {
                    continue;
                }
            }
            let n = self.stream.read(&mut self.buf[..READ]).await?;
            if n == 0 {
                let r = self.session.handle_eof();
                self.flush().await?;
                if self.session.wants_close() {
                    let _ = self.stream.shutdown().await;
                }
                return r.map_err(|e| anyhow!("{e}"));
            }
            pending.extend_from_slice(&self.buf[..n]);
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        flush(&mut self.session, &mut self.stream, &mut self.buf).await
    }

    /// Hands the session the next piece of a seed reply's held output.
    async fn feed_held(&mut self) -> anyhow::Result<()> {
        let want = self.session.output_wanted();
        let (spool, left) = self
            .held
            .as_mut()
            .ok_or_else(|| anyhow!("the session asks for output nobody holds"))?;
        let n = spool
            .read(&mut self.buf[..want.min(DEFAULT_OUTBOX)])
            .await?;
        if n == 0 {
            anyhow::bail!("held output ended before its announced size");
        }
        let took = self
            .session
            .handle_child_output(wirekit_core::session::exec::Stream::Stdout, &self.buf[..n])?;
        // `want` bytes were asked for, so all of them were taken.
        debug_assert_eq!(took, n);
        *left -= n as u64;
        if *left == 0 {
            // Sent: release its share of the spool budget now.
            self.held = None;
        }
        Ok(())
    }

    /// Acts on what the session reported.
    async fn on_event(&mut self, ev: Event<'_>, cmd: Option<Vec<u8>>) -> anyhow::Result<()> {
        let peer = self.peer;
        match ev {
            Event::Foreign(what) => {
                // One line per connection, since the connection ends here.
                warn!(%peer, "exec: refused {what}: not command text; connection closed, nothing run");
                self.svc.refused("exec", "foreign_protocol");
            }
            Event::NotAllowed => {
                warn!(%peer, "exec: refused: address not in --exec-allow");
                self.svc.refused("exec", "not_allowed");
            }
            Event::NeedChallenge => self.challenge()?,
            Event::AuthFailed => {
                let log = &mut |l: String| warn!("exec: {l}");
                self.svc
                    .throttle
                    .failed(peer.ip(), std::time::Instant::now(), log);
                self.svc.auth_failed("exec");
            }
            Event::Authenticated => self.svc.throttle.succeeded(peer.ip()),
            Event::Unauthenticated if self.session.is_native() => {
                warn!(%peer, "exec: refused: not authenticated");
            }
            Event::Unauthenticated => {
                warn!(%peer, "exec: refused: seed dialect cannot authenticate");
            }
            Event::Refused => {}
            Event::Run { .. } => self.run(&cmd.unwrap_or_default()).await?,
        }
        Ok(())
    }

    /// Challenges the client, unless its address failed too often.
    fn challenge(&mut self) -> anyhow::Result<()> {
        let log = &mut |l: String| warn!("exec: {l}");
        let now = std::time::Instant::now();
        if let crate::runtime::throttle::Verdict::Refuse { retry_after } =
            self.svc.throttle.check(self.peer.ip(), now, log)
        {
            self.svc.refused("exec", "rate_limited");
            // Counted, not logged: the summary says how many.
            let msg = format!(
                "too many failed logins from your address; try again in {} s",
                retry_after.as_secs() + 1
            );
            return Ok(self.session.refuse(&msg)?);
        }
        let mut random = [0u8; wirekit_core::service::exec::auth::NONCE_LEN];
        getrandom::fill(&mut random).map_err(|e| anyhow!("{e}"))?;
        Ok(self.session.challenge(&random)?)
    }
}
