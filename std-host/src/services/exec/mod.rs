//! The `exec` services (remote command execution, issue 4): `wirekit serve
//! --listen exec=ADDR` (native protocol and the seeds' JSON-header dialect
//! on one port), `exec-len` and `exec-ack`. Their clients, `wirekit exec`
//! and `wirekit shell`, are [`crate::client::exec`].
//!
//! The conversations are the core's sans-I/O sessions
//! ([`wirekit_core::session::exec`]: `ExecServer`, `ExecClient`); this
//! module holds the policy (who may run what, for how long), runs commands
//! ([`run`]), and drives the sessions: one tokio loop per server
//! connection ([`server`]).

pub mod run;
pub mod server;
pub mod service;
pub mod supervise;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use ipnet::IpNet;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use wirekit_core::service::exec::{auth, DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT_SECS};

use crate::runtime::throttle::{Policy, Throttle};
use server::spool::{SpoolBudget, DEFAULT_MEM_TOTAL};

/// The `wirekit serve` options of the exec services.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecArgs {
    /// Require clients to prove this shared token (HMAC-SHA256
    /// challenge-response; at least 16 bytes). Only the native protocol
    /// (`wirekit exec`) can authenticate.
    #[arg(long, value_name = "PATH")]
    pub exec_token_file: Option<PathBuf>,

    /// Run commands for anyone, without authentication, as the seeds do.
    /// Refused unless every exec listener is on a loopback address.
    #[arg(long, conflicts_with = "exec_token_file")]
    pub exec_insecure: bool,

    /// Only accept exec clients from this network (repeatable), e.g.
    /// 127.0.0.0/8; others are refused. Default: everyone.
    #[arg(long, value_name = "CIDR")]
    pub exec_allow: Vec<IpNet>,

    /// Per-command timeout in seconds; the command's whole process group
    /// is killed when it expires.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_TIMEOUT_SECS)]
    pub exec_timeout: u64,

    /// Per-command output cap (stdout and stderr together; bytes, or with
    /// K/M/G/T: 16M); the rest is cut with a marker and the command killed.
    #[arg(long, value_name = "SIZE", default_value_t = DEFAULT_MAX_OUTPUT,
          value_parser = crate::runtime::parse_size)]
    pub exec_max_output: u64,

    /// Commands running at once, over all exec connections; more are
    /// refused with an error.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub exec_max_concurrent: usize,

    /// Output of seed-dialect commands waiting for slow clients, over all
    /// connections, kept in temporary files (their first 64 KiB per
    /// stream are in memory, 32 MiB in all). A command whose output would
    /// pass it is stopped and its client told to try again later (bytes,
    /// or with K/M/G/T: 256M).
    #[arg(long, value_name = "SIZE", default_value_t = 256 * 1024 * 1024,
          value_parser = crate::runtime::parse_size)]
    pub exec_spool_max: u64,
}

/// How clients must identify themselves.
#[derive(Clone)]
pub enum Auth {
    /// Prove the token (challenge-response).
    Token(Arc<[u8]>),
    /// Nobody is asked (loopback only).
    Insecure,
}

/// Shared state of all exec listeners of one `wirekit serve`.
pub struct ExecService {
    /// How clients authenticate.
    pub auth: Auth,
    allow: Vec<IpNet>,
    /// Per-command timeout.
    pub timeout: Duration,
    /// Per-command output cap.
    pub max_output: u64,
    max_concurrent: usize,
    running: Arc<Semaphore>,
    launcher: run::Launcher,
    /// Unsent seed-dialect output, over all connections.
    pub spool: Arc<SpoolBudget>,
    /// Failed proofs per source address (issue 13: brute force).
    pub throttle: Throttle,
    /// Cancelled when the server shuts down: running commands are killed.
    shutdown: CancellationToken,
    /// Commands by outcome and failed logins (`--metrics`).
    metrics: Option<crate::metrics::Metrics>,
}

impl ExecService {
    /// Checks the options and reads the token file.
    pub fn new(args: &ExecArgs) -> anyhow::Result<ExecService> {
        let auth = match (&args.exec_token_file, args.exec_insecure) {
            (Some(path), _) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("reading --exec-token-file {}", path.display()))?;
                let token = auth::token_from_file(&bytes)
                    .map_err(|e| anyhow::anyhow!("--exec-token-file {}: {e}", path.display()))?;
                Auth::Token(token.into())
            }
            (None, true) => Auth::Insecure,
            (None, false) => bail!(
                "the exec services run commands for their clients: give --exec-token-file PATH, or --exec-insecure to serve unauthenticated on loopback only"
            ),
        };
        if args.exec_max_output == 0 || args.exec_max_output > i32::MAX as u64 {
            bail!("--exec-max-output must be between 1 and {} bytes", i32::MAX);
        }
        if args.exec_timeout == 0 || args.exec_max_concurrent == 0 {
            bail!("--exec-timeout and --exec-max-concurrent must be at least 1");
        }
        Ok(ExecService {
            auth,
            allow: args.exec_allow.clone(),
            timeout: Duration::from_secs(args.exec_timeout),
            max_output: args.exec_max_output,
            max_concurrent: args.exec_max_concurrent,
            running: Arc::new(Semaphore::new(args.exec_max_concurrent)),
            launcher: run::Launcher::Direct,
            throttle: Throttle::new(Policy::default()),
            spool: Arc::new(SpoolBudget::new(DEFAULT_MEM_TOTAL, args.exec_spool_max)),
            shutdown: CancellationToken::new(),
            metrics: None,
        })
    }

    /// Counts commands and failed logins in `metrics`.
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Counts a connection refused before any command (`not_allowed`,
    /// `rate_limited`).
    pub fn refused(&self, service: &str, reason: &str) {
        if let Some(m) = &self.metrics {
            m.refused(service, reason);
        }
    }

    /// Counts a failed proof from a client of `service`.
    pub fn auth_failed(&self, service: &str) {
        if let Some(m) = &self.metrics {
            m.auth_failure(service);
        }
    }

    /// Kills running commands (and refuses new ones) once `token` is
    /// cancelled.
    pub fn with_shutdown(mut self, token: CancellationToken) -> Self {
        self.shutdown = token;
        self
    }

    /// Runs every command under `program exec-supervise` (the `wirekit`
    /// binary), so that nothing a command starts outlives it.
    pub fn with_supervisor(mut self, program: impl Into<PathBuf>) -> Self {
        self.launcher = run::Launcher::Supervised(program.into());
        self
    }

    /// Runs one command under this service's limits (see [`run::run`]).
    /// Dropping the run future at shutdown kills the process group.
    /// `slot` (from [`ExecService::slot`]) is released when the command
    /// ends, even if the client is still being written to.
    pub async fn run(
        &self,
        cmd: &[u8],
        slot: OwnedSemaphorePermit,
        sink: &mut impl run::Sink,
    ) -> Result<run::Outcome, run::RunError> {
        let (timeout, cap) = (self.timeout, self.max_output);
        let r = tokio::select! {
            r = run::run(cmd, timeout, cap, &self.launcher, slot, sink) => r,
            () = self.shutdown.cancelled() => Err(run::RunError::Shutdown),
        };
        if let Some(m) = &self.metrics {
            m.command(match &r {
                Ok(o) => match o.ending {
                    wirekit_core::service::exec::Ending::TimedOut { .. } => "timeout",
                    wirekit_core::service::exec::Ending::Capped { .. } => "killed_at_cap",
                    _ => "exit",
                },
                Err(run::RunError::Spawn(_)) => "spawn_failed",
                Err(run::RunError::Sink(_)) => "client_gone",
                Err(run::RunError::Shutdown) => "shutdown",
            });
        }
        r
    }

    /// Checks that an exec listener may bind `addr`: without a token, only
    /// loopback addresses. Call before binding.
    pub fn check_listen(&self, addr: SocketAddr) -> anyhow::Result<()> {
        if matches!(self.auth, Auth::Insecure) && !addr.ip().is_loopback() {
            bail!("--exec-insecure refuses to listen on {addr}: only loopback addresses (127.0.0.0/8, ::1) are allowed without a token");
        }
        Ok(())
    }

    /// True if `ip` may use the service (`--exec-allow`).
    pub fn allowed(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.allow.is_empty() || self.allow.iter().any(|net| net.contains(&ip))
    }

    /// A slot to run one command, or the refusal text when all are taken.
    pub fn slot(&self) -> Result<OwnedSemaphorePermit, String> {
        self.running.clone().try_acquire_owned().map_err(|_| {
            format!(
                "too many commands running (limit {}); try again later",
                self.max_concurrent
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        exec: ExecArgs,
    }

    fn args(a: &[&str]) -> ExecArgs {
        T::try_parse_from(std::iter::once("t").chain(a.iter().copied()))
            .unwrap()
            .exec
    }

    #[test]
    fn needs_a_token_or_insecure_on_loopback() {
        let lo: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
        assert!(ExecService::new(&args(&[])).is_err());
        let svc = ExecService::new(&args(&["--exec-insecure"])).unwrap();
        assert!(svc.check_listen(lo).is_ok());
        assert!(svc.check_listen("[::1]:0".parse().unwrap()).is_ok());
        let e = svc.check_listen(any).err().unwrap();
        assert!(e.to_string().contains("0.0.0.0"), "{e}");
        assert!(T::try_parse_from(["t", "--exec-insecure", "--exec-token-file", "x"]).is_err());
    }

    #[test]
    fn allow_list_matches_mapped_addresses() {
        let svc =
            ExecService::new(&args(&["--exec-insecure", "--exec-allow", "10.0.0.0/8"])).unwrap();
        assert!(!svc.allowed("127.0.0.1".parse().unwrap()));
        assert!(svc.allowed("10.1.2.3".parse().unwrap()));
        assert!(svc.allowed("::ffff:10.1.2.3".parse().unwrap()));
        let open = ExecService::new(&args(&["--exec-insecure"])).unwrap();
        assert!(open.allowed("::1".parse().unwrap()));
    }
}
