//! [`Launch`]: what a service's start function gets. It binds sockets
//! (printing the `listening SERVICE PROTO ADDR` line the tests and scripts
//! read), spawns the service's tasks so shutdown can wait for them, and
//! gives access to the serve options and the shutdown signal.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::systemd::Activation;
use super::Args;
use crate::metrics::Metrics;
use crate::tls::server::ServerTls;

/// Shared state of one `wirekit serve` run, handed to every service's
/// start function.
#[derive(Debug, Clone)]
pub struct Launch {
    pub(super) args: Arc<Args>,
    pub(super) shutdown: CancellationToken,
    pub(super) tracker: TaskTracker,
    /// Permits for open TCP connections, shared by all TCP services so the
    /// limit bounds the whole process.
    pub(super) conn_limit: Arc<Semaphore>,
    /// The TLS acceptor of this run, if any listener is `+tls`.
    pub(super) tls: Option<ServerTls>,
    /// Whether the listener being started is `+tls` (set per listener by
    /// [`Launch::for_listener`]).
    pub(super) tls_here: bool,
    /// What this run counts (`--metrics`).
    pub(super) metrics: Metrics,
    /// Whether per-byte and per-datagram counting is on (only when
    /// something reads the metrics: it costs an atomic add per I/O).
    pub(super) metrics_on: bool,
    /// Sockets passed by systemd, taken by the binds that match them.
    pub(super) activation: Arc<Mutex<Activation>>,
    /// Listeners and recent connection events (`--web`).
    pub(super) events: super::events::Events,
    /// `listening` lines held back until every listener is bound (`None`
    /// once [`Launch::flush_announcements`] ran): a bind that fails after
    /// others succeeded must not leave lines claiming those are up.
    held: Arc<Mutex<Option<Vec<String>>>>,
}

impl Launch {
    pub(super) fn new(args: Args, tls: Option<ServerTls>, activation: Activation) -> Self {
        let limit = args.conn.max_connections;
        // The web console shows byte rates from the same counters.
        let metrics_on = args.metrics.is_some() || args.web.web.is_some();
        Launch {
            args: Arc::new(args),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            conn_limit: Arc::new(Semaphore::new(limit)),
            tls,
            tls_here: false,
            metrics_on,
            metrics: Metrics::new(),
            activation: Arc::new(Mutex::new(activation)),
            events: super::events::Events::new(),
            held: Arc::new(Mutex::new(Some(Vec::new()))),
        }
    }

    /// This launch as seen by one listener's start function: TLS or not.
    pub(super) fn for_listener(&self, tls: bool) -> Launch {
        Launch {
            tls_here: tls,
            ..self.clone()
        }
    }

    /// Serves `GET /metrics` on `addr` until shutdown (`--metrics`).
    pub(super) async fn serve_metrics(&self, addr: SocketAddr) -> anyhow::Result<()> {
        use anyhow::Context as _;
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen for metrics on {addr}"))?;
        let here = Launch {
            tls_here: false,
            ..self.clone()
        };
        here.announce("metrics", "http", l.local_addr()?);
        let (m, stop) = (self.metrics.clone(), self.shutdown.clone());
        self.spawn(async move {
            if let Err(e) = crate::metrics::http::serve(l, m, stop).await {
                tracing::warn!(error = %e, "metrics endpoint failed");
            }
        });
        Ok(())
    }

    /// Serves the web console on `addr` until shutdown (`--web`).
    pub(super) async fn serve_web(
        &self,
        console: crate::web::Console,
        addr: SocketAddr,
    ) -> anyhow::Result<()> {
        use anyhow::Context as _;
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen for the web console on {addr}"))?;
        let here = Launch {
            tls_here: false,
            ..self.clone()
        };
        here.announce("web", "http", l.local_addr()?);
        let stop = self.shutdown.clone();
        self.spawn(async move {
            if let Err(e) = console.serve(l, stop).await {
                tracing::warn!(error = %e, "web console failed");
            }
        });
        Ok(())
    }

    /// Listeners and recent connection events, for the web console.
    pub fn events(&self) -> &super::events::Events {
        &self.events
    }

    /// The run's metrics, for services that count their own events.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// All `wirekit serve` options, including per-service groups.
    pub fn args(&self) -> &Args {
        &self.args
    }

    /// Cancelled when the server starts shutting down.
    pub fn shutdown(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Spawns a task that shutdown waits for (up to the grace period). The
    /// task must return soon after [`Launch::shutdown`] is cancelled.
    pub fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(fut);
    }

    /// Idle timeout for TCP connections; `None` when disabled.
    pub fn idle_timeout(&self) -> Option<Duration> {
        let secs = self.args.conn.idle_timeout;
        (secs > 0.0).then(|| Duration::from_secs_f64(secs))
    }

    /// Records the `listening SERVICE PROTO ADDR` line: held until every
    /// listener is bound ([`Launch::flush_announcements`]), printed at once
    /// after that.
    pub(super) fn announce(&self, service: &str, proto: &str, addr: SocketAddr) {
        // A TLS listener says so, so scripts and clients can tell them apart.
        let proto = if proto == "tcp" && self.tls_here {
            "tls"
        } else {
            proto
        };
        let line = format!("listening {service} {proto} {addr}");
        match self.held.lock().as_deref_mut() {
            Ok(Some(held)) => held.push(line),
            _ => print_line(&line),
        }
        self.events.listener(service, proto, addr);
        tracing::info!(service, proto, %addr, "listening");
    }

    /// Prints the held `listening` lines, once every listener is bound;
    /// later announcements print at once.
    pub(super) fn flush_announcements(&self) {
        let held = self.held.lock().ok().and_then(|mut h| h.take());
        for line in held.unwrap_or_default() {
            print_line(&line);
        }
    }
}

/// Prints one line, flushed at once so a parent process reading our
/// stdout through a pipe sees it.
fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
