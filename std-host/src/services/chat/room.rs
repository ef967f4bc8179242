//! The chat room: who is connected, and fan-out of frames to them.
//!
//! Each member has a bounded outgoing queue of shared frames (`Arc<[u8]>`,
//! one allocation per broadcast whatever the room size). Delivering is a
//! `try_send` to every queue under a short `std` mutex that is never held
//! across an `.await` or a socket write; a member whose queue is full is
//! removed on the spot and told through its kick channel, so one stalled
//! reader can never delay the others (tokio's chat example uses unbounded
//! queues instead, which lets a stalled reader eat memory without limit).
//!
//! With a chat bus ([`super::cluster`]) the room spans several nodes: the
//! events everyone sees are published instead of delivered, and come back,
//! in the bus's one order, through [`Room::deliver_bus`]; kicks, queues and
//! answers to one member stay local.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, oneshot};
use wirekit_core::service::chat::cluster::Kind;
use wirekit_core::service::chat::{
    write_message_as, write_notice, write_who, DropReason, Input, Notice, Relay, Sender,
    MAX_MESSAGE,
};
pub use wirekit_core::session::chat::rules::Class;
use wirekit_core::session::chat::rules::{self, Backlog, Decision, Offer};
use wirekit_core::strftime::Tm;

use super::member::{Gone, Label, Member};

/// One formatted frame, shared by every queue it is in.
pub type Frame = Arc<[u8]>;

/// Room settings.
#[derive(Debug, Clone, Copy)]
pub struct RoomConfig {
    /// Frames a member may have waiting before it is disconnected.
    pub queue: usize,
    /// Longest line a member may send.
    pub max_line: usize,
    /// What said lines may carry (control characters stripped or not).
    pub relay: Relay,
    /// Said lines kept for newcomers (`--chat-history`; 0 = none).
    pub history: usize,
}

/// A member's end of the room: its queue and its kick signal.
pub struct Membership {
    /// The member's id in the room.
    pub id: u64,
    /// Frames to write to the member's socket, in order.
    pub frames: mpsc::Receiver<Frame>,
    /// Fires, with a farewell frame, when the room disconnects the member
    /// (its queue overflowed).
    pub kicked: oneshot::Receiver<Frame>,
}

/// The shared room.
pub struct Room {
    members: Mutex<BTreeMap<u64, Member>>,
    /// The last said frames, for newcomers (used under `members`).
    history: super::history::History,
    bus: Option<Arc<super::cluster::Link>>,
    next_id: AtomicU64,
    config: RoomConfig,
    clock: fn() -> Tm,
    metrics: Option<crate::metrics::Metrics>,
}

impl Room {
    /// An empty room; `clock` gives the local time for the frame headers.
    pub fn new(config: RoomConfig, clock: fn() -> Tm) -> Room {
        Room {
            members: Mutex::new(BTreeMap::new()),
            history: super::history::History::new(config.history),
            bus: None,
            next_id: AtomicU64::new(1),
            config,
            clock,
            metrics: None,
        }
    }

    /// Counts members, lines and slow clients dropped in `metrics`.
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> Room {
        self.metrics = Some(metrics);
        self
    }

    /// Makes the room span the nodes of `bus`.
    pub fn with_bus(mut self, bus: Arc<super::cluster::Link>) -> Room {
        self.bus = Some(bus);
        self
    }

    /// The room settings.
    pub fn config(&self) -> RoomConfig {
        self.config
    }

    /// How many members are in the room.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the room is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, Member>> {
        // A panic while holding the lock cannot leave the map inconsistent
        // (every update is a single insert/remove), so poisoning is ignored.
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a member and tells everyone (the newcomer included).
    pub fn join(&self, addr: SocketAddr) -> Membership {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let cap = self.config.queue.max(self.config.history).max(1);
        let (tx, frames) = mpsc::channel(cap);
        let (kick, kicked) = oneshot::channel();
        let online = {
            let mut members = self.lock();
            self.history.replay(&tx);
            members.insert(
                id,
                Member {
                    addr,
                    nick: None,
                    tx,
                    kick,
                    backlog: Backlog::default(),
                },
            );
            members.len()
        };
        if let Some(m) = &self.metrics {
            m.chat_members(1);
        }
        match &self.bus {
            Some(bus) => {
                let online = u32::try_from(online + bus.remote_count()).unwrap_or(u32::MAX);
                bus.publish(addr, None, Kind::Join { online });
            }
            None => {
                let who = Sender::Peer(addr);
                self.broadcast_notice(Notice::Joined { who, online });
            }
        }
        Membership { id, frames, kicked }
    }

    /// Broadcasts a line said by member `id`.
    pub fn say(&self, id: u64, line: &[u8]) {
        if let Some(m) = &self.metrics {
            m.chat_message();
        }
        if let Some(bus) = &self.bus {
            let (addr, nick) = {
                let members = self.lock();
                let Some(m) = members.get(&id) else { return };
                (m.addr, m.nick.clone())
            };
            // The bus carries UTF-8 only; the seed's clients decode UTF-8.
            let text = String::from_utf8_lossy(line);
            if !bus.publish(addr, nick.as_deref(), Kind::Line(&text)) {
                self.notify_text(id, "* line not sent: the chat bus is not keeping up");
            }
            return;
        }
        let mut buf = [0u8; MAX_MESSAGE];
        let frame = {
            let members = self.lock();
            let Some(m) = members.get(&id) else { return };
            let relay = self.config.relay;
            match write_message_as(&mut buf, &(self.clock)(), m.sender(), line, relay) {
                Ok(n) => Frame::from(&buf[..n]),
                Err(e) => {
                    tracing::warn!(id, "chat line not sent: {e}");
                    return;
                }
            }
        };
        self.deliver_with(frame, Class::Said);
    }

    /// Carries out member `id`'s input as the core's rules decide
    /// ([`rules::decide`]); `Some(())` when the member leaves.
    pub fn act(&self, id: u64, input: Input<'_>) -> Option<()> {
        let members = self.lock();
        // Decided under the lock that renames, so two members cannot take
        // one nickname at once.
        let decision = rules::decide(input, |name| self.nick_in_use(&members, id, name));
        if let Decision::Rename(name) = decision {
            self.rename(members, id, name);
            return None;
        }
        drop(members);
        match decision {
            Decision::Leave => return Some(()),
            Decision::Say(line) => self.say(id, line),
            Decision::Who => self.who(id),
            Decision::Refuse(notice) => self.notify(id, notice),
            Decision::Nothing | Decision::Rename(_) => {}
        }
        None
    }

    /// Whether someone other than `id`, here or on another node, goes by
    /// `name`.
    fn nick_in_use(&self, members: &BTreeMap<u64, Member>, id: u64, name: &str) -> bool {
        members
            .iter()
            .any(|(k, m)| *k != id && m.nick.as_deref().is_some_and(|n| rules::same_nick(n, name)))
            || self.bus.as_ref().is_some_and(|b| b.nick_taken(name))
    }

    /// Gives member `id` the free nickname `name` and tells everyone
    /// (through the bus when there is one).
    fn rename(&self, mut members: MutexGuard<'_, BTreeMap<u64, Member>>, id: u64, name: &str) {
        let Some(m) = members.get_mut(&id) else {
            return;
        };
        let (addr, old) = (m.addr, m.label());
        m.nick = Some(name.to_owned());
        drop(members);
        if let Some(bus) = &self.bus {
            let old = match &old {
                Label::Nick(n) => Some(n.as_str()),
                Label::Peer(_) => None,
            };
            bus.publish(addr, old, Kind::Nick(name));
            return;
        }
        let mut buf = [0u8; MAX_MESSAGE];
        let notice = Notice::Renamed {
            from: old.sender(),
            to: name,
        };
        match write_notice(&mut buf, &(self.clock)(), notice) {
            Ok(n) => self.deliver(Frame::from(&buf[..n])),
            Err(e) => tracing::warn!(id, "rename notice not sent: {e}"),
        }
    }

    /// Answers `/who` to member `id` only.
    pub fn who(&self, id: u64) {
        let mut buf = [0u8; MAX_MESSAGE];
        let remote = self.bus.as_ref().map(|b| b.remote_labels());
        let remote = remote.unwrap_or_default();
        let written = {
            let members = self.lock();
            let total = members.len() + remote.len();
            let there = remote.iter().map(|l| Sender::Nick(l));
            let senders = members.values().map(Member::sender).chain(there);
            write_who(&mut buf, &(self.clock)(), total, senders)
        };
        match written {
            Ok(n) => self.send_to(id, Frame::from(&buf[..n])),
            Err(e) => tracing::warn!(id, "who answer not sent: {e}"),
        }
    }

    /// Sends a system line to member `id` only.
    pub fn notify(&self, id: u64, notice: Notice<'_>) {
        let mut buf = [0u8; MAX_MESSAGE];
        match write_notice(&mut buf, &(self.clock)(), notice) {
            Ok(n) => self.send_to(id, Frame::from(&buf[..n])),
            Err(e) => tracing::warn!(id, "notice not sent: {e}"),
        }
    }

    /// Sends a system line of free text (`"* …"`) to member `id` only.
    pub fn notify_text(&self, id: u64, text: &str) {
        if let Some(frame) = self.text_frame(text) {
            self.send_to(id, frame);
        }
    }

    /// Sends a system line of free text to every member of this node.
    pub fn broadcast_text(&self, text: &str) {
        if let Some(frame) = self.text_frame(text) {
            self.deliver(frame);
        }
    }

    fn text_frame(&self, text: &str) -> Option<Frame> {
        let mut buf = [0u8; MAX_MESSAGE];
        let now = (self.clock)();
        let n = write_message_as(&mut buf, &now, Sender::Server, text.as_bytes(), Relay::Raw);
        n.ok().map(|n| Frame::from(&buf[..n]))
    }

    /// Delivers a frame that came from the chat bus, in the bus's order;
    /// said frames are kept for newcomers.
    pub fn deliver_bus(&self, frame: Frame, class: Class) {
        self.deliver_with(frame, class);
    }

    /// Keeps a said frame for newcomers without delivering it (a line
    /// said before this node started, read back from the bus).
    pub fn remember(&self, frame: Frame) {
        let _members = self.lock();
        self.history.push(frame);
    }

    /// How members of this node are shown (for presence on the bus).
    pub fn labels(&self) -> Vec<String> {
        self.lock()
            .values()
            .map(|m| m.sender().to_string())
            .collect()
    }

    /// Removes member `id` (it quit, closed, or failed) and tells the
    /// others; `why` is `None` for a normal leave. Dropping its queue
    /// sender lets its writer finish what is queued and end.
    pub fn leave(&self, id: u64, why: Option<DropReason>) {
        let Some(m) = self.lock().remove(&id) else {
            return;
        };
        if let Some(metrics) = &self.metrics {
            metrics.chat_members(-1);
        }
        if let Some(bus) = &self.bus {
            bus.publish(m.addr, m.nick.as_deref(), Kind::Leave(why));
            return;
        }
        let label = m.label();
        drop(m);
        let notice = match why {
            None => Notice::Left(label.sender()),
            Some(r) => Notice::Dropped(label.sender(), r),
        };
        self.broadcast_notice(notice);
    }

    /// Removes member `id` without telling anyone (server shutdown, when
    /// everyone got [`Notice::Stopping`] already).
    pub fn remove_quietly(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn broadcast_notice(&self, notice: Notice<'_>) {
        let class = Class::of_notice(&notice);
        if let Some(frame) = self.notice_frame(notice) {
            self.deliver_with(frame, class);
        }
    }

    fn notice_frame(&self, notice: Notice<'_>) -> Option<Frame> {
        let mut buf = [0u8; MAX_MESSAGE];
        match write_notice(&mut buf, &(self.clock)(), notice) {
            Ok(n) => Some(Frame::from(&buf[..n])),
            Err(e) => {
                tracing::warn!("notice not sent: {e}");
                None
            }
        }
    }

    /// Queues a frame for one member; a full queue disconnects it.
    fn send_to(&self, id: u64, frame: Frame) {
        let slow = {
            let mut members = self.lock();
            let overflow = members
                .get(&id)
                .is_some_and(|m| m.tx.try_send(frame).is_err_and(is_full));
            if overflow {
                members.remove(&id)
            } else {
                None
            }
        };
        if let Some(m) = slow {
            let gone = self.kick(m);
            let mut pending = VecDeque::new();
            self.announce(vec![gone], &mut pending);
            if let Some(frame) = pending.pop_front() {
                self.deliver(frame);
            }
        }
    }

    /// Queues a frame for every member. Members whose queue is full are
    /// removed and kicked, and the others are told in further rounds
    /// until a round drops nobody; each round removes someone, so this
    /// ends, and it is a loop rather than recursion to bound the stack.
    fn deliver(&self, frame: Frame) {
        self.deliver_with(frame, Class::Other);
    }

    /// [`Room::deliver`] for a frame of `class` (see [`Class`]); said
    /// frames are kept for newcomers.
    fn deliver_with(&self, frame: Frame, mut class: Class) {
        let mut remember = class == Class::Said && self.history.enabled();
        let mut pending = VecDeque::from([frame]);
        while let Some(frame) = pending.pop_front() {
            let slow: Vec<Member> = {
                let mut members = self.lock();
                if remember {
                    self.history.push(frame.clone());
                    remember = false;
                }
                let full: Vec<u64> = members
                    .iter_mut()
                    .filter_map(|(id, m)| (!self.offer(m, &frame, class)).then_some(*id))
                    .collect();
                full.iter().filter_map(|id| members.remove(id)).collect()
            };
            let gone = slow.into_iter().map(|m| self.kick(m)).collect();
            self.announce(gone, &mut pending);
            // What follows are notices about the members just dropped.
            class = Class::Presence;
        }
    }

    /// Queues `frame` for `m` as the core's slow-client rules decide
    /// ([`Backlog::offer`]); `false` if `m` must be dropped as too slow.
    fn offer(&self, m: &mut Member, frame: &Frame, class: Class) -> bool {
        let (free, cap) = (m.tx.capacity(), m.tx.max_capacity());
        match m.backlog.offer(class, free, cap) {
            Offer::Skip => {
                if let Some(metrics) = &self.metrics {
                    metrics.chat_notices_skipped(1);
                }
                true
            }
            Offer::Drop => false,
            Offer::Queue { skipped } => {
                if let Some(count) = skipped {
                    if let Some(f) = self.notice_frame(Notice::Skipped { count }) {
                        // The rules leave room for it and the frame (checked
                        // under the lock): this cannot overflow.
                        let _ = m.tx.try_send(f);
                    }
                }
                !m.tx.try_send(frame.clone()).is_err_and(is_full)
            }
        }
    }

    /// Tells everyone that `gone` were dropped as too slow: one notice
    /// each, or one for all when many went at once. Without a bus the
    /// notices are added to `pending`; with one they are published (and
    /// come back through the bus).
    fn announce(&self, gone: Vec<Gone>, pending: &mut VecDeque<Frame>) {
        let why = DropReason::SlowReader;
        let count = gone.len();
        let summary = rules::drop_summary(count, why);
        match &self.bus {
            Some(bus) if summary.is_some() => {
                let count = u32::try_from(count).unwrap_or(u32::MAX);
                bus.publish(gone[0].addr, None, Kind::Drops { count });
            }
            Some(bus) => {
                for g in &gone {
                    let nick = match &g.label {
                        Label::Nick(n) => Some(n.as_str()),
                        Label::Peer(_) => None,
                    };
                    bus.publish(g.addr, nick, Kind::Leave(Some(why)));
                }
            }
            None if summary.is_some() => {
                pending.extend(summary.and_then(|n| self.notice_frame(n)));
            }
            None => {
                for g in gone {
                    pending.extend(self.notice_frame(Notice::Dropped(g.label.sender(), why)));
                }
            }
        }
    }

    /// Tells a removed member's task to disconnect it; returns who it was,
    /// for the notice to the others.
    fn kick(&self, m: Member) -> Gone {
        tracing::info!(peer = %m.addr, "chat client dropped: outgoing queue full");
        if let Some(metrics) = &self.metrics {
            metrics.chat_dropped();
            metrics.chat_members(-1);
        }
        let why = DropReason::SlowReader;
        let now = (self.clock)();
        let mut buf = [0u8; MAX_MESSAGE];
        // A leading newline ends any half-written frame first.
        buf[0] = b'\n';
        let (addr, label) = (m.addr, m.label());
        if let Ok(n) = write_notice(&mut buf[1..], &now, Notice::YouAreDropped(why)) {
            // The member's task may be gone already; nothing to do then.
            let _ = m.kick.send(Frame::from(&buf[..=n]));
        }
        Gone { addr, label }
    }
}

fn is_full<T>(e: mpsc::error::TrySendError<T>) -> bool {
    matches!(e, mpsc::error::TrySendError::Full(_))
}
