//! The chat room: who is connected, and fan-out of frames to them.
//!
//! Each member has a bounded outgoing queue of shared frames (`Arc<[u8]>`,
//! one allocation per broadcast whatever the room size). Delivering is a
//! `try_send` to every queue under a short `std` mutex that is never held
//! across an `.await` or a socket write; a member whose queue is full is
//! removed on the spot and told through its kick channel, so one stalled
//! reader can never delay the others (tokio's chat example uses unbounded
//! queues instead, which lets a stalled reader eat memory without limit).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, oneshot};
use wirekit_core::service::chat::{
    write_message_as, write_notice, write_who, DropReason, Notice, Relay, Sender, MAX_MESSAGE,
};
use wirekit_core::strftime::Tm;

/// Above this many clients dropped in one delivery, the others get one
/// summary notice instead of one notice each.
const MAX_DROP_NOTICES: usize = 8;

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

struct Member {
    addr: SocketAddr,
    nick: Option<String>,
    tx: mpsc::Sender<Frame>,
    kick: oneshot::Sender<Frame>,
}

impl Member {
    fn sender(&self) -> Sender<'_> {
        match &self.nick {
            Some(n) => Sender::Nick(n),
            None => Sender::Peer(self.addr),
        }
    }

    fn label(&self) -> Label {
        match &self.nick {
            Some(n) => Label::Nick(n.clone()),
            None => Label::Peer(self.addr),
        }
    }
}

/// An owned [`Sender`], for notices about members already removed.
enum Label {
    Peer(SocketAddr),
    Nick(String),
}

impl Label {
    fn sender(&self) -> Sender<'_> {
        match self {
            Label::Peer(a) => Sender::Peer(*a),
            Label::Nick(n) => Sender::Nick(n),
        }
    }
}

/// The shared room.
pub struct Room {
    members: Mutex<BTreeMap<u64, Member>>,
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
        let (tx, frames) = mpsc::channel(self.config.queue.max(1));
        let (kick, kicked) = oneshot::channel();
        let online = {
            let mut members = self.lock();
            members.insert(
                id,
                Member {
                    addr,
                    nick: None,
                    tx,
                    kick,
                },
            );
            members.len()
        };
        if let Some(m) = &self.metrics {
            m.chat_members(1);
        }
        let who = Sender::Peer(addr);
        self.broadcast_notice(Notice::Joined { who, online });
        Membership { id, frames, kicked }
    }

    /// Broadcasts a line said by member `id`.
    pub fn say(&self, id: u64, line: &[u8]) {
        if let Some(m) = &self.metrics {
            m.chat_message();
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
        self.deliver(frame);
    }

    /// Sets member `id`'s nickname (already validated) if nobody else has
    /// it, telling everyone; otherwise tells only `id`.
    pub fn rename(&self, id: u64, name: &str) {
        let mut buf = [0u8; MAX_MESSAGE];
        let now = (self.clock)();
        let result = {
            let mut members = self.lock();
            let taken = members.iter().any(|(k, m)| {
                *k != id
                    && m.nick
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
            });
            match members.get_mut(&id) {
                None => return,
                Some(_) if taken => {
                    write_notice(&mut buf, &now, Notice::NickTaken(name)).map(|n| (n, false))
                }
                Some(m) => {
                    let old = m.label();
                    m.nick = Some(name.to_owned());
                    let notice = Notice::Renamed {
                        from: old.sender(),
                        to: name,
                    };
                    write_notice(&mut buf, &now, notice).map(|n| (n, true))
                }
            }
        };
        match result {
            Ok((n, true)) => self.deliver(Frame::from(&buf[..n])),
            Ok((n, false)) => self.send_to(id, Frame::from(&buf[..n])),
            Err(e) => tracing::warn!(id, "rename notice not sent: {e}"),
        }
    }

    /// Answers `/who` to member `id` only.
    pub fn who(&self, id: u64) {
        let mut buf = [0u8; MAX_MESSAGE];
        let written = {
            let members = self.lock();
            let senders = members.values().map(Member::sender);
            write_who(&mut buf, &(self.clock)(), members.len(), senders)
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
        if let Some(frame) = self.notice_frame(notice) {
            self.deliver(frame);
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
            if let Some(notice) = self.kick(m) {
                self.deliver(notice);
            }
        }
    }

    /// Queues a frame for every member. Members whose queue is full are
    /// removed and kicked, and the others are told in further rounds
    /// until a round drops nobody; each round removes someone, so this
    /// ends, and it is a loop rather than recursion to bound the stack.
    fn deliver(&self, frame: Frame) {
        let mut pending = VecDeque::from([frame]);
        while let Some(frame) = pending.pop_front() {
            let slow: Vec<Member> = {
                let mut members = self.lock();
                let full: Vec<u64> = members
                    .iter()
                    .filter(|(_, m)| m.tx.try_send(frame.clone()).is_err_and(is_full))
                    .map(|(id, _)| *id)
                    .collect();
                full.iter().filter_map(|id| members.remove(id)).collect()
            };
            if slow.len() > MAX_DROP_NOTICES {
                let count = slow.len();
                for m in slow {
                    let _ = self.kick(m);
                }
                let why = DropReason::SlowReader;
                pending.extend(self.notice_frame(Notice::ManyDropped { count, why }));
            } else {
                pending.extend(slow.into_iter().filter_map(|m| self.kick(m)));
            }
        }
    }

    /// Tells a removed member's task to disconnect it; returns the notice
    /// for the others.
    fn kick(&self, m: Member) -> Option<Frame> {
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
        let label = m.label();
        if let Ok(n) = write_notice(&mut buf[1..], &now, Notice::YouAreDropped(why)) {
            // The member's task may be gone already; nothing to do then.
            let _ = m.kick.send(Frame::from(&buf[..=n]));
        }
        let n = write_notice(&mut buf, &now, Notice::Dropped(label.sender(), why)).ok()?;
        Some(Frame::from(&buf[..n]))
    }
}

fn is_full<T>(e: mpsc::error::TrySendError<T>) -> bool {
    matches!(e, mpsc::error::TrySendError::Full(_))
}
