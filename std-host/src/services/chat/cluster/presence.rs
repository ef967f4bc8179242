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
//! Joins, leaves and renames also come through the stream (and are
//! applied at once, so `/who` agrees with the notices), on another
//! subscription than the heartbeats, so the two can arrive in either order.
//! A heartbeat therefore says which of its node's events it includes: the
//! id the next one would get, read before the labels. One older than an
//! event already applied (a heartbeat sent just before a rename and read
//! just after it) only shows the node is alive; its labels are not used.
//!
//! The message is `wkp1 NODE NEXT_ID\n` (`wkp1 NODE` from older nodes:
//! always applied) followed by one label per line. It comes from the bus
//! like chat lines do, so it is checked the same way: size, label count,
//! node id, every label a valid nickname or socket address.

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
    /// Every event of this node with a smaller id has been applied.
    applied: u64,
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
        let applied = msg.id.saturating_add(1);
        let Some(entry) = map.get_mut(msg.node) else {
            if let Kind::Join { .. } = msg.kind {
                let seen = Instant::now();
                map.insert(
                    msg.node.to_owned(),
                    Entry {
                        labels: vec![label],
                        seen,
                        applied,
                    },
                );
            }
            return;
        };
        entry.applied = entry.applied.max(applied);
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

    /// A heartbeat of `node` listing `labels`, including its events with
    /// ids below `next` (`None`: an older node's, taken as it is).
    fn update(&self, node: &str, next: Option<u64>, labels: Vec<String>) {
        let seen = Instant::now();
        let mut map = self.lock();
        match map.get_mut(node) {
            Some(e) if next.is_some_and(|n| n < e.applied) => e.seen = seen,
            Some(e) => (e.labels, e.seen) = (labels, seen),
            None => {
                let applied = next.unwrap_or(0);
                map.insert(
                    node.to_owned(),
                    Entry {
                        labels,
                        seen,
                        applied,
                    },
                );
            }
        }
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

/// A parsed presence message.
#[derive(Debug, PartialEq)]
struct Presence<'a> {
    node: &'a str,
    /// The node's next event id when it read `labels`.
    next: Option<u64>,
    labels: Vec<String>,
}

/// Parses a presence message.
fn parse(payload: &[u8]) -> Result<Presence<'_>, &'static str> {
    if payload.len() > MAX_PRESENCE {
        return Err("presence message too long");
    }
    let text = std::str::from_utf8(payload).map_err(|_| "presence message not UTF-8")?;
    let mut lines = text.split('\n');
    let head = lines.next().unwrap_or_default();
    let mut words = head.split(' ');
    let (Some(MAGIC), Some(node), next, None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err("not a wirekit presence message");
    };
    if !validate_name(node) {
        return Err("not a wirekit presence message");
    }
    let next = match next.map(str::parse::<u64>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return Err("bad presence event id"),
    };
    let mut labels = Vec::new();
    for l in lines.filter(|l| !l.is_empty()) {
        if labels.len() == MAX_LABELS || !valid_label(l) {
            return Err("bad presence label");
        }
        labels.push(l.to_owned());
    }
    Ok(Presence { node, next, labels })
}

fn encode(node: &str, next: u64, labels: &[String]) -> Vec<u8> {
    let mut out = format!("{MAGIC} {node} {next}\n").into_bytes();
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
                // The id first: events below it are in the labels read next.
                let next = link.next_event_id();
                let payload = encode(link.node(), next, &room.labels());
                // Buffered by the client while disconnected; the next beat
                // repairs a lost one.
                let _ = client.publish(subject.clone(), payload.into()).await;
            }
            m = sub.next() => {
                let Some(m) = m else { break };
                match parse(&m.payload) {
                    Ok(p) if p.node == link.node() => {}
                    Ok(p) => {
                        tracing::debug!(node = p.node, n = p.labels.len(), "chat presence");
                        link.peers().update(p.node, p.next, p.labels);
                    }
                    Err(e) => rejected.note(e),
                }
            }
        }
    }
    // Leaving cleanly: the others drop this node's members at once.
    let next = link.next_event_id();
    let _ = client
        .publish(subject, encode(link.node(), next, &[]).into())
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
        let bytes = encode("n1", 7, &labels);
        let (node, next) = ("n1", Some(7));
        assert_eq!(parse(&bytes), Ok(Presence { node, next, labels }));
        // An older node's heartbeat has no event id.
        let old = parse(b"wkp1 n1\nalice\n").unwrap();
        assert_eq!((old.next, old.labels), (None, vec!["alice".to_owned()]));
        assert!(parse(b"wkp1 n1 x\n").is_err());
        assert!(parse(b"wkp1 n1 1 2\n").is_err());
        assert!(parse(b"wkp1 n1\nserver\n").is_err());
        assert!(parse(b"wkp1 n1\na b\n").is_err());
        assert!(parse(b"wkp1 n.1\n").is_err());
        assert!(parse(b"hello").is_err());
        assert!(parse(b"wkp1 n1\n\xff\n").is_err());
        assert!(parse(&vec![b'a'; MAX_PRESENCE + 1]).is_err());
    }

    fn event<'a>(id: u64, kind: Kind<'a>, nick: Option<&'a str>) -> BusMessage<'a> {
        BusMessage {
            room: "lobby",
            node: "n2",
            id,
            unix_ms: 0,
            origin: "127.0.0.1:5000".parse().unwrap(),
            nick,
            kind,
        }
    }

    /// Seen in a loaded run of `a_dead_node_leaves_who_and_the_others_go_on`:
    /// the heartbeat a node sent just before its member's rename was read
    /// after the rename had come through the stream, put the address back
    /// in `/who`, and the node died before its next heartbeat could fix it.
    #[test]
    fn a_heartbeat_older_than_an_applied_event_does_not_undo_it() {
        let p = Peers::default();
        let addr = "127.0.0.1:5000".to_owned();
        p.apply(&event(1, Kind::Join { online: 1 }, None));
        // The heartbeat read before the rename (event 2) ...
        let stale = encode("n2", 2, std::slice::from_ref(&addr));
        // ... arrives after it.
        p.apply(&event(2, Kind::Nick("zed"), None));
        let hb = parse(&stale).unwrap();
        p.update(hb.node, hb.next, hb.labels);
        assert_eq!(p.labels(), ["zed"]);
        // A heartbeat that includes the rename is used (here: it left).
        p.update("n2", Some(3), vec![]);
        assert_eq!(p.count(), 0);
        // An older node's heartbeat, without ids, is used as it is.
        p.update("n2", None, vec![addr.clone()]);
        assert_eq!(p.labels(), [addr]);
    }

    #[test]
    fn silent_nodes_expire() {
        let p = Peers::default();
        p.update("n1", Some(1), vec!["a".into()]);
        assert_eq!(p.count(), 1);
        p.0.lock().unwrap().get_mut("n1").unwrap().seen -= EXPIRE;
        assert_eq!(p.count(), 0);
        assert!(p.labels().is_empty());
    }
}
