//! The room's decisions, in one place for every driver: what a member's
//! line does and to whom it goes ([`decide`]), how a broadcast is classed
//! ([`Class`]), and what happens to a member that is behind
//! ([`Backlog::offer`]). The board's [`Room`](super::Room) and the host's
//! room (which spans nodes and keeps a queue per member) both decide
//! through these functions; they differ only in how they move the frames.
//!
//! ```
//! use wirekit_core::service::chat::{parse_line, Notice};
//! use wirekit_core::session::chat::rules::{decide, Backlog, Class, Decision, Offer};
//!
//! // A nickname someone else already has (in any case) is refused to the
//! // sender only.
//! let taken = |name: &str| name.eq_ignore_ascii_case("alice");
//! assert_eq!(
//!     decide(parse_line(b"/nick ALICE"), taken),
//!     Decision::Refuse(Notice::NickTaken("ALICE"))
//! );
//! assert_eq!(decide(parse_line(b"hello"), taken), Decision::Say(b"hello"));
//!
//! // A member with 1 free slot of 8 skips presence notices, never lines.
//! let mut backlog = Backlog::default();
//! assert_eq!(backlog.offer(Class::Presence, 1, 8), Offer::Skip);
//! assert_eq!(backlog.offer(Class::Said, 1, 8), Offer::Queue { skipped: None });
//! // Once it has caught up, it is told what it missed, then gets the frame.
//! assert_eq!(backlog.offer(Class::Said, 7, 8), Offer::Queue { skipped: Some(1) });
//! assert_eq!(backlog.offer(Class::Said, 0, 8), Offer::Drop);
//! ```

use crate::service::chat::{Input, Notice};

/// Above this many members dropped at once, the others get one
/// [`Notice::ManyDropped`] instead of one notice each, so a mass drop
/// does not add a storm of notices to the one that caused it.
pub const MAX_DROP_NOTICES: usize = 8;

/// What a member's line does to the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Nothing (a blank line).
    Nothing,
    /// Say the text to everyone, the sender included (as the seed does).
    Say(&'a [u8]),
    /// Answer `/who` to the sender only.
    Who,
    /// Give the sender this nickname and tell everyone.
    Rename(&'a str),
    /// Tell the sender only; nothing else changes.
    Refuse(Notice<'a>),
    /// The sender leaves, as if it had closed the connection.
    Leave,
}

/// What `input` from a member does; `nick_in_use(name)` says whether
/// another member already has `name` (compare with [`same_nick`]).
pub fn decide<'a>(input: Input<'a>, nick_in_use: impl FnOnce(&str) -> bool) -> Decision<'a> {
    match input {
        Input::Blank => Decision::Nothing,
        Input::Quit => Decision::Leave,
        Input::Say(text) => Decision::Say(text),
        Input::Who => Decision::Who,
        Input::BadNick(e) => Decision::Refuse(Notice::BadNick(e)),
        Input::Nick(name) if nick_in_use(name) => Decision::Refuse(Notice::NickTaken(name)),
        Input::Nick(name) => Decision::Rename(name),
    }
}

/// What a line over the limit does: the sender is told, the room is not.
pub fn too_long(limit: usize) -> Decision<'static> {
    Decision::Refuse(Notice::LineTooLong { limit })
}

/// Whether two nicknames are the same one: ASCII case does not make a
/// different name (`Alice` and `alice` would be indistinguishable to
/// readers).
pub fn same_nick(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// How the others hear about members dropped at once: `Some(notice)` for
/// one summary line, `None` for one [`Notice::Dropped`] each.
pub fn drop_summary(
    count: usize,
    why: crate::service::chat::DropReason,
) -> Option<Notice<'static>> {
    (count > MAX_DROP_NOTICES).then_some(Notice::ManyDropped { count, why })
}

/// What a broadcast frame is, for a member that is behind.
///
/// A burst of joins (thousands of clients reconnecting after a restart)
/// puts one notice per join in front of every member, faster than a
/// server's writers get to run; dropping members for that would turn a
/// reconnect storm into a disconnect storm. So presence notices may be
/// left out for a member that is nearly full (and summarised with
/// [`Notice::Skipped`] later); said lines never are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A line someone said (kept for newcomers too).
    Said,
    /// A join, leave or drop notice: may be skipped under pressure.
    Presence,
    /// Anything else everyone must get (renames, server texts).
    Other,
}

impl Class {
    /// The class of a notice sent to everyone.
    pub fn of_notice(notice: &Notice<'_>) -> Class {
        match notice {
            Notice::Joined { .. }
            | Notice::Left(_)
            | Notice::Dropped(..)
            | Notice::ManyDropped { .. }
            | Notice::ManyLeft { .. } => Class::Presence,
            _ => Class::Other,
        }
    }
}

/// What to do with a frame for one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Give it the frame; first, if `skipped` is `Some(n)`, a
    /// [`Notice::Skipped`] for the `n` notices it was not sent.
    Queue {
        /// Notices skipped since it was last told.
        skipped: Option<usize>,
    },
    /// Leave this (presence) frame out; it is counted.
    Skip,
    /// The member cannot take what it must get: drop it as too slow.
    Drop,
}

/// A member's standing in the slow-client policy: the notices it was not
/// sent while it was behind. The policy is a decision, not a queue: the
/// driver says how much room the member has, the backlog says what to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    skipped: usize,
}

impl Backlog {
    /// Decides about one frame of `class` for a member with room for
    /// `free` more frames out of `cap`: presence notices are skipped while
    /// less than a quarter is free; the summary of skipped ones goes out
    /// once more than half is free (and there is room for it and the
    /// frame); a member without room for a frame it must get is dropped.
    pub fn offer(&mut self, class: Class, free: usize, cap: usize) -> Offer {
        let cap = cap.max(1);
        if class == Class::Presence && free < cap / 4 {
            self.skipped = self.skipped.saturating_add(1);
            return Offer::Skip;
        }
        if free == 0 {
            return Offer::Drop;
        }
        let skipped = match self.skipped {
            n if n > 0 && free > cap / 2 && free >= 2 => {
                self.skipped = 0;
                Some(n)
            }
            _ => None,
        };
        Offer::Queue { skipped }
    }

    /// Notices left out and not yet summarised.
    pub fn skipped(&self) -> usize {
        self.skipped
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::service::chat::{parse_line, DropReason};

    #[test]
    fn said_lines_are_never_skipped_and_a_full_member_is_dropped() {
        let mut b = Backlog::default();
        for free in 1..8 {
            assert!(matches!(b.offer(Class::Said, free, 8), Offer::Queue { .. }));
        }
        assert_eq!(b.offer(Class::Said, 0, 8), Offer::Drop);
        assert_eq!(b.offer(Class::Other, 0, 8), Offer::Drop);
    }

    #[test]
    fn summary_waits_for_room() {
        let mut b = Backlog::default();
        assert_eq!(b.offer(Class::Presence, 0, 8), Offer::Skip);
        assert_eq!(b.offer(Class::Presence, 1, 8), Offer::Skip);
        // Past a quarter but not past half: the frame, no summary yet.
        assert_eq!(
            b.offer(Class::Presence, 3, 8),
            Offer::Queue { skipped: None }
        );
        assert_eq!(b.skipped(), 2);
        assert_eq!(
            b.offer(Class::Other, 5, 8),
            Offer::Queue { skipped: Some(2) }
        );
        assert_eq!(b.skipped(), 0);
    }

    #[test]
    fn decisions() {
        let none = |_: &str| false;
        assert_eq!(decide(parse_line(b""), none), Decision::Nothing);
        assert_eq!(decide(parse_line(b"quit"), none), Decision::Leave);
        assert_eq!(decide(parse_line(b"/who"), none), Decision::Who);
        assert_eq!(
            decide(parse_line(b"/nick bob"), none),
            Decision::Rename("bob")
        );
        assert!(matches!(
            decide(parse_line(b"/nick "), none),
            Decision::Refuse(Notice::BadNick(_))
        ));
        assert!(same_nick("Bob", "bOB"));
        assert_eq!(drop_summary(MAX_DROP_NOTICES, DropReason::SlowReader), None);
        assert!(drop_summary(MAX_DROP_NOTICES + 1, DropReason::SlowReader).is_some());
    }

    proptest! {
        /// Over any sequence of offers: a said line is skipped never; a
        /// member with room is dropped never; every skipped notice is
        /// summarised exactly once (counted here against the backlog).
        #[test]
        fn offers_account_for_every_skip(
            steps in proptest::collection::vec((0u8..3, 0usize..=16), 0..200),
            cap in 1usize..16,
        ) {
            let mut b = Backlog::default();
            let (mut skips, mut told) = (0usize, 0usize);
            for (c, free) in steps {
                let free = free.min(cap);
                let class = [Class::Said, Class::Presence, Class::Other][usize::from(c)];
                match b.offer(class, free, cap) {
                    Offer::Skip => {
                        prop_assert_eq!(class, Class::Presence);
                        skips += 1;
                    }
                    Offer::Drop => prop_assert_eq!(free, 0),
                    Offer::Queue { skipped } => {
                        prop_assert!(free > 0);
                        told += skipped.unwrap_or(0);
                    }
                }
            }
            prop_assert_eq!(skips, told + b.skipped());
        }
    }
}
