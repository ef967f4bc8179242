//! Decoding one file transfer on the receiving side: a header frame with
//! the bytes as its body, then the `end` trailer with the file's md5.
//! Used by the server for `put` (`data` + `end`) and by the client for
//! `get` (`get` reply + `end`).

use super::{refusal, HEADER_CAP};
use crate::codec::frame::{Event, FrameDecoder, FrameError, Limits};
use crate::wire::{Digest, Header};

/// A step of a transfer.
#[derive(Debug, PartialEq, Eq)]
pub enum TransferEvent<'a> {
    /// The header frame (check its fields before taking the bytes).
    Header(&'a Header),
    /// The next bytes of the file.
    Data(&'a [u8]),
    /// All the bytes arrived; the md5 trailer is next.
    BodyEnd,
    /// A segmented get ([`super::segments::Segments`]) moved on to its
    /// next segment (a `data` header, or a segment's end): nothing to do.
    Segment,
    /// The trailer: the md5 the sender computed over the whole file.
    End(Digest),
    /// The peer refused, in place of the header or the trailer: its
    /// message. The transfer is over.
    Refused(&'a str),
}

/// Why a transfer failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferError {
    /// The framing is broken.
    Frame(FrameError),
    /// A frame with the wrong `op` (expected, got).
    UnexpectedOp(&'static str),
    /// The trailer has no md5.
    NoMd5,
    /// The trailer carried a body.
    TrailerBody,
}

impl core::fmt::Display for TransferError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Frame(e) => write!(f, "{e}"),
            Self::UnexpectedOp(want) => write!(f, "expected a '{want}' frame"),
            Self::NoMd5 => f.write_str("end of transfer without md5"),
            Self::TrailerBody => f.write_str("end of transfer with a body"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Header,
    Body,
    Trailer,
    Done,
}

/// The receiving side of one transfer whose header frame has op `op`.
pub struct Transfer {
    op: &'static str,
    frames: FrameDecoder<HEADER_CAP>,
    phase: Phase,
}

impl Transfer {
    /// Expects a header frame with op `op` (`data` or `get`) of at most
    /// `max_body` bytes of body.
    pub fn new(op: &'static str, max_body: u64) -> Self {
        let limits = Limits {
            max_body,
            reject_mismatch: false,
            ..Limits::default()
        };
        Transfer {
            op,
            frames: FrameDecoder::with_limits(limits),
            phase: Phase::Header,
        }
    }

    /// True after [`TransferEvent::End`].
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Decodes from `input`: bytes consumed and the next event (`None`:
    /// all input consumed, more needed). Errors are final; once over, it
    /// consumes nothing and repeats `End` or `Refused`.
    pub fn decode<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<TransferEvent<'a>>), TransferError> {
        if self.phase == Phase::Done {
            // Consume nothing and repeat the final event: `None` would claim
            // the bytes after the transfer (decoder contract, PROTOCOL.md).
            let h = self.frames.header();
            let ev = match (refusal(h), h.md5) {
                (None, Some(md5)) => TransferEvent::End(md5),
                (msg, _) => TransferEvent::Refused(msg.unwrap_or("transfer over")),
            };
            return Ok((0, Some(ev)));
        }
        let (used, event) = self.frames.decode(input).map_err(TransferError::Frame)?;
        let Some(event) = event else {
            return Ok((used, None));
        };
        let ev = match (self.phase, event) {
            (Phase::Header | Phase::Trailer, Event::Header(h)) => {
                if let Some(msg) = refusal(h) {
                    self.phase = Phase::Done;
                    return Ok((used, Some(TransferEvent::Refused(msg))));
                }
                let want = if self.phase == Phase::Header {
                    self.op
                } else {
                    "end"
                };
                if !h.is_op(want) {
                    return Err(TransferError::UnexpectedOp(want));
                }
                if self.phase == Phase::Header {
                    self.phase = Phase::Body;
                    Some(TransferEvent::Header(h))
                } else {
                    let md5 = h.md5.ok_or(TransferError::NoMd5)?;
                    if h.total_size != 0 {
                        return Err(TransferError::TrailerBody);
                    }
                    self.phase = Phase::Done;
                    Some(TransferEvent::End(md5))
                }
            }
            (Phase::Body, Event::Body(b)) => Some(TransferEvent::Data(b)),
            (Phase::Body, Event::End(_)) => {
                self.phase = Phase::Trailer;
                Some(TransferEvent::BodyEnd)
            }
            _ => None,
        };
        Ok((used, ev))
    }
}
