//! Seed 002's `put` inside [`Seed002Server`]: the size preamble, then
//! chunk frames whose md5s the session checks, then the answer
//! `NAME 上传成功` or `NAME 上传失败: why`.
//!
//! The policy is the native dialect's ([`may_upload`] with
//! [`Uploader::Seed`]: with a token, or off loopback without
//! `--files-writable`, a seed upload is refused), and so is the driver's
//! part, asked for with the same [`Event`]s:
//!
//! ```text
//! Event::Put     -> open the partial -> put_ready() | put_refused(text)
//! Event::Data(b) -> write b (chunk md5s are checked as chunks end; a
//!                   failed write: put_refused(text), the rest is drained)
//! Event::PutEnd  -> finish the writes and commit -> put_stored() | put_refused(text)
//! Event::PutFailed, or Error::UploadCut from handle_eof
//!                -> discard the partial (seed 002 cannot resume)
//! ```
//!
//! A refused upload is still read to its end, so the seed client, which
//! reads nothing while it sends, sees the answer rather than a reset. A
//! malformed stream (a negative or too large size, a chunk whose md5 does
//! not match, a broken frame) is answered at once and the session closes.

use core::fmt::Write as _;

use heapless::String;

use super::seed002::{Reply, Seed002Server};
use super::why::Why;
use super::Fit;
use crate::service::file::access::{may_upload, Uploader};
use crate::service::file::name;
use crate::service::file::seed002::{Upload, UploadError, UploadEvent, MAX_SIZE};
use crate::session::files::refusal::Cut;
use crate::session::files::{Event, FileStore};
use crate::wire::TEXT_CAP;

/// Where an upload stands.
#[derive(Debug, Clone, Copy)]
enum Phase {
    Idle,
    /// Waiting for the size preamble.
    Preamble,
    /// [`Event::Put`] was reported: waiting for the partial.
    Offer,
    Receiving,
    /// Refused: the rest of the stream is read and dropped.
    Draining(Why),
    /// [`Event::PutEnd`] was reported: waiting for the commit.
    Verdict,
}

/// An upload's state in a [`Seed002Server`].
pub(super) struct Put {
    dec: Upload,
    phase: Phase,
    /// The driver's refusal text ([`Seed002Server::put_refused`]).
    text: String<TEXT_CAP>,
}

impl Put {
    pub(super) fn new() -> Put {
        Put {
            dec: Upload::new(0),
            phase: Phase::Idle,
            text: String::new(),
        }
    }

    pub(super) fn idle(&self) -> bool {
        matches!(self.phase, Phase::Idle)
    }

    /// Waiting for the driver's answer to an event.
    pub(super) fn waiting(&self) -> bool {
        matches!(self.phase, Phase::Offer | Phase::Verdict)
    }

    /// The client went away mid-upload.
    pub(super) fn cut(&mut self) {
        self.phase = Phase::Idle;
    }
}

/// One decoder step, copied out of the decoder.
enum Step {
    None,
    Size,
    /// The last `n` bytes consumed are file bytes.
    Data(usize),
    Done,
    Other,
}

impl<F: Copy> Seed002Server<F> {
    /// A `put NAME` arrived: its stream follows.
    pub(super) fn start_put(&mut self) {
        let max = self.uploads.map_or(MAX_SIZE, |u| u.max_size);
        self.put.dec = Upload::new(max);
        self.put.phase = Phase::Preamble;
    }

    /// The upload being offered or received: its name and size.
    pub fn put_request(&self) -> Option<(&str, u64)> {
        match self.put.phase {
            Phase::Offer | Phase::Receiving | Phase::Verdict => {
                Some((self.name(), self.put.dec.size()?))
            }
            _ => None,
        }
    }

    /// Answers [`Event::Put`]: the partial is open, send the bytes.
    pub fn put_ready(&mut self) {
        if let Phase::Offer = self.put.phase {
            self.put.phase = Phase::Receiving;
        }
    }

    /// Refuses the upload with the driver's `text` (no partial, a failed
    /// write or commit, a busy server). During the stream the rest is read
    /// and dropped first.
    pub fn put_refused(&mut self, text: &str) {
        self.put.text.clear();
        // Cut never fails.
        let _ = Cut(&mut self.put.text).write_str(text);
        match self.put.phase {
            Phase::Offer | Phase::Receiving => self.put.phase = Phase::Draining(Why::Driver),
            Phase::Verdict => {
                self.put.phase = Phase::Idle;
                self.reply = Reply::Answer {
                    why: Some(Why::Driver),
                };
            }
            _ => {}
        }
    }

    /// Answers [`Event::PutEnd`]: the upload is under its final name.
    pub fn put_stored(&mut self) {
        if let Phase::Verdict = self.put.phase {
            self.put.phase = Phase::Idle;
            self.reply = Reply::Answer { why: None };
        }
    }

    /// Decodes the upload stream up to the next thing the driver must do.
    pub(super) fn receive<'a>(&mut self, now: u64, input: &'a [u8]) -> (usize, Option<Event<'a>>) {
        if self.put.waiting() {
            return (0, None);
        }
        if !input.is_empty() {
            self.c.last = now;
        }
        let mut used = 0;
        // A step that consumes nothing twice in a row would be a decoder
        // fault, not a reason to spin.
        let mut stalled = false;
        loop {
            let (n, step) = match self.put.dec.decode(&input[used..]) {
                Err(e) => return (input.len(), Some(self.stream_failed(e))),
                Ok((n, ev)) => (n, step_of(ev)),
            };
            used += n;
            match step {
                Step::None => return (used, None),
                Step::Data(k) if matches!(self.put.phase, Phase::Receiving) => {
                    return (used, Some(Event::Data(&input[used - k..used])))
                }
                Step::Size => {
                    if let Some(ev) = self.offer() {
                        return (used, Some(ev));
                    }
                }
                Step::Done => return (used, Some(self.stream_done())),
                Step::Data(_) | Step::Other if n == 0 && stalled => return (used, None),
                Step::Data(_) | Step::Other => {}
            }
            stalled = n == 0;
        }
    }

    /// The size arrived: the policy decides, then the driver.
    fn offer(&mut self) -> Option<Event<'static>> {
        let why = match self.uploads {
            None => Some(Why::ReadOnly),
            Some(u) => may_upload(u.policy, Uploader::Seed).err().map(Why::Upload),
        };
        let why = why.or_else(|| name::check(self.name(), false).err().map(Why::Name));
        match why {
            Some(why) => {
                self.put.phase = Phase::Draining(why);
                None
            }
            None => {
                self.put.phase = Phase::Offer;
                Some(Event::Put)
            }
        }
    }

    /// Every chunk arrived and matched its md5.
    fn stream_done(&mut self) -> Event<'static> {
        match self.put.phase {
            Phase::Draining(why) => {
                self.put.phase = Phase::Idle;
                self.reply = Reply::Answer { why: Some(why) };
                Event::Refused
            }
            _ => {
                self.put.phase = Phase::Verdict;
                Event::PutEnd
            }
        }
    }

    /// A malformed stream: answered at once, then the session closes.
    fn stream_failed(&mut self, e: UploadError) -> Event<'static> {
        let had_partial = matches!(self.put.phase, Phase::Receiving);
        self.put.phase = Phase::Idle;
        self.reply = Reply::Answer {
            why: Some(Why::Stream(e)),
        };
        self.c.closing = true;
        match had_partial {
            true => Event::PutFailed,
            false => Event::Refused,
        }
    }

    /// Writes a put's answer; `None` until `buf` holds it.
    pub(super) fn answer<S: FileStore<File = F>>(
        &self,
        store: &mut S,
        why: Option<Why>,
        buf: &mut [u8],
    ) -> Option<usize> {
        let name = self.name();
        let mut w = Fit::new(buf);
        let _ = match why {
            None => write!(w, "{name} 上传成功"),
            Some(why) => write!(w, "{name} 上传失败: ")
                .and_then(|()| why.write(name, store, &self.put.text, &mut w)),
        };
        let n = w.done()?;
        if let Some(why) = why {
            let text = why.log_text(name, store, &self.put.text);
            store.refused("put", &text);
        }
        Some(n)
    }
}

fn step_of(ev: Option<UploadEvent<'_>>) -> Step {
    match ev {
        None => Step::None,
        Some(UploadEvent::Size(_)) => Step::Size,
        Some(UploadEvent::Data(b)) => Step::Data(b.len()),
        Some(UploadEvent::Done) => Step::Done,
        Some(UploadEvent::Chunk { .. } | UploadEvent::ChunkVerified) => Step::Other,
    }
}
