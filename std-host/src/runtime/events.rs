//! What the web console shows besides counters: the listeners of this run
//! and a bounded ring of recent connection events (open, close, refused),
//! also pushed to live watchers through a broadcast channel.
//!
//! Bounded on every side: the ring keeps the last [`RING`] events and a
//! watcher that falls more than [`RING`] events behind skips ahead (tokio's
//! broadcast reports the lag) instead of holding memory for it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;

/// Events kept for a console that connects later, and the broadcast lag
/// after which a watcher skips ahead.
pub const RING: usize = 200;

/// One thing that happened to a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// `open`, `close` or `refused`.
    pub kind: &'static str,
    /// The service name.
    pub service: &'static str,
    /// The client's address.
    pub peer: SocketAddr,
    /// Bytes and duration of a close, the reason of a refusal; may be empty.
    pub detail: String,
}

/// A listener as announced by its `listening` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The service (or `metrics`, `web`).
    pub service: String,
    /// `tcp`, `tls`, `udp`, `http`.
    pub proto: String,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// The event ring, its broadcast channel and the listener list of a run.
/// Cheap to clone (shared handles).
#[derive(Debug, Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    ring: Mutex<VecDeque<Event>>,
    tx: broadcast::Sender<Event>,
    listeners: Mutex<Vec<Listener>>,
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    /// An empty ring with no listeners.
    pub fn new() -> Events {
        let (tx, _) = broadcast::channel(RING);
        Events {
            inner: Arc::new(Inner {
                ring: Mutex::new(VecDeque::with_capacity(RING)),
                tx,
                listeners: Mutex::default(),
            }),
        }
    }

    /// Records an event (the oldest falls out of the ring) and tells the
    /// watchers. Never blocks on a watcher.
    pub fn publish(
        &self,
        kind: &'static str,
        service: &'static str,
        peer: SocketAddr,
        detail: String,
    ) {
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let ev = Event {
            at_ms,
            kind,
            service,
            peer,
            detail,
        };
        if let Ok(mut ring) = self.inner.ring.lock() {
            if ring.len() == RING {
                ring.pop_front();
            }
            ring.push_back(ev.clone());
        }
        // No watcher is not an error.
        let _ = self.inner.tx.send(ev);
    }

    /// The events in the ring, oldest first, and a receiver for the ones
    /// after them. Taken under the ring's lock so none is seen twice or
    /// missed between the two.
    pub fn watch(&self) -> (Vec<Event>, broadcast::Receiver<Event>) {
        match self.inner.ring.lock() {
            Ok(ring) => (ring.iter().cloned().collect(), self.inner.tx.subscribe()),
            Err(_) => (Vec::new(), self.inner.tx.subscribe()),
        }
    }

    /// Remembers a listener (called by the `listening` announcement).
    pub fn listener(&self, service: &str, proto: &str, addr: SocketAddr) {
        if let Ok(mut l) = self.inner.listeners.lock() {
            l.push(Listener {
                service: service.to_string(),
                proto: proto.to_string(),
                addr,
            });
        }
    }

    /// The listeners announced so far, in order.
    pub fn listeners(&self) -> Vec<Listener> {
        self.inner
            .listeners
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "127.0.0.1:9".parse().unwrap()
    }

    #[test]
    fn ring_keeps_the_newest_and_watchers_see_what_follows() {
        let ev = Events::new();
        for i in 0..RING + 5 {
            ev.publish("open", "echo", peer(), i.to_string());
        }
        let (past, mut rx) = ev.watch();
        assert_eq!(past.len(), RING);
        assert_eq!(past[0].detail, "5");
        assert_eq!(past[RING - 1].detail, (RING + 4).to_string());
        ev.publish("close", "echo", peer(), "last".into());
        let next = rx.try_recv().unwrap();
        assert_eq!((next.kind, next.detail.as_str()), ("close", "last"));
    }

    #[test]
    fn listeners_are_remembered_in_order() {
        let ev = Events::new();
        ev.listener("echo", "tcp", peer());
        ev.listener("web", "http", peer());
        let names: Vec<_> = ev.listeners().into_iter().map(|l| l.service).collect();
        assert_eq!(names, ["echo", "web"]);
    }
}
