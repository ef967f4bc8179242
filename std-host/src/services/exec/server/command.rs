//! Running a command for the session: a slot under
//! `--exec-max-concurrent`, then the command; native output goes through
//! the session to the client as it comes, seed-dialect output into a
//! [`Spool`] until the exit, when the session announces its size.

use anyhow::bail;
use tokio::io::AsyncWriteExt as _;
use tracing::{info, warn};
use wirekit_core::session::exec::{ExecServer, Held, Stream};

use super::{flush, Driver, Io, Spool};
use crate::services::exec::run::{RunError, Sink};

/// What a client whose command was killed by a server shutdown reads.
const SHUTDOWN: &str = "server shutting down: command killed";

/// Native output: each chunk through the session, then to the client.
struct SessionSink<'d, 'a, S> {
    session: &'d mut ExecServer<'a>,
    stream: &'d mut S,
    out: &'d mut [u8],
}

impl<S: Io> Sink for SessionSink<'_, '_, S> {
    async fn chunk(&mut self, stream: Stream, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let n = self
                .session
                .handle_child_output(stream, data)
                .map_err(std::io::Error::other)?;
            data = &data[n..];
            flush(&mut *self.session, &mut *self.stream, &mut *self.out).await?;
        }
        Ok(())
    }
}

impl<S: Io> Driver<'_, S> {
    /// Runs the command the session asked for, or tells it why not.
    pub(super) async fn run(&mut self, cmd: &[u8]) -> anyhow::Result<()> {
        let permit = match self.svc.slot() {
            Ok(p) => p,
            Err(msg) => {
                warn!(peer = %self.peer, "exec: {msg}");
                return Ok(self.session.refuse_command(&msg)?);
            }
        };
        info!(peer = %self.peer, cmd = %String::from_utf8_lossy(cmd), "exec: running");
        if self.session.is_native() {
            return self.run_native(cmd, permit).await;
        }
        let mut spool = Spool::new(&self.svc.spool);
        match self.svc.run(cmd, permit, &mut spool).await {
            Ok(o) => {
                let held = Held {
                    len: spool.len(),
                    md5: spool.md5().await?,
                };
                spool.rewind().await?;
                self.session
                    .handle_child_exit(o.ending, o.truncated, held)?;
                self.held = Some((spool, held.len));
            }
            // Told, and the connection closes after the reply.
            Err(RunError::Shutdown) => self.session.refuse(SHUTDOWN)?,
            Err(RunError::Spawn(e) | RunError::Sink(e)) => self
                .session
                .refuse_command(&format!("cannot run the command: {e}"))?,
        }
        Ok(())
    }

    async fn run_native(
        &mut self,
        cmd: &[u8],
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> anyhow::Result<()> {
        let mut sink = SessionSink {
            session: &mut self.session,
            stream: &mut self.stream,
            out: &mut self.buf,
        };
        match self.svc.run(cmd, permit, &mut sink).await {
            Ok(o) => {
                let h = Held::NONE;
                Ok(self.session.handle_child_exit(o.ending, o.truncated, h)?)
            }
            Err(RunError::Spawn(e)) => Ok(self
                .session
                .refuse_command(&format!("cannot run the command: {e}"))?),
            Err(RunError::Sink(e)) => bail!("client gone mid-output: {e}"),
            Err(RunError::Shutdown) => {
                self.session.refuse(SHUTDOWN)?;
                self.flush().await?;
                self.stream.shutdown().await?;
                bail!("{SHUTDOWN}")
            }
        }
    }
}
