//! The segmented `get` (opt-in, issue 13 item 14): the file's bytes come
//! in `data` frames of at most [`SEGMENT_MAX`] bytes instead of one body,
//! so the server can stop between two of them and say why (`server is
//! shutting down`) in an ordinary error frame; a plain `get` has declared
//! its whole length and can only be cut.
//!
//! ```text
//! client                                        server
//! {"op":"get-segmented","filename":F,"offset":o} ->
//!                         <- {"op":"get","status":"ok","size":S,"offset":o,"mtime":M}
//!                         <- {"op":"data","total_size":k} + k bytes     (k ≤ 1 MiB, 0..n times)
//!                         <- {"op":"end","status":"ok","md5":D}
//!                          | {"op":"end","status":"error","error":"server is shutting down"}
//! ```
//!
//! A server that does not know the op refuses it (`unknown operation`),
//! and the client can fall back to a plain `get`. The segments must add up
//! to exactly `S - o` bytes before the `end`: more is an error, fewer is
//! an error unless the server refused.

use super::{get_reply, refusal, TransferError, TransferEvent, HEADER_CAP};
use crate::codec::frame::{Event, FrameDecoder, Limits};
use crate::wire::Fields;

/// The request's `op`.
pub const OP: &str = "get-segmented";

/// Largest `data` frame body.
pub const SEGMENT_MAX: u64 = 1 << 20;

/// The reply before the segments: a plain get's, without a body.
pub fn reply(size: u64, offset: u64, mtime: u64) -> Fields<'static> {
    Fields {
        total_size: 0,
        ..get_reply(size, offset, mtime)
    }
}

/// The header of a segment of `len` bytes (1 to [`SEGMENT_MAX`]).
pub fn segment_header(len: u64) -> Fields<'static> {
    Fields {
        op: Some("data"),
        total_size: len,
        ..Fields::default()
    }
}

/// Why a segmented get failed, beyond [`TransferError`]'s reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentError {
    /// Framing, wrong `op`, trailer without md5 or with a body.
    Transfer(TransferError),
    /// The reply header carried a body, or an offset past its size.
    BadHeader,
    /// The segments hold more bytes than the header announced.
    TooLong,
    /// A `data` frame without bytes (it would let a server keep a client
    /// busy without progress).
    EmptySegment,
    /// The `end` came before all announced bytes.
    Short {
        /// Bytes still missing.
        missing: u64,
    },
}

impl core::fmt::Display for SegmentError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Transfer(e) => write!(f, "{e}"),
            Self::BadHeader => f.write_str("segmented get reply with a body or a bad offset"),
            Self::TooLong => f.write_str("the server sent more bytes than it announced"),
            Self::EmptySegment => f.write_str("empty data segment"),
            Self::Short { missing } => {
                write!(f, "the transfer ended with {missing} bytes missing")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Header,
    /// Inside a frame's body (possibly empty).
    Body,
    /// Between frames: a `data`, the `end` or a refusal is next.
    Between,
    Done,
}

/// The client side of a segmented get.
pub struct Segments {
    frames: FrameDecoder<HEADER_CAP>,
    phase: Phase,
    /// Bytes announced and not yet received.
    left: u64,
}

impl Default for Segments {
    fn default() -> Self {
        Self::new()
    }
}

impl Segments {
    /// Expects the `get` reply header next.
    pub fn new() -> Self {
        let limits = Limits {
            max_body: SEGMENT_MAX,
            // The trailer's md5 covers the whole file, not its empty body.
            reject_mismatch: false,
            ..Limits::default()
        };
        Segments {
            frames: FrameDecoder::with_limits(limits),
            phase: Phase::Header,
            left: 0,
        }
    }

    /// True after the `end` or a refusal.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Decodes from `input`: bytes consumed and the next event. `None`
    /// means a step without an event for the caller (a segment's header
    /// or end) or that all input was consumed: call again with the rest,
    /// and read more once nothing is left. Errors are final. The events
    /// are a plain get's: `Header`, `Data`…, then `End` or `Refused`.
    pub fn decode<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<TransferEvent<'a>>), SegmentError> {
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
        let tr = |e| SegmentError::Transfer(TransferError::Frame(e));
        let (used, event) = self.frames.decode(input).map_err(tr)?;
        let Some(event) = event else {
            return Ok((used, None));
        };
        let ev = match (self.phase, event) {
            (Phase::Header | Phase::Between, Event::Header(h)) => {
                if let Some(msg) = refusal(h) {
                    self.phase = Phase::Done;
                    return Ok((used, Some(TransferEvent::Refused(msg))));
                }
                if self.phase == Phase::Header {
                    if !h.is_op("get") {
                        return Err(SegmentError::Transfer(TransferError::UnexpectedOp("get")));
                    }
                    let (size, offset) = (h.size.unwrap_or(0), h.offset.unwrap_or(0));
                    if h.total_size != 0 || offset > size {
                        return Err(SegmentError::BadHeader);
                    }
                    self.left = size - offset;
                    self.phase = Phase::Body;
                    Some(TransferEvent::Header(h))
                } else if h.is_op("data") {
                    if h.total_size > self.left {
                        return Err(SegmentError::TooLong);
                    }
                    if h.total_size == 0 {
                        return Err(SegmentError::EmptySegment);
                    }
                    self.phase = Phase::Body;
                    // An event, not `None`: input may be left (the
                    // segment's bytes), and `None` means all was taken.
                    Some(TransferEvent::Segment)
                } else if h.is_op("end") {
                    if self.left != 0 {
                        return Err(SegmentError::Short { missing: self.left });
                    }
                    let md5 = h.md5.ok_or(SegmentError::Transfer(TransferError::NoMd5))?;
                    if h.total_size != 0 {
                        return Err(SegmentError::Transfer(TransferError::TrailerBody));
                    }
                    self.phase = Phase::Done;
                    Some(TransferEvent::End(md5))
                } else {
                    return Err(SegmentError::Transfer(TransferError::UnexpectedOp("data")));
                }
            }
            (Phase::Body, Event::Body(b)) => {
                // The frame decoder holds a body to its header's length,
                // which was checked against `left`.
                self.left -= b.len() as u64;
                Some(TransferEvent::Data(b))
            }
            (Phase::Body, Event::End(_)) => {
                self.phase = Phase::Between;
                Some(TransferEvent::Segment)
            }
            // Not reachable with a frame decoder (a header is always
            // followed by its end); an event all the same, so `None` keeps
            // meaning "all input taken".
            _ => Some(TransferEvent::Segment),
        };
        Ok((used, ev))
    }
}

#[cfg(test)]
mod tests;
