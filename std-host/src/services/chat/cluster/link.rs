//! A room's handle on the chat bus: encodes its events and queues them for
//! the publisher, and answers what the room needs to know about members on
//! other nodes (from [`super::presence`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use wirekit_core::service::chat::cluster::{BusMessage, Kind, MAX_BUS_MESSAGE};

use super::presence::Peers;

/// Events waiting for the publisher, per room (`--chat-nats-queue`).
/// Beyond this the bus is not keeping up (or is down for long): lines are
/// refused with a notice instead of piling up in memory, and leaves are
/// counted and published as one summary ([`Kind::Leaves`]), so a mass
/// leave reaches the other nodes however many left.
pub const OUTGOING_QUEUE: u32 = 8192;

/// One encoded event for the publisher.
pub struct Outgoing {
    /// The `Nats-Msg-Id`: node id and message id, unique across restarts.
    pub msg_id: String,
    /// The encoded bus message.
    pub payload: bytes::Bytes,
}

/// See the module docs.
pub struct Link {
    node: Arc<str>,
    room: String,
    next_id: AtomicU64,
    queue: mpsc::Sender<Outgoing>,
    peers: Peers,
    /// Wakes the presence task when this node's members change, so the
    /// other nodes' `/who` is current within a round trip, not a beat.
    changed: tokio::sync::Notify,
    /// Leaves that found the queue full, and the origin of the first.
    unsent: Mutex<Option<(u32, SocketAddr)>>,
    /// Wakes the publisher when `unsent` was set.
    counted: tokio::sync::Notify,
}

impl Link {
    /// A link for `room` on node `node`, and the receiving end of its
    /// publish queue.
    pub fn new(node: Arc<str>, room: String, queue: usize) -> (Link, mpsc::Receiver<Outgoing>) {
        let (queue, rx) = mpsc::channel(queue.max(1));
        let link = Link {
            node,
            room,
            next_id: AtomicU64::new(1),
            queue,
            peers: Peers::default(),
            changed: tokio::sync::Notify::new(),
            unsent: Mutex::new(None),
            counted: tokio::sync::Notify::new(),
        };
        (link, rx)
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The id the next published event will get: every event with a
    /// smaller id was published, and its change to the members made,
    /// before this call (see [`super::presence`]).
    pub fn next_event_id(&self) -> u64 {
        self.next_id.load(Ordering::Acquire)
    }

    /// The room's name on the bus.
    pub fn room(&self) -> &str {
        &self.room
    }

    /// Members of the other nodes.
    pub fn peers(&self) -> &Peers {
        &self.peers
    }

    /// Completes once the members of this node changed since the last call.
    pub async fn members_changed(&self) {
        self.changed.notified().await;
    }

    /// Queues an event by the member at `origin` for publishing; `false`
    /// if it could not be (queue full, or a field the format refuses). A
    /// leave that finds the queue full is counted instead, for the
    /// publisher's summary: leaves are bounded by the members, and the
    /// other nodes must hear of them.
    pub fn publish(&self, origin: SocketAddr, nick: Option<&str>, kind: Kind<'_>) -> bool {
        if !matches!(kind, Kind::Line(_)) {
            self.changed.notify_one();
        }
        let Some(out) = self.encode(origin, nick, kind) else {
            return false;
        };
        match self.queue.try_send(out) {
            Ok(()) => true,
            Err(_) if matches!(kind, Kind::Leave(_)) => {
                self.count_unsent(origin);
                true
            }
            Err(_) => {
                tracing::warn!(room = %self.room, "chat bus queue full; event not published");
                false
            }
        }
    }

    /// Counts a leave that found the queue full, for [`Link::unsent_leaves`].
    fn count_unsent(&self, origin: SocketAddr) {
        let mut unsent = self.unsent.lock().unwrap_or_else(|e| e.into_inner());
        let (n, _) = unsent.get_or_insert((0, origin));
        *n = n.saturating_add(1);
        self.counted.notify_one();
    }

    /// Completes once a leave was counted as unsent (at once if one was
    /// since the last call).
    pub async fn leaves_counted(&self) {
        self.counted.notified().await;
    }

    /// The summary of the leaves counted since the last call, if any.
    pub fn unsent_leaves(&self) -> Option<Outgoing> {
        let taken = self.unsent.lock().unwrap_or_else(|e| e.into_inner()).take();
        let (count, origin) = taken?;
        tracing::info!(room = %self.room, count, "chat bus queue full; leaves published as one summary");
        self.encode(origin, None, Kind::Leaves { count })
    }

    /// Encodes an event with the next id; `None` (logged) if the format
    /// refuses a field.
    fn encode(&self, origin: SocketAddr, nick: Option<&str>, kind: Kind<'_>) -> Option<Outgoing> {
        // Release: a heartbeat that reads the counter past this id (with
        // Acquire) also sees the member change made before this call.
        let id = self.next_id.fetch_add(1, Ordering::AcqRel);
        let unix_ms = jiff::Timestamp::now().as_millisecond().max(0) as u64;
        let msg = BusMessage {
            room: &self.room,
            node: &self.node,
            id,
            unix_ms,
            origin,
            nick,
            kind,
        };
        let mut buf = vec![0u8; MAX_BUS_MESSAGE];
        let n = match msg.encode(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("chat event not published: {e}");
                return None;
            }
        };
        buf.truncate(n);
        Some(Outgoing {
            msg_id: format!("{}-{id}", self.node),
            payload: buf.into(),
        })
    }

    /// How many members the other nodes have.
    pub fn remote_count(&self) -> usize {
        self.peers.count()
    }

    /// How members of the other nodes are shown.
    pub fn remote_labels(&self) -> Vec<String> {
        self.peers.labels()
    }

    /// Whether a member of another node has this nickname.
    pub fn nick_taken(&self, name: &str) -> bool {
        self.peers
            .labels()
            .iter()
            .any(|l| l.eq_ignore_ascii_case(name))
    }
}
