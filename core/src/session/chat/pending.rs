//! What waits for [`super::Room::poll_output`]: said lines, system lines
//! and `/who` answers, as small descriptions (never formatted frames: they
//! are written into the driver's buffer when it asks), and how a member is
//! shown in them.

use core::net::SocketAddr;

use heapless::String;

use super::{Dest, MemberId};
use crate::service::chat::{DropReason, NickError, Notice, Sender, MAX_NICK};

/// How a member is shown: its address until it picks a nickname.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Label {
    Peer(SocketAddr),
    Nick(String<MAX_NICK>),
}

impl Label {
    pub(super) fn sender(&self) -> Sender<'_> {
        match self {
            Label::Peer(a) => Sender::Peer(*a),
            Label::Nick(n) => Sender::Nick(n),
        }
    }
}

/// A system line waiting to be written.
#[derive(Debug, Clone)]
pub(super) enum Note {
    Joined(Label, usize),
    Left(Label),
    Dropped(Label, DropReason),
    Renamed(Label, String<MAX_NICK>),
    NickTaken(String<MAX_NICK>),
    BadNick(NickError),
    LineTooLong(usize),
    YouAreDropped(DropReason),
}

impl Note {
    /// A refusal to one member (see [`super::rules::Decision::Refuse`]),
    /// owned. Only the refusals the rules make are expected here.
    pub(super) fn refusal(notice: Notice<'_>) -> Note {
        match notice {
            Notice::NickTaken(n) => {
                String::try_from(n).map_or(Note::BadNick(NickError::TooLong), Note::NickTaken)
            }
            Notice::LineTooLong { limit } => Note::LineTooLong(limit),
            Notice::BadNick(e) => Note::BadNick(e),
            // The rules refuse with nothing else; a bad nickname is the
            // closest honest answer should that change.
            _ => Note::BadNick(NickError::BadChar),
        }
    }

    pub(super) fn notice(&self) -> Notice<'_> {
        match self {
            Note::Joined(who, online) => Notice::Joined {
                who: who.sender(),
                online: *online,
            },
            Note::Left(who) => Notice::Left(who.sender()),
            Note::Dropped(who, why) => Notice::Dropped(who.sender(), *why),
            Note::Renamed(from, to) => Notice::Renamed {
                from: from.sender(),
                to,
            },
            Note::NickTaken(n) => Notice::NickTaken(n),
            Note::BadNick(e) => Notice::BadNick(*e),
            Note::LineTooLong(limit) => Notice::LineTooLong { limit: *limit },
            Note::YouAreDropped(why) => Notice::YouAreDropped(*why),
        }
    }
}

/// Output waiting for [`super::Room::poll_output`].
#[derive(Debug, Clone)]
pub(super) enum Pending {
    /// A said line; its text is in the room's `said` buffer.
    Say(Label),
    Note(Dest, Note),
    Who(MemberId),
}
