//! What a host's files server offers beyond reading, as the [`Full`]
//! extension of a [`FilesServer`]: segmented gets, the upload token's
//! challenge and proof ([`crate::service::file::access`]), and uploads.
//!
//! The session decides everything the protocol decides: whether the
//! policy lets this client upload, the size limit, the proof (HMAC over
//! the nonce and the TLS binding), whether the data frame matches the
//! offer, whether the md5s agree, and every reply's bytes. The driver
//! does what needs the outside world, when an [`Event`] asks: random
//! nonces and the per-address throttle, the partial file (opened, written,
//! emptied, committed by an atomic rename, kept or discarded).
//!
//! An upload, seen from the driver:
//!
//! ```text
//! Event::Put        -> open the partial -> put_ready(kept, md5) | put_refused(text)
//! Event::PutRestart -> empty the partial
//! Event::Data(b)    -> write b (a failed write: put_refused(text); the
//!                      rest of the frame is then read and dropped)
//! Event::PutEnd     -> finish the writes -> put_check(md5 of the partial)
//!                      true: commit -> put_stored() | put_refused(text)
//! Event::PutFailed  -> discard the partial (the session says why, closes)
//! Event::PutAbandoned, or Error::UploadCut from handle_eof
//!                   -> keep the partial for a --resume
//! ```

use heapless::String;

use super::refusal::{Cut, HostWhy, Why};
use super::{Event, FilesServer, Reply};
use crate::service::auth::{nonce_hex, verify_in, NONCE_LEN};
use crate::service::file::access::{may_upload, Policy, Uploader, DOMAIN};
use crate::service::file::native::{Request, Transfer, TransferEvent};
use crate::wire::{Digest, TEXT_CAP};

/// What a session offers beyond reading (see the module docs of
/// [`super`]); implemented by [`ReadOnly`] and [`Full`] only.
pub trait Extension {
    /// The host's extension, if this is it.
    fn full(&mut self) -> Option<&mut Full>;
    /// [`Extension::full`], shared.
    fn full_ref(&self) -> Option<&Full>;
    /// Waiting for the driver's answer to an event.
    fn waiting(&self) -> bool {
        self.full_ref().is_some_and(|x| x.phase.waiting())
    }
    /// An exchange or an upload is under way.
    fn busy(&self) -> bool {
        self.full_ref().is_some_and(|x| x.phase != Phase::Idle)
    }
    /// Nothing learnt on this connection (a proof, a nonce) and nothing
    /// under way: a new session would be the same.
    fn fresh(&self) -> bool {
        self.full_ref()
            .is_none_or(|x| x.phase == Phase::Idle && !x.authed && x.nonce.is_none())
    }
    /// An upload's data frame is being received.
    fn receiving(&self) -> bool {
        self.full_ref()
            .is_some_and(|x| matches!(x.phase, Phase::Receiving { .. } | Phase::Draining))
    }
}

/// The board's: reading only. Zero-sized, and every use of [`Full`]'s
/// code behind it is compiled out.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOnly;

impl Extension for ReadOnly {
    #[inline(always)]
    fn full(&mut self) -> Option<&mut Full> {
        None
    }
    #[inline(always)]
    fn full_ref(&self) -> Option<&Full> {
        None
    }
}

/// A listener's upload settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uploads {
    /// Who may upload ([`may_upload`]); `policy.token` also decides
    /// whether `challenge` is answered.
    pub policy: Policy,
    /// Largest upload accepted, in bytes.
    pub max_size: u64,
}

/// Where the token exchange and the upload stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    /// [`Event::Challenge`] was reported.
    Challenge,
    /// [`Event::Auth`] was reported.
    Proof,
    /// [`Event::Put`] was reported: waiting for the partial.
    Offer {
        size: u64,
    },
    /// Receiving the data frame; `kept` bytes of a partial are resumed.
    Receiving {
        kept: u64,
        size: u64,
    },
    /// Refused during the data frame: the rest is read and dropped, so
    /// the client (which reads nothing while it sends) sees the refusal
    /// rather than a reset.
    Draining,
    /// [`Event::PutEnd`] was reported with the client's md5.
    Verdict {
        size: u64,
        expected: Digest,
    },
    /// The md5s agree: waiting for the commit.
    Commit {
        size: u64,
        md5: Digest,
    },
}

impl Phase {
    fn waiting(self) -> bool {
        !matches!(
            self,
            Phase::Idle | Phase::Receiving { .. } | Phase::Draining
        )
    }
}

/// The host's extension: segmented gets, the token exchange, uploads.
pub struct Full {
    cfg: Uploads,
    authed: bool,
    nonce: Option<String<{ 2 * NONCE_LEN }>>,
    phase: Phase,
    data: Transfer,
    /// The driver's refusal text ([`FilesServer::put_refused`]).
    text: String<TEXT_CAP>,
    /// Why the pending refusal refuses ([`Why::Host`]).
    why: HostWhy,
}

impl Full {
    /// Offers everything, uploads under `cfg`.
    pub fn new(cfg: Uploads) -> Full {
        Full {
            cfg,
            authed: false,
            nonce: None,
            phase: Phase::Idle,
            data: Transfer::new("data", 0),
            text: String::new(),
            why: HostWhy::Driver,
        }
    }

    /// A refusal of `op` for `why`, which this extension keeps for when
    /// the refusal is written.
    pub(super) fn host<F>(&mut self, op: &'static str, why: HostWhy) -> Reply<F> {
        self.why = why;
        Reply::Refuse { op, why: Why::Host }
    }

    pub(super) fn why(&self) -> HostWhy {
        self.why
    }

    pub(super) fn nonce(&self) -> &str {
        self.nonce.as_deref().unwrap_or("")
    }

    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// Starts a `put`, `challenge` or `auth`: the reply, or the event
    /// the driver must answer.
    pub(super) fn start<F>(&mut self, req: Request<'_>) -> (Reply<F>, Event<'static>) {
        match req {
            Request::Challenge if !self.cfg.policy.token => {
                (self.host("challenge", HostWhy::NoToken), Event::Refused)
            }
            Request::Challenge => (self.wait(Phase::Challenge), Event::Challenge),
            Request::Auth { .. } => (self.wait(Phase::Proof), Event::Auth),
            Request::Put { size, .. } => {
                let who = Uploader::Native {
                    authenticated: self.authed,
                };
                if let Err(r) = may_upload(self.cfg.policy, who) {
                    return (self.host("put", HostWhy::Upload(r)), Event::Refused);
                }
                if size > self.cfg.max_size {
                    let max = self.cfg.max_size;
                    return (
                        self.host("put", HostWhy::TooBig { size, max }),
                        Event::Refused,
                    );
                }
                (self.wait(Phase::Offer { size }), Event::Put)
            }
            _ => (Reply::None, Event::Refused),
        }
    }

    fn wait<F>(&mut self, phase: Phase) -> Reply<F> {
        self.phase = phase;
        Reply::None
    }
}

impl Extension for Full {
    fn full(&mut self) -> Option<&mut Full> {
        Some(self)
    }
    fn full_ref(&self) -> Option<&Full> {
        Some(self)
    }
}

/// What one step of the data frame means, copied out of the decoder
/// (so no borrow of it outlives the step).
enum Step {
    None,
    /// The frame's bytes: the last `n` bytes consumed (the frame decoder
    /// hands out a body as the front of its input).
    Data(usize),
    Header {
        offset: u64,
        len: u64,
    },
    End(Digest),
    Abandoned,
    /// The frame was broken: refused already.
    Failed,
}

impl<F: Copy, const H: usize> FilesServer<F, H, Full> {
    /// Answers [`Event::Challenge`] with a nonce made of `random` (fresh
    /// random bytes from the driver).
    pub fn send_challenge(&mut self, random: &[u8; NONCE_LEN]) {
        if self.ext.phase != Phase::Challenge {
            return;
        }
        let hex = nonce_hex(random);
        let mut n = String::new();
        // nonce_hex writes hex digits only.
        let _ = n.push_str(core::str::from_utf8(&hex).unwrap_or(""));
        self.ext.nonce = Some(n);
        self.ext.phase = Phase::Idle;
        self.reply = Reply::Challenge;
    }

    /// Answers [`Event::Challenge`] for an address with too many failed
    /// proofs: refused, try again in `retry_after_secs`; then closed.
    pub fn refuse_throttled(&mut self, retry_after_secs: u64) {
        if self.ext.phase != Phase::Challenge {
            return;
        }
        self.ext.phase = Phase::Idle;
        self.reply = self.ext.host(
            "challenge",
            HostWhy::Throttled {
                secs: retry_after_secs,
            },
        );
        self.closing = true;
    }

    /// Answers [`Event::Auth`]: checks the proof against the last nonce
    /// with the server's `token` (none: every proof fails) and the
    /// connection's TLS `binding` (empty on plain TCP). False for a failed
    /// proof, which the driver counts for the client's address; the
    /// session refuses it and closes.
    pub fn verify(&mut self, token: Option<&[u8]>, binding: &[u8]) -> bool {
        if self.ext.phase != Phase::Proof {
            return false;
        }
        self.ext.phase = Phase::Idle;
        let nonce = self.ext.nonce.take();
        let proof = match self.request() {
            Some(Request::Auth { proof }) => proof,
            _ => "",
        };
        let ok = match (token, nonce) {
            (Some(t), Some(n)) => verify_in(DOMAIN, t, &n, binding, proof),
            _ => false,
        };
        if ok {
            self.ext.authed = true;
            self.reply = Reply::AuthOk;
        } else {
            self.reply = self.ext.host("auth", HostWhy::AuthFailed);
            self.closing = true;
        }
        ok
    }

    /// Answers [`Event::Put`]: the partial is open, `kept` bytes of an
    /// earlier one are resumed (`prefix`: their md5).
    pub fn put_ready(&mut self, kept: u64, prefix: Option<Digest>) {
        let Phase::Offer { size } = self.ext.phase else {
            return;
        };
        let kept = kept.min(size);
        self.ext.data = Transfer::new("data", size);
        self.ext.phase = Phase::Receiving { kept, size };
        self.reply = Reply::Ready { kept, prefix };
    }

    /// Refuses the upload with the driver's `text` (no partial, a failed
    /// write, a failed commit). During the data frame the rest of it is
    /// read and dropped, so the connection stays usable.
    pub fn put_refused(&mut self, text: &str) {
        let next = match self.ext.phase {
            Phase::Receiving { .. } | Phase::Draining => Phase::Draining,
            Phase::Offer { .. } | Phase::Verdict { .. } | Phase::Commit { .. } => Phase::Idle,
            _ => return,
        };
        self.ext.text.clear();
        let _ = core::fmt::Write::write_str(&mut Cut(&mut self.ext.text), text);
        self.ext.phase = next;
        self.reply = self.ext.host("put", HostWhy::Driver);
    }

    /// Answers [`Event::PutEnd`] with the md5 of what the partial holds.
    /// True: it matches the client's, commit the partial, then
    /// [`FilesServer::put_stored`]. False: the session refuses, discard it.
    pub fn put_check(&mut self, actual: Digest) -> bool {
        let Phase::Verdict { size, expected } = self.ext.phase else {
            return false;
        };
        if actual != expected {
            self.ext.phase = Phase::Idle;
            self.reply = self
                .ext
                .host("put", HostWhy::Md5Mismatch { expected, actual });
            return false;
        }
        self.ext.phase = Phase::Commit { size, md5: actual };
        true
    }

    /// The upload is under its final name: the client is told.
    pub fn put_stored(&mut self) {
        if let Phase::Commit { size, md5 } = self.ext.phase {
            self.ext.phase = Phase::Idle;
            self.reply = Reply::PutOk { size, md5 };
        }
    }
}

impl<F: Copy, const H: usize, X: super::Extension> FilesServer<F, H, X> {
    /// Receives the next piece of an upload's data frame: bytes consumed
    /// and what the driver must do.
    pub(super) fn receive<'a>(&mut self, input: &'a [u8]) -> (usize, Option<Event<'a>>) {
        let mut used = 0;
        // Only the end of a body is a step without input; two in a row
        // would be a decoder fault, not a reason to spin.
        let mut stalled = false;
        loop {
            let (n, ev) = self.receive_step(&input[used..]);
            used += n;
            match ev {
                Some(Some(Step::Data(k))) => {
                    return (used, Some(Event::Data(&input[used - k..used])))
                }
                Some(Some(step)) => return (used, self.upload_step(step)),
                Some(None) => return (used, None),
                None if used == input.len() || (n == 0 && stalled) => return (used, None),
                None => stalled = n == 0,
            }
        }
    }

    /// One decoder step: `Some(Some(step))` to act on, `Some(None)` when
    /// the session is done with this input, `None` to go on.
    fn receive_step(&mut self, input: &[u8]) -> (usize, Option<Option<Step>>) {
        let Some(x) = self.ext.full() else {
            return (0, Some(None));
        };
        let draining = x.phase == Phase::Draining;
        let step = match x.data.decode(input) {
            Err(e) => {
                x.phase = Phase::Idle;
                self.closing = true;
                if draining {
                    return (input.len(), Some(None));
                }
                self.reply = x.host("put", HostWhy::Data(e));
                return (input.len(), Some(Some(Step::Failed)));
            }
            Ok((used, Some(TransferEvent::Data(b)))) => (used, Step::Data(b.len())),
            Ok((used, Some(TransferEvent::Header(h)))) => (
                used,
                Step::Header {
                    offset: h.offset.unwrap_or(0),
                    len: h.total_size,
                },
            ),
            Ok((used, Some(TransferEvent::End(d)))) => (used, Step::End(d)),
            Ok((used, Some(TransferEvent::Refused(_)))) => (used, Step::Abandoned),
            Ok((used, _)) => (used, Step::None),
        };
        match step {
            (used, Step::None) => (used, None),
            (used, Step::Data(_)) if draining => (used, None),
            (used, step) => (used, Some(Some(step))),
        }
    }

    /// Acts on a step of the data frame.
    fn upload_step(&mut self, step: Step) -> Option<Event<'static>> {
        let x = self.ext.full()?;
        let draining = x.phase == Phase::Draining;
        let (kept, size) = match x.phase {
            Phase::Receiving { kept, size } => (kept, size),
            _ => (0, 0),
        };
        match step {
            Step::None | Step::Data(_) => None,
            Step::Failed => Some(Event::PutFailed),
            Step::Abandoned => {
                x.phase = Phase::Idle;
                self.closing = true;
                (!draining).then_some(Event::PutAbandoned)
            }
            Step::End(_) if draining => {
                x.phase = Phase::Idle;
                None
            }
            Step::End(expected) => {
                x.phase = Phase::Verdict { size, expected };
                Some(Event::PutEnd)
            }
            Step::Header { .. } if draining => None,
            Step::Header { offset, len }
                if (offset != kept && offset != 0) || len != size - offset =>
            {
                x.phase = Phase::Idle;
                self.closing = true;
                self.reply = x.host("put", HostWhy::DataMismatch { offset });
                Some(Event::PutFailed)
            }
            // The client starts over rather than resume.
            Step::Header { offset: 0, .. } if kept > 0 => {
                x.phase = Phase::Receiving { kept: 0, size };
                Some(Event::PutRestart)
            }
            Step::Header { .. } => None,
        }
    }
}
