//! Chat rooms spanning several `wirekit serve` nodes through NATS
//! JetStream (`--chat-nats URLS`).
//!
//! Every node publishes the events all members see (lines, joins, leaves,
//! nickname changes) to one stream, [`STREAM`] (subjects
//! `wirekit.chat.<room>`), with a `Nats-Msg-Id` header so a publish that is
//! retried after a lost acknowledgement is stored once. Every node delivers
//! only what it reads back from its own consumer of that stream, so
//! the local sender sees its own line in stream order like everyone else,
//! and all clients on all nodes see one and the same order. The bus
//! message format and its checks are in
//! `wirekit_core::service::chat::cluster`.
//!
//! - [`link`]: a room's handle on the bus (what [`super::room::Room`] calls).
//! - [`publish`]: the task that publishes, retrying with the same id.
//! - [`consume`]: the task that reads the stream in order and resumes after
//!   reconnects at the last delivered sequence + 1.
//! - [`presence`]: heartbeats of who is on which node, for `/who` and nick
//!   uniqueness across nodes; members of a dead node expire.
//! - [`opts`]: the `--chat-nats*` options and the connection.

pub mod consume;
pub mod link;
pub mod opts;
pub mod presence;
pub mod publish;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::metrics::Metrics;
use anyhow::Context as _;
use async_nats::jetstream::{self, stream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use wirekit_core::service::chat::cluster::{validate_name, MAX_BUS_MESSAGE, SUBJECT_PREFIX};

pub use link::Link;
pub use opts::NatsOpts;

/// How long a node keeps trying to create or bind the stream at start: a
/// NATS cluster that is starting needs a few seconds to elect the leader
/// that JetStream requests go to.
const STREAM_WAIT: Duration = Duration::from_secs(15);

/// Creates or binds the stream, retrying for [`STREAM_WAIT`].
async fn ensure_stream(
    js: &jetstream::Context,
    config: stream::Config,
) -> anyhow::Result<stream::Stream> {
    let started = Instant::now();
    loop {
        match js.get_or_create_stream(config.clone()).await {
            Ok(s) => return Ok(s),
            Err(e) if started.elapsed() < STREAM_WAIT => {
                tracing::info!("chat bus: stream not ready yet ({e}); retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                return Err(anyhow::anyhow!("{e}")).context(
                    "cannot create or bind the JetStream stream WIREKIT_CHAT \
                     (is JetStream on? nats-server -js)",
                )
            }
        }
    }
}

/// The JetStream stream holding every room's events.
pub const STREAM: &str = "WIREKIT_CHAT";

/// Retention limits of [`STREAM`] (with `--chat-nats-max-messages`), so
/// it cannot grow without bound: a node that was away longer than this
/// cannot catch up anyway.
const STREAM_MAX_BYTES: i64 = 1 << 30;
const STREAM_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// How long the stream remembers message ids: retries of a publish must end
/// well within it (see [`publish`]).
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// A node's connection to the bus, shared by its chat listeners.
pub struct Node {
    client: async_nats::Client,
    js: jetstream::Context,
    /// This process's id on the bus (random per start, so message ids
    /// never repeat across restarts).
    id: Arc<str>,
    /// Bumped on every (re)connection, so consumers resume at once.
    connected: watch::Receiver<u64>,
    history: usize,
    room_base: String,
    rooms: AtomicUsize,
    /// Bus messages dropped as invalid or foreign, all rooms.
    rejected: Arc<Rejected>,
    /// The stream's first and last sequence when the node connected.
    stream_at_start: (u64, u64),
    /// `--chat-nats-queue`.
    queue: usize,
}

/// Counts rejected bus input (also in `--metrics`, once a room gave it
/// the node's [`Metrics`]) and logs it at most once a second.
#[derive(Default)]
pub struct Rejected {
    count: AtomicU64,
    last_log: std::sync::Mutex<Option<Instant>>,
    metrics: std::sync::OnceLock<Metrics>,
}

impl Rejected {
    /// Counts one rejected message; `what` says why.
    pub fn note(&self, what: &str) {
        if let Some(m) = self.metrics.get() {
            m.chat_bus_rejected();
        }
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self.last_log.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            *last = Some(Instant::now());
            tracing::warn!(total = n, "chat bus message dropped: {what}");
        }
    }

    /// How many were rejected so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

impl Node {
    /// Connects to NATS and makes sure [`STREAM`] exists (creating it or
    /// binding to it; every node does this, so it is idempotent).
    pub async fn connect(o: &NatsOpts, history: usize) -> anyhow::Result<Node> {
        let (tx, connected) = watch::channel(0u64);
        let client = opts::connect(o, tx).await?;
        let js = jetstream::new(client.clone());
        let config = stream::Config {
            name: STREAM.to_owned(),
            subjects: vec![format!("{SUBJECT_PREFIX}>")],
            max_messages: o.chat_nats_max_messages,
            max_bytes: STREAM_MAX_BYTES,
            max_age: STREAM_MAX_AGE,
            max_message_size: MAX_BUS_MESSAGE as i32,
            duplicate_window: DUPLICATE_WINDOW,
            num_replicas: usize::from(o.chat_nats_replicas),
            storage: stream::StorageType::File,
            discard: stream::DiscardPolicy::Old,
            ..Default::default()
        };
        let mut stream = ensure_stream(&js, config).await?;
        // Where this node starts reading: taken before any listener is up,
        // so no line said through this node can predate it.
        let state = stream
            .info()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .state
            .clone();
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Node {
            client,
            js,
            id: hex::encode(id).into(),
            connected,
            history,
            room_base: o.chat_room.clone(),
            rooms: AtomicUsize::new(0),
            rejected: Arc::default(),
            stream_at_start: (state.first_sequence, state.last_sequence),
            queue: o.chat_nats_queue as usize,
        })
    }

    /// Counts this node's rejected bus messages in `metrics` too (the
    /// first call wins: a node has one set of metrics).
    pub fn count_in(&self, metrics: &Metrics) {
        let _ = self.rejected.metrics.set(metrics.clone());
    }

    /// This node's id on the bus.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The room name of the next chat listener: `--chat-room` for the
    /// first, `NAME-2`, `NAME-3`… for further ones.
    pub fn next_room(&self) -> anyhow::Result<String> {
        let k = self.rooms.fetch_add(1, Ordering::Relaxed) + 1;
        let name = match k {
            1 => self.room_base.clone(),
            k => format!("{}-{k}", self.room_base),
        };
        anyhow::ensure!(validate_name(&name), "chat room name {name:?} too long");
        Ok(name)
    }
}

/// Makes `room_name` a shared room: returns the link the room publishes
/// through, and a function that starts the tasks (publisher, consumer,
/// presence) once the room exists.
pub fn attach(
    node: &Arc<Node>,
    room_name: String,
    stop: CancellationToken,
) -> (Arc<Link>, impl FnOnce(Arc<super::room::Room>) -> Vec<Task>) {
    let (link, outgoing) = Link::new(node.id.clone(), room_name.clone(), node.queue);
    let link = Arc::new(link);
    let node = node.clone();
    let l2 = link.clone();
    let start = move |room: Arc<super::room::Room>| {
        let subject = format!("{SUBJECT_PREFIX}{room_name}");
        let reader = consume::Reader {
            js: node.js.clone(),
            subject: subject.clone(),
            room: room.clone(),
            link: l2.clone(),
            history: node.history,
            rejected: node.rejected.clone(),
            connected: node.connected.clone(),
            stream_at_start: node.stream_at_start,
        };
        // Called before the listener accepts anyone (see chat::start).
        let handle = tokio::runtime::Handle::current();
        let pos = tokio::task::block_in_place(|| handle.block_on(consume::prime(&reader)));
        vec![
            Box::pin(publish::run(
                node.js.clone(),
                subject.clone(),
                l2.clone(),
                outgoing,
                stop.clone(),
            )) as Task,
            Box::pin(consume::run(reader, pos, stop.clone())),
            Box::pin(presence::run(
                node.client.clone(),
                l2,
                room,
                node.rejected.clone(),
                stop,
            )),
        ]
    };
    (link, start)
}

/// One of a shared room's background tasks.
pub type Task = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
