//! A room's handle on the chat bus: encodes its events and queues them for
//! the publisher, and answers what the room needs to know about members on
//! other nodes (from [`super::presence`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use wirekit_core::service::chat::cluster::{BusMessage, Kind, MAX_BUS_MESSAGE};

use super::presence::Peers;

/// Events waiting for the publisher, per room. Beyond this the bus is not
/// keeping up (or is down for long) and lines are refused with a notice
/// instead of piling up in memory.
pub const OUTGOING_QUEUE: usize = 8192;

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
}

impl Link {
    /// A link for `room` on node `node`, and the receiving end of its
    /// publish queue.
    pub fn new(node: Arc<str>, room: String) -> (Link, mpsc::Receiver<Outgoing>) {
        let (queue, rx) = mpsc::channel(OUTGOING_QUEUE);
        let link = Link {
            node,
            room,
            next_id: AtomicU64::new(1),
            queue,
            peers: Peers::default(),
            changed: tokio::sync::Notify::new(),
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
    /// if it could not be (queue full, or a field the format refuses).
    pub fn publish(&self, origin: SocketAddr, nick: Option<&str>, kind: Kind<'_>) -> bool {
        // Release: a heartbeat that reads the counter past this id (with
        // Acquire) also sees the member change made before this call.
        let id = self.next_id.fetch_add(1, Ordering::AcqRel);
        let unix_ms = jiff::Timestamp::now().as_millisecond().max(0) as u64;
        if !matches!(kind, Kind::Line(_)) {
            self.changed.notify_one();
        }
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
                return false;
            }
        };
        buf.truncate(n);
        let out = Outgoing {
            msg_id: format!("{}-{id}", self.node),
            payload: buf.into(),
        };
        match self.queue.try_send(out) {
            Ok(()) => true,
            Err(_) => {
                tracing::warn!(room = %self.room, "chat bus queue full; event not published");
                false
            }
        }
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
