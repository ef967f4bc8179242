//! The last said frames of a room, sent to newcomers (`--chat-history`).
//!
//! The room takes this lock only while it holds its member lock, so a
//! newcomer gets each line either from here or live, never both or
//! neither.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::mpsc;

use super::room::Frame;

/// Up to `cap` frames, oldest first.
pub struct History {
    cap: usize,
    frames: Mutex<VecDeque<Frame>>,
}

impl History {
    /// Keeps the last `cap` frames (0: none).
    pub fn new(cap: usize) -> History {
        History {
            cap,
            frames: Mutex::new(VecDeque::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Frame>> {
        // Every update is one push or pop: poisoning cannot leave it torn.
        self.frames.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether frames are kept at all.
    pub fn enabled(&self) -> bool {
        self.cap > 0
    }

    /// Adds a frame, dropping the oldest beyond the limit.
    pub fn push(&self, frame: Frame) {
        if self.cap == 0 {
            return;
        }
        let mut frames = self.lock();
        if frames.len() >= self.cap {
            frames.pop_front();
        }
        frames.push_back(frame);
    }

    /// Queues the kept frames for a newcomer (its queue holds at least
    /// `cap` frames, so none is refused).
    pub fn replay(&self, tx: &mpsc::Sender<Frame>) {
        for frame in self.lock().iter() {
            let _ = tx.try_send(frame.clone());
        }
    }
}
