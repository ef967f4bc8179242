//! What `wirekit serve` counts, in Prometheus families (prometheus-client,
//! one explicit [`Registry`] per run, no global state). The `GET /metrics`
//! endpoint behind `--metrics ADDR` is `crate::serve::metrics_http`: the
//! runtime counts into this module, so this module uses no runtime.
//!
//! Labels name services, operations and outcomes, never a client address:
//! the number of series stays fixed however many peers come and go.
//!
//! ```
//! let m = wirekit_host::metrics::Metrics::new();
//! m.accepted("echo");
//! m.bytes_received("echo", 5);
//! let text = m.render();
//! assert!(text.contains("wirekit_connections_accepted_total{service=\"echo\"} 1"));
//! assert!(text.contains("wirekit_received_bytes_total{service=\"echo\"} 5"));
//! ```

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

/// `service`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Svc {
    /// The service name from the registry.
    pub service: String,
}

/// `service` and why a connection was refused or an error happened.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SvcReason {
    /// The service name.
    pub service: String,
    /// busy, not_allowed, rate_limited … / the error kind.
    pub reason: String,
}

/// A files operation and how it ended.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpOutcome {
    /// get, put, list, stat.
    pub op: String,
    /// ok, refused, failed, md5_mismatch, shutdown.
    pub outcome: String,
}

/// A files operation.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Op {
    /// get, put.
    pub op: String,
}

/// How an exec command ended.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// exit, timeout, killed_at_cap, refused.
    pub outcome: String,
}

/// One service's counters at one moment ([`Metrics::snapshot`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// TCP connections open now.
    pub active: i64,
    /// TCP connections accepted so far.
    pub accepted: u64,
    /// Connections refused so far (any reason).
    pub refused: u64,
    /// Bytes received so far.
    pub rx_bytes: u64,
    /// Bytes sent so far.
    pub tx_bytes: u64,
    /// UDP datagrams received so far.
    pub rx_datagrams: u64,
    /// UDP datagrams sent so far.
    pub tx_datagrams: u64,
}

/// `wirekit_build_info`'s labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Build {
    version: String,
}

fn histogram() -> Histogram {
    // 1 ms to ~65 s.
    Histogram::new(exponential_buckets(0.001, 4.0, 9))
}

/// Every family `wirekit serve` exports. Cheap to clone (handles).
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    accepted: Family<Svc, Counter>,
    active: Family<Svc, Gauge>,
    refused: Family<SvcReason, Counter>,
    rx_bytes: Family<Svc, Counter>,
    tx_bytes: Family<Svc, Counter>,
    rx_datagrams: Family<Svc, Counter>,
    tx_datagrams: Family<Svc, Counter>,
    errors: Family<SvcReason, Counter>,
    idle_timeouts: Family<Svc, Counter>,
    transfers: Family<OpOutcome, Counter>,
    transfer_bytes: Family<Op, Counter>,
    md5_mismatches: Counter,
    transfer_seconds: Family<Op, Histogram, fn() -> Histogram>,
    commands: Family<Outcome, Counter>,
    auth_failures: Family<Svc, Counter>,
    chat_members: Gauge,
    chat_messages: Counter,
    chat_dropped: Counter,
    chat_bus_rejected: Counter,
    chat_notices_skipped: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every family, all at zero.
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Arc::default(),
            accepted: Family::default(),
            active: Family::default(),
            refused: Family::default(),
            rx_bytes: Family::default(),
            tx_bytes: Family::default(),
            rx_datagrams: Family::default(),
            tx_datagrams: Family::default(),
            errors: Family::default(),
            idle_timeouts: Family::default(),
            transfers: Family::default(),
            transfer_bytes: Family::default(),
            md5_mismatches: Counter::default(),
            transfer_seconds: Family::new_with_constructor(histogram),
            commands: Family::default(),
            auth_failures: Family::default(),
            chat_members: Gauge::default(),
            chat_messages: Counter::default(),
            chat_dropped: Counter::default(),
            chat_bus_rejected: Counter::default(),
            chat_notices_skipped: Counter::default(),
        };
        let mut r = Registry::with_prefix("wirekit");
        m.register(&mut r);
        m.registry = Arc::new(r);
        m
    }

    fn register(&self, r: &mut Registry) {
        r.register(
            "connections_accepted",
            "TCP connections accepted",
            self.accepted.clone(),
        );
        r.register(
            "connections_active",
            "TCP connections open now",
            self.active.clone(),
        );
        r.register(
            "connections_refused",
            "TCP connections refused (busy, not_allowed, rate_limited)",
            self.refused.clone(),
        );
        r.register_with_unit(
            "received",
            "Bytes received",
            Unit::Bytes,
            self.rx_bytes.clone(),
        );
        r.register_with_unit("sent", "Bytes sent", Unit::Bytes, self.tx_bytes.clone());
        r.register(
            "datagrams_received",
            "UDP datagrams received",
            self.rx_datagrams.clone(),
        );
        r.register(
            "datagrams_sent",
            "UDP datagrams sent",
            self.tx_datagrams.clone(),
        );
        r.register("errors", "Errors by kind", self.errors.clone());
        r.register(
            "idle_timeouts",
            "Connections closed for idleness",
            self.idle_timeouts.clone(),
        );
        r.register(
            "files_transfers",
            "File operations by outcome",
            self.transfers.clone(),
        );
        r.register_with_unit(
            "files_transferred",
            "File data moved by get and put",
            Unit::Bytes,
            self.transfer_bytes.clone(),
        );
        r.register(
            "files_md5_mismatches",
            "Uploads whose md5 did not match",
            self.md5_mismatches.clone(),
        );
        r.register_with_unit(
            "files_transfer_duration",
            "Time a get or put took",
            Unit::Seconds,
            self.transfer_seconds.clone(),
        );
        r.register(
            "exec_commands",
            "Remote commands by outcome",
            self.commands.clone(),
        );
        r.register(
            "exec_auth_failures",
            "Failed exec logins",
            self.auth_failures.clone(),
        );
        r.register(
            "chat_members",
            "Chat members now",
            self.chat_members.clone(),
        );
        r.register(
            "chat_messages",
            "Chat lines relayed",
            self.chat_messages.clone(),
        );
        r.register(
            "chat_slow_clients_dropped",
            "Chat members dropped for not reading",
            self.chat_dropped.clone(),
        );
        r.register(
            "chat_bus_messages_rejected",
            "Chat bus (NATS) messages dropped as foreign, oversized or invalid",
            self.chat_bus_rejected.clone(),
        );
        r.register(
            "chat_notices_skipped",
            "Join/leave notices left out for members whose queue was nearly full",
            self.chat_notices_skipped.clone(),
        );
        let build: Family<Build, Gauge> = Family::default();
        build
            .get_or_create(&Build {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        r.register("build_info", "wirekit version", build);
    }

    /// The registry in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    fn svc(service: &str) -> Svc {
        Svc {
            service: service.to_string(),
        }
    }

    /// A TCP connection was accepted and is now open.
    pub fn accepted(&self, service: &str) {
        self.accepted.get_or_create(&Self::svc(service)).inc();
        self.active.get_or_create(&Self::svc(service)).inc();
    }

    /// An accepted connection closed.
    pub fn closed(&self, service: &str) {
        self.active.get_or_create(&Self::svc(service)).dec();
    }

    /// A connection was refused (`busy`, `not_allowed`, `rate_limited`).
    pub fn refused(&self, service: &str, reason: &str) {
        let l = SvcReason {
            service: service.to_string(),
            reason: reason.to_string(),
        };
        self.refused.get_or_create(&l).inc();
    }

    /// Per-connection byte counters for `service`, kept by the stream.
    pub fn byte_counters(&self, service: &str) -> (Counter, Counter) {
        let s = Self::svc(service);
        (
            self.rx_bytes.get_or_create(&s).clone(),
            self.tx_bytes.get_or_create(&s).clone(),
        )
    }

    /// `n` bytes arrived on `service`.
    pub fn bytes_received(&self, service: &str, n: u64) {
        self.rx_bytes.get_or_create(&Self::svc(service)).inc_by(n);
    }

    /// `n` bytes left on `service`.
    pub fn bytes_sent(&self, service: &str, n: u64) {
        self.tx_bytes.get_or_create(&Self::svc(service)).inc_by(n);
    }

    /// Datagram counters (received, sent) for `service`.
    pub fn datagram_counters(&self, service: &str) -> (Counter, Counter) {
        let s = Self::svc(service);
        (
            self.rx_datagrams.get_or_create(&s).clone(),
            self.tx_datagrams.get_or_create(&s).clone(),
        )
    }

    /// An error of `kind` on `service`.
    pub fn error(&self, service: &str, kind: &str) {
        let l = SvcReason {
            service: service.to_string(),
            reason: kind.to_string(),
        };
        self.errors.get_or_create(&l).inc();
    }

    /// A connection of `service` was closed for idleness.
    pub fn idle_timeout(&self, service: &str) {
        self.idle_timeouts.get_or_create(&Self::svc(service)).inc();
    }

    /// A files operation ended; `bytes` of file data moved in `secs`.
    pub fn transfer(&self, op: &str, outcome: &str, bytes: u64, secs: f64) {
        let l = OpOutcome {
            op: op.to_string(),
            outcome: outcome.to_string(),
        };
        self.transfers.get_or_create(&l).inc();
        let o = Op { op: op.to_string() };
        self.transfer_bytes.get_or_create(&o).inc_by(bytes);
        // Durations of completed transfers only: a refusal takes no time
        // worth a bucket.
        if outcome == "ok" {
            self.transfer_seconds.get_or_create(&o).observe(secs);
        }
    }

    /// An upload's md5 did not match what arrived (it is also counted as
    /// a refused put).
    pub fn md5_mismatch(&self) {
        self.md5_mismatches.inc();
    }

    /// An exec command ended (`exit`, `timeout`, `killed_at_cap`).
    pub fn command(&self, outcome: &str) {
        let l = Outcome {
            outcome: outcome.to_string(),
        };
        self.commands.get_or_create(&l).inc();
    }

    /// A failed exec (or files) login on `service`.
    pub fn auth_failure(&self, service: &str) {
        self.auth_failures.get_or_create(&Self::svc(service)).inc();
    }

    /// Chat membership changed by `delta`.
    pub fn chat_members(&self, delta: i64) {
        self.chat_members.inc_by(delta);
    }

    /// A chat line was relayed.
    pub fn chat_message(&self) {
        self.chat_messages.inc();
    }

    /// The live counts of `service`, for the web console. Reading creates
    /// the service's series (at zero) if it had none yet.
    pub fn snapshot(&self, service: &str) -> Snapshot {
        let s = Self::svc(service);
        let refused = ["busy", "not_allowed", "rate_limited"]
            .iter()
            .map(|r| {
                let l = SvcReason {
                    service: service.to_string(),
                    reason: r.to_string(),
                };
                self.refused.get_or_create(&l).get()
            })
            .sum();
        Snapshot {
            active: self.active.get_or_create(&s).get(),
            accepted: self.accepted.get_or_create(&s).get(),
            refused,
            rx_bytes: self.rx_bytes.get_or_create(&s).get(),
            tx_bytes: self.tx_bytes.get_or_create(&s).get(),
            rx_datagrams: self.rx_datagrams.get_or_create(&s).get(),
            tx_datagrams: self.tx_datagrams.get_or_create(&s).get(),
        }
    }

    /// A slow chat member was dropped.
    pub fn chat_dropped(&self) {
        self.chat_dropped.inc();
    }

    /// A chat bus message was dropped as invalid or foreign.
    pub fn chat_bus_rejected(&self) {
        self.chat_bus_rejected.inc();
    }

    /// Presence notices were left out for a member that was behind.
    pub fn chat_notices_skipped(&self, n: usize) {
        self.chat_notices_skipped.inc_by(n as u64);
    }
}
