//! A chat room's members as the room keeps them. How a member that is
//! behind is treated is the core's decision
//! ([`wirekit_core::session::chat::rules`]); a member keeps its
//! [`Backlog`] for it.

use std::net::SocketAddr;

use tokio::sync::{mpsc, oneshot};
use wirekit_core::service::chat::Sender;
use wirekit_core::session::chat::rules::Backlog;

use super::room::Frame;

pub(super) struct Member {
    pub(super) addr: SocketAddr,
    pub(super) nick: Option<String>,
    pub(super) tx: mpsc::Sender<Frame>,
    pub(super) kick: oneshot::Sender<Frame>,
    /// Presence notices left out while its queue was nearly full.
    pub(super) backlog: Backlog,
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

/// A member removed for being too slow, to be announced.
pub(super) struct Gone {
    pub(super) addr: SocketAddr,
    pub(super) label: Label,
}
