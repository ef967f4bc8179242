//! `wirekit serve`: runs the services named by `--listen` (or the default
//! set) until Ctrl-C or SIGTERM, then shuts down gracefully.
//!
//! Extension points:
//! - a service: a module with a `start(&Launch, &Shared, SocketAddr)` function and
//!   one entry in [`crate::services::SERVICES`];
//! - a serve option: a field (or a `#[command(flatten)]` group) on
//!   [`Args`], handed to the services in [`crate::services::Shared`] (the
//!   runtime gets only its own options, [`RuntimeOpts`]);
//! - TCP services use [`Launch::tcp`] (the shared accept loop), datagram
//!   services [`Launch::udp`].

pub mod exposure;
pub mod metrics_http;
pub mod registry;

use std::net::SocketAddr;
use std::time::Duration;

use tracing::{info, warn};

use crate::runtime::{fdlimit, systemd, udp_budget, ConnOpts, RuntimeOpts};
pub use crate::runtime::{Conn, ConnCtx, Launch};

/// Options of `wirekit serve`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = crate::services::SERVICES_HELP)]
pub struct Args {
    /// Run SERVICE on ADDR (repeatable), e.g. `echo=127.0.0.1:8080` or
    /// `time=[::1]:0`; port 0 picks a free port (the `listening` line shows
    /// it). `SERVICE` alone uses its default address. Without --listen the
    /// default set runs on 127.0.0.1 (see the list below).
    #[arg(long, value_name = "SERVICE=ADDR", value_parser = registry::parse_listen)]
    pub listen: Vec<ListenSpec>,

    /// Limits shared by all TCP services.
    #[command(flatten)]
    pub conn: ConnOpts,

    /// Options of the exec services.
    #[command(flatten, next_help_heading = "Exec services")]
    pub exec: crate::services::exec::ExecArgs,

    /// Chat service options.
    #[command(flatten, next_help_heading = "Chat")]
    pub chat: crate::services::chat::ChatOpts,

    /// Worker threads for the async runtime (0 = one per CPU core).
    #[arg(long, value_name = "N", default_value_t = 0, help_heading = "Runtime")]
    pub threads: usize,

    /// File transfer (`files`, `files-ack`) options.
    #[command(flatten, next_help_heading = "File transfer")]
    pub files: crate::services::files::FilesConfig,

    /// TLS for `--listen SERVICE+tls=ADDR` listeners.
    #[command(flatten, next_help_heading = "TLS")]
    pub tls: crate::tls::server::TlsServerOpts,

    /// Allow exec listeners, and files listeners that take uploads
    /// (--files-token-file, --files-writable), on non-loopback addresses
    /// without TLS (each then warns at start): commands, their output and
    /// the files cross the network in clear text.
    #[arg(long, help_heading = "TLS")]
    pub plaintext: bool,

    /// Serve Prometheus metrics (`GET /metrics`) on ADDR, e.g.
    /// 127.0.0.1:9100.
    #[arg(long, value_name = "ADDR", help_heading = "Monitoring")]
    pub metrics: Option<SocketAddr>,

    /// The web console (`--web ADDR`, its token).
    #[command(flatten, next_help_heading = "Monitoring")]
    pub web: crate::web::WebOpts,

    /// Read options from a TOML file: its keys are these long option names
    /// (`max-connections = 100`, `listen = ["echo=127.0.0.1:8080"]`);
    /// options on the command line win. Example: contrib/wirekit.toml.
    #[arg(long, value_name = "FILE", help_heading = "Configuration")]
    pub config: Option<std::path::PathBuf>,

    /// Print the effective configuration (defaults, the file, the command
    /// line) in --config's format, and exit.
    #[arg(long, help_heading = "Configuration")]
    pub print_config: bool,
    /// Per-source limits of the UDP services (last: its help heading would
    /// otherwise carry over to the options after it).
    #[command(flatten)]
    pub udp: udp_budget::UdpOpts,
}

pub use crate::runtime::parse_size;

/// One `--listen SERVICE[+tls]=ADDR`.
#[derive(Debug, Clone)]
pub struct ListenSpec {
    /// The registry entry.
    pub service: &'static crate::services::Service,
    /// Where to bind.
    pub addr: SocketAddr,
    /// Served over TLS (`SERVICE+tls`).
    pub tls: bool,
}

/// Runs `wirekit serve` to completion.
pub fn run(args: Args) -> anyhow::Result<()> {
    // Before any other thread exists (it edits the environment) and before
    // anything opens descriptors of its own.
    let activation = systemd::Activation::from_env()?;
    let nofile = fdlimit::raise_soft_limit();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if args.threads > 0 {
        builder.worker_threads(args.threads);
    }
    let rt = builder.enable_all().build()?;
    let grace = Duration::from_secs_f64(args.conn.shutdown_grace);
    let result = rt.block_on(serve(args, grace, nofile, activation));
    // Connections that outlived the grace period are dropped here.
    rt.shutdown_timeout(Duration::from_millis(200));
    result
}

async fn serve(
    mut args: Args,
    grace: Duration,
    nofile: Option<u64>,
    activation: systemd::Activation,
) -> anyhow::Result<()> {
    let specs = if !args.listen.is_empty() {
        args.listen.clone()
    } else if activation.is_active() {
        registry::from_activation(&activation.list()?)?
    } else {
        registry::default_set()?
    };
    let max = &mut args.conn.max_connections;
    *max = fdlimit::fit_max_connections(*max, nofile, specs.len());
    exposure::check(&specs, &args)?;
    let tls = match specs.iter().any(|s| s.tls) {
        true => Some(crate::tls::server::ServerTls::new(&args.tls)?),
        false => None,
    };
    if let Some(t) = &tls {
        println!("tls-fingerprint {}", t.fingerprint());
    }
    // Register the handlers before any `listening` line is printed: a
    // signal that arrives once a client can see the server must take the
    // graceful path, not the default action that kills the process.
    let mut signals = Signals::register()?;
    let metrics_addr = args.metrics;
    let web_addr = args.web.web;
    let runtime = RuntimeOpts {
        conn: args.conn.clone(),
        udp: args.udp.clone(),
        // The web console shows byte rates from the same counters.
        count_io: metrics_addr.is_some() || web_addr.is_some(),
    };
    let launch = Launch::new(runtime, tls.clone(), activation);
    let shared = std::sync::Arc::new(crate::services::Shared::new(crate::services::Options {
        exec: args.exec.clone(),
        chat: args.chat.clone(),
        files: args.files.clone(),
    }));
    // Checked before any listener starts: a console that may not run
    // stops the whole server, before it has announced anything.
    let console = match web_addr {
        Some(addr) => Some((
            crate::web::Console::new(&launch, shared.clone(), addr, &args.web)?,
            addr,
        )),
        None => None,
    };
    for spec in &specs {
        (spec.service.start)(&launch.for_listener(spec.tls), &shared, spec.addr)?;
    }
    if let Some(addr) = metrics_addr {
        serve_metrics(&launch, addr).await?;
    }
    if let Some((console, addr)) = console {
        serve_web(&launch, console, addr).await?;
    }
    // Everything is bound: only now may the `listening` lines claim so.
    launch.flush_announcements();
    systemd::notify_ready();
    while signals.wait().await == Stop::Reload {
        reload(tls.as_ref());
    }
    info!("shutting down");
    systemd::notify_stopping();
    if !launch.stop(grace).await {
        warn!(
            tasks = launch.tasks_left(),
            "shutdown grace period over; closing the rest"
        );
    }
    Ok(())
}

/// Serves `GET /metrics` on `addr` until shutdown (`--metrics`).
async fn serve_metrics(launch: &Launch, addr: SocketAddr) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let l = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for metrics on {addr}"))?;
    launch.announce_http("metrics", l.local_addr()?);
    let (m, stop) = (launch.metrics().clone(), launch.shutdown());
    launch.spawn(async move {
        if let Err(e) = metrics_http::serve(l, m, stop).await {
            tracing::warn!(error = %e, "metrics endpoint failed");
        }
    });
    Ok(())
}

/// Serves the web console on `addr` until shutdown (`--web`).
async fn serve_web(
    launch: &Launch,
    console: crate::web::Console,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let l = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for the web console on {addr}"))?;
    launch.announce_http("web", l.local_addr()?);
    let stop = launch.shutdown();
    launch.spawn(async move {
        if let Err(e) = console.serve(l, stop).await {
            tracing::warn!(error = %e, "web console failed");
        }
    });
    Ok(())
}

/// SIGHUP: reload the TLS certificate; open connections keep theirs.
fn reload(tls: Option<&crate::tls::server::ServerTls>) {
    let Some(tls) = tls else {
        info!("SIGHUP: nothing to reload");
        return;
    };
    match tls.reload() {
        Ok(fp) => {
            println!("tls-fingerprint {fp}");
            warn!(fingerprint = %fp, "SIGHUP: TLS certificate reloaded");
        }
        Err(e) => {
            warn!(error = %format!("{e:#}"), "SIGHUP: TLS reload failed; keeping the old certificate")
        }
    }
}

/// What a signal asks for.
#[derive(Debug, PartialEq, Eq)]
enum Stop {
    Shutdown,
    Reload,
}

/// SIGINT (Ctrl-C), SIGTERM and SIGHUP, registered up front.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn register() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn wait(&mut self) -> Stop {
        tokio::select! {
            _ = self.int.recv() => Stop::Shutdown,
            _ = self.term.recv() => Stop::Shutdown,
            _ = self.hup.recv() => Stop::Reload,
        }
    }
}
