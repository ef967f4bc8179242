//! [`Launch`]: what a service's start function gets. It binds sockets
//! (printing the `listening SERVICE PROTO ADDR` line the tests and scripts
//! read), spawns the service's tasks so shutdown can wait for them, and
//! gives access to the runtime's options and the shutdown signal.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::systemd::Activation;
use super::RuntimeOpts;
use crate::metrics::Metrics;
use crate::tls::server::ServerTls;

/// Shared state of one `wirekit serve` run, handed to every service's
/// start function.
#[derive(Debug, Clone)]
pub struct Launch {
    pub(super) opts: Arc<RuntimeOpts>,
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
    /// A run with these options; `tls` is the acceptor of `+tls` listeners.
    pub fn new(opts: RuntimeOpts, tls: Option<ServerTls>, activation: Activation) -> Self {
        let limit = opts.conn.max_connections;
        let metrics_on = opts.count_io;
        Launch {
            opts: Arc::new(opts),
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
    pub fn for_listener(&self, tls: bool) -> Launch {
        Launch {
            tls_here: tls,
            ..self.clone()
        }
    }

    /// Listeners and recent connection events, for the web console.
    pub fn events(&self) -> &super::events::Events {
        &self.events
    }

    /// The run's metrics, for services that count their own events.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The runtime's options (limits, UDP budgets).
    pub fn opts(&self) -> &RuntimeOpts {
        &self.opts
    }

    /// Starts shutting down: no new connections, every task told; then
    /// waits up to `grace` for them. `false` if some were still running.
    pub async fn stop(&self, grace: Duration) -> bool {
        self.shutdown.cancel();
        self.tracker.close();
        tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
    }

    /// Tasks still running (after [`Launch::stop`] gave up on them).
    pub fn tasks_left(&self) -> usize {
        self.tracker.len()
    }

    /// Announces an HTTP endpoint (`listening NAME http ADDR`) bound by
    /// the caller, never as TLS.
    pub fn announce_http(&self, name: &str, addr: SocketAddr) {
        Launch {
            tls_here: false,
            ..self.clone()
        }
        .announce(name, "http", addr);
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
        let secs = self.opts.conn.idle_timeout;
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
    pub fn flush_announcements(&self) {
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
