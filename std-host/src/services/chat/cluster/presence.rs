//! Who is in a shared room on the other nodes, for `/who`, the online count
//! of join notices and nickname uniqueness.
//!
//! Every node publishes its members' labels (as the seed shows them: the
//! nickname or `ip:port`) on `wirekit.presence.<room>` every
//! [`HEARTBEAT`] (core NATS, not the stream: only the latest state
//! matters). A node not heard from for [`EXPIRE`] is forgotten, so the
//! members of a node that died leave `/who` within a few seconds; a node
//! that stops cleanly sends an empty list first.
//!
//! The message is `wkp1 NODE\n` followed by one label per line. It comes
//! from the bus like chat lines do, so it is checked the same way: size,
//! label count, node id, every label a valid nickname or socket address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;
use wirekit_core::service::chat::cluster::{validate_name, BusMessage, Kind};
use wirekit_core::service::chat::validate_nick;

use super::{Link, Rejected};
use crate::services::chat::room::Room;

/// How often a node announces its members.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// Shortest time between two announcements.
const MIN_GAP: Duration = Duration::from_millis(100);

/// A node not heard from for this long is gone, with its members.
pub const EXPIRE: Duration = Duration::from_secs(3);

/// Most labels one node may announce (more are left out of its list).
pub const MAX_LABELS: usize = 20_000;

/// Largest presence message (labels are at most 47 bytes: an IPv6 address
/// and a port).
pub const MAX_PRESENCE: usize = 64 + MAX_LABELS * 48;

const MAGIC: &str = "wkp1";

struct Entry {
    labels: Vec<String>,
    seen: Instant,
}

/// The other nodes' members, by node id.
#[derive(Default)]
pub struct Peers(Mutex<HashMap<String, Entry>>);

impl Peers {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, e| e.seen.elapsed() < EXPIRE);
        map
    }

    /// How many members the other nodes have.
    pub fn count(&self) -> usize {
        self.lock().values().map(|e| e.labels.len()).sum()
    }

    /// Their labels, node by node (in node id order, so `/who` is stable).
    pub fn labels(&self) -> Vec<String> {
        let map = self.lock();
        let mut nodes: Vec<_> = map.iter().collect();
        nodes.sort_by(|a, b| a.0.cmp(b.0));
        nodes
            .into_iter()
            .flat_map(|(_, e)| e.labels.iter().cloned())
            .collect()
    }

    /// Applies a join, leave or rename by a member of another node as
    /// soon as it is delivered, so `/who` agrees with the notices clients
    /// saw (the next heartbeat of that node confirms or corrects it).
    pub fn apply(&self, msg: &BusMessage<'_>) {
        let seed = |a: std::net::SocketAddr| format!("{}:{}", a.ip(), a.port());
        let label = msg.nick.map_or_else(|| seed(msg.origin), str::to_owned);
        let mut map = self.lock();
        let Some(entry) = map.get_mut(msg.node) else {
            if let Kind::Join { .. } = msg.kind {
                let seen = Instant::now();
                map.insert(
                    msg.node.to_owned(),
                    Entry {
                        labels: vec![label],
                        seen,
                    },
                );
            }
            return;
        };
        let labels = &mut entry.labels;
        match msg.kind {
            Kind::Join { .. } if labels.len() < MAX_LABELS && !labels.contains(&label) => {
                labels.push(label);
            }
            Kind::Leave(_) => labels.retain(|l| *l != label),
            Kind::Nick(to) => {
                if let Some(l) = labels.iter_mut().find(|l| **l == label) {
                    *l = to.to_owned();
                }
            }
            _ => {}
        }
    }

    fn update(&self, node: &str, labels: Vec<String>) {
        let seen = Instant::now();
        self.lock().insert(node.to_owned(), Entry { labels, seen });
    }
}

/// Whether `label` is how the seed shows a member: a nickname, or
/// `ip:port` (IPv6 without brackets).
fn valid_label(label: &str) -> bool {
    if validate_nick(label.as_bytes()).is_ok() {
        return true;
    }
    let Some((ip, port)) = label.rsplit_once(':') else {
        return false;
    };
    label.len() <= 47 && ip.parse::<IpAddr>().is_ok() && port.parse::<u16>().is_ok()
}

/// Parses a presence message: the node and its labels.
fn parse(payload: &[u8]) -> Result<(&str, Vec<String>), &'static str> {
    if payload.len() > MAX_PRESENCE {
        return Err("presence message too long");
    }
    let text = std::str::from_utf8(payload).map_err(|_| "presence message not UTF-8")?;
    let mut lines = text.split('\n');
    let head = lines.next().unwrap_or_default();
    let node = match head.split_once(' ') {
        Some((MAGIC, node)) if validate_name(node) => node,
        _ => return Err("not a wirekit presence message"),
    };
    let mut labels = Vec::new();
    for l in lines.filter(|l| !l.is_empty()) {
        if labels.len() == MAX_LABELS || !valid_label(l) {
            return Err("bad presence label");
        }
        labels.push(l.to_owned());
    }
    Ok((node, labels))
}

fn encode(node: &str, labels: &[String]) -> Vec<u8> {
    let mut out = format!("{MAGIC} {node}\n").into_bytes();
    for l in labels.iter().take(MAX_LABELS) {
        out.extend_from_slice(l.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Announces this node's members and tracks the others' until `stop`.
pub async fn run(
    client: async_nats::Client,
    link: Arc<Link>,
    room: Arc<Room>,
    rejected: Arc<Rejected>,
    stop: CancellationToken,
) {
    let subject = format!("wirekit.presence.{}", link.room());
    let mut sub = loop {
        match client.subscribe(subject.clone()).await {
            Ok(s) => break s,
            Err(e) => tracing::warn!("chat presence: cannot subscribe: {e}"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(HEARTBEAT) => {}
        }
    };
    let mut beat = tokio::time::interval(HEARTBEAT);
    let mut last = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            // At most one extra announcement per MIN_GAP: a thousand
            // joins must not send a thousand member lists.
            () = link.members_changed() => beat.reset_at(last + MIN_GAP),
            _ = beat.tick() => {
                last = tokio::time::Instant::now();
                let payload = encode(link.node(), &room.labels());
                // Buffered by the client while disconnected; the next beat
                // repairs a lost one.
                let _ = client.publish(subject.clone(), payload.into()).await;
            }
            m = sub.next() => {
                let Some(m) = m else { break };
                match parse(&m.payload) {
                    Ok((node, _)) if node == link.node() => {}
                    Ok((node, labels)) => {
                        tracing::debug!(node, n = labels.len(), "chat presence");
                        link.peers().update(node, labels);
                    }
                    Err(e) => rejected.note(e),
                }
            }
        }
    }
    // Leaving cleanly: the others drop this node's members at once.
    let _ = client
        .publish(subject, encode(link.node(), &[]).into())
        .await;
    let _ = client.flush().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_roundtrip_and_checks() {
        let labels = vec![
            "alice".to_owned(),
            "127.0.0.1:5".to_owned(),
            "::1:80".to_owned(),
        ];
        let bytes = encode("n1", &labels);
        assert_eq!(parse(&bytes), Ok(("n1", labels)));
        assert!(parse(b"wkp1 n1\nserver\n").is_err());
        assert!(parse(b"wkp1 n1\na b\n").is_err());
        assert!(parse(b"wkp1 n.1\n").is_err());
        assert!(parse(b"hello").is_err());
        assert!(parse(b"wkp1 n1\n\xff\n").is_err());
        assert!(parse(&vec![b'a'; MAX_PRESENCE + 1]).is_err());
    }

    #[test]
    fn silent_nodes_expire() {
        let p = Peers::default();
        p.update("n1", vec!["a".into()]);
        assert_eq!(p.count(), 1);
        p.0.lock().unwrap().get_mut("n1").unwrap().seen -= EXPIRE;
        assert_eq!(p.count(), 0);
        assert!(p.labels().is_empty());
    }
}
