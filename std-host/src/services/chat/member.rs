//! A chat room's members as the room keeps them, and how a broadcast
//! frame is classed for members that are behind (see [`Class`]).

use std::net::SocketAddr;

use tokio::sync::{mpsc, oneshot};
#[cfg(doc)]
use wirekit_core::service::chat::Notice;
use wirekit_core::service::chat::Sender;

use super::room::Frame;

pub(super) struct Member {
    pub(super) addr: SocketAddr,
    pub(super) nick: Option<String>,
    pub(super) tx: mpsc::Sender<Frame>,
    pub(super) kick: oneshot::Sender<Frame>,
    /// Presence notices left out while its queue was nearly full.
    pub(super) skipped: usize,
}

impl Member {
    pub(super) fn sender(&self) -> Sender<'_> {
        match &self.nick {
            Some(n) => Sender::Nick(n),
            None => Sender::Peer(self.addr),
        }
    }

    pub(super) fn label(&self) -> Label {
        match &self.nick {
            Some(n) => Label::Nick(n.clone()),
            None => Label::Peer(self.addr),
        }
    }
}

/// An owned [`Sender`], for notices about members already removed.
pub(super) enum Label {
    Peer(SocketAddr),
    Nick(String),
}

impl Label {
    pub(super) fn sender(&self) -> Sender<'_> {
        match self {
            Label::Peer(a) => Sender::Peer(*a),
            Label::Nick(n) => Sender::Nick(n),
        }
    }
}

/// What a broadcast frame is, for a member whose queue is nearly full.
///
/// A burst of joins (thousands of clients reconnecting after a restart)
/// puts one notice per join in every queue, faster than the server's own
/// writers get to run; dropping members for that would turn a reconnect
/// storm into a disconnect storm. So presence notices are left out for a
/// member whose queue is over three quarters full, counted, and replaced
/// by one [`Notice::Skipped`] once it has room again. Said lines are never
/// left out: a member too slow for those is still dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A line someone said (kept for newcomers too).
    Said,
    /// A join, leave or drop notice: may be skipped under pressure.
    Presence,
    /// Anything else everyone must get (renames, server texts).
    Other,
}

/// A member removed for being too slow, to be announced.
pub(super) struct Gone {
    pub(super) addr: SocketAddr,
    pub(super) label: Label,
}
