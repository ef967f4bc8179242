//! Reading a seed server's answers: seed 000's header and bytes, seed
//! 002's size and chunk frames, seed 004's size text, bytes and md5 text,
//! and seed 002's upload answer.

use core::ops::Range;

use heapless::String;

use super::{chunk_limits, done_line, SeedDialect, SeedError, SeedEvent, State, ANSWER_CAP};
use super::{SeedClient, SEED000_MAX_HEADER};
use crate::codec::frame::{Event as FrameEvent, FrameDecoder};
use crate::service::file::seed004;
use crate::wire::{Digest, Prefix, PREFIX_LEN};

/// What a step found, without borrowing the session.
enum Step {
    None,
    Event(SeedEvent<'static>),
    Data(Range<usize>),
}

/// Seed 000's header, as `json.dumps` writes it.
#[derive(serde::Deserialize)]
struct Head<'a> {
    lenth: Option<u64>,
    #[serde(borrow)]
    md5: Option<&'a str>,
}

/// `text` with invalid UTF-8 replaced, cut to [`ANSWER_CAP`] bytes.
fn answer_text(text: &[u8]) -> String<ANSWER_CAP> {
    let mut s = String::new();
    for chunk in text.utf8_chunks() {
        let pieces = chunk
            .valid()
            .chars()
            .chain((!chunk.invalid().is_empty()).then_some(char::REPLACEMENT_CHARACTER));
        for c in pieces {
            if s.push(c).is_err() {
                return s;
            }
        }
    }
    s
}

impl SeedClient {
    /// Consumes the server's bytes up to the next event. Call again (also
    /// with no input) while it consumes bytes or reports an event.
    pub fn handle_input<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<SeedEvent<'a>>), SeedError> {
        let (used, step) = self.step(input).inspect_err(|_| self.state = State::Done)?;
        Ok((
            used,
            match step {
                Step::None => None,
                Step::Event(e) => Some(e),
                Step::Data(r) => Some(SeedEvent::Data(&input[r])),
            },
        ))
    }

    fn step(&mut self, input: &[u8]) -> Result<(usize, Step), SeedError> {
        match self.state {
            State::Header000 => self.header000(input),
            State::Size002 => self.size002(input),
            State::Chunks { size, got } => self.chunk_frames(input, size, got),
            State::Size004 => self.size004(input),
            State::Body { left } => Ok(self.body(input, left)),
            State::Md5Text => self.md5_text(input),
            State::Ending(md5) => {
                self.state = match md5 {
                    Some(m) => State::Verify(m),
                    None => State::Done,
                };
                Ok((0, Step::Event(SeedEvent::Received { md5 })))
            }
            State::Answer => self.answer(input),
            State::Verify(_) | State::Done | State::Chunking { .. } => Ok((0, Step::None)),
        }
    }

    /// Moves up to `want` bytes in total into `held`; how many it took.
    fn hold(&mut self, input: &[u8], want: usize) -> usize {
        let n = want.saturating_sub(self.held.len()).min(input.len());
        // `want` never exceeds the capacity (checked by the callers).
        let _ = self.held.extend_from_slice(&input[..n]);
        n
    }

    /// The download's bytes start.
    fn started(&mut self, size: u64, body: State) -> Step {
        self.held.clear();
        self.state = if size == 0 { self.after_body() } else { body };
        Step::Event(SeedEvent::Started { size })
    }

    /// What follows the last byte of the file.
    fn after_body(&self) -> State {
        match self.dialect {
            SeedDialect::Seed004 => State::Md5Text,
            _ => State::Ending(self.expected),
        }
    }

    fn header000(&mut self, input: &[u8]) -> Result<(usize, Step), SeedError> {
        let mut used = self.hold(input, PREFIX_LEN);
        if self.held.len() < PREFIX_LEN {
            return Ok((used, Step::None));
        }
        let len = Prefix::new_checked(&self.held[..PREFIX_LEN])
            .and_then(|p| p.len_checked((SEED000_MAX_HEADER - PREFIX_LEN) as u32))
            .map_err(SeedError::HeaderLength)? as usize;
        used += self.hold(&input[used..], PREFIX_LEN + len);
        if self.held.len() < PREFIX_LEN + len {
            return Ok((used, Step::None));
        }
        let json = &self.held[PREFIX_LEN..];
        if json.trim_ascii() == b"{}" {
            return Err(SeedError::NoSuchFile);
        }
        let (head, _) = serde_json_core::from_slice::<Head<'_>>(json)
            .map_err(|_| SeedError::BadHeader("header is not JSON"))?;
        let size = head
            .lenth
            .ok_or(SeedError::BadHeader("header without lenth"))?;
        let md5 = head
            .md5
            .and_then(|m| Digest::from_hex(m.as_bytes()))
            .ok_or(SeedError::BadHeader("header without a valid md5"))?;
        self.expected = Some(md5);
        Ok((used, self.started(size, State::Body { left: size })))
    }

    fn size002(&mut self, input: &[u8]) -> Result<(usize, Step), SeedError> {
        let used = self.hold(input, PREFIX_LEN);
        if self.held.len() < PREFIX_LEN {
            return Ok((used, Step::None));
        }
        let size = Prefix::new_checked(&self.held[..])
            .and_then(|p| p.len_checked(u32::MAX))
            .map_err(SeedError::BadSize)?;
        let size = u64::from(size);
        self.chunks = FrameDecoder::with_limits(chunk_limits(size));
        Ok((used, self.started(size, State::Chunks { size, got: 0 })))
    }

    fn chunk_frames(
        &mut self,
        input: &[u8],
        size: u64,
        got: u64,
    ) -> Result<(usize, Step), SeedError> {
        let mut used = 0;
        loop {
            let (n, ev) = self
                .chunks
                .decode(&input[used..])
                .map_err(SeedError::Frame)?;
            let start = used;
            used += n;
            match ev {
                None => return Ok((used, Step::None)),
                Some(FrameEvent::Header(h)) if h.md5.is_none() => {
                    return Err(SeedError::NoChunkMd5)
                }
                Some(FrameEvent::Header(_)) => {}
                Some(FrameEvent::Body(b)) => {
                    let got = got + b.len() as u64;
                    if got > size {
                        return Err(SeedError::TooMany { size });
                    }
                    self.state = State::Chunks { size, got };
                    return Ok((used, Step::Data(start..start + b.len())));
                }
                Some(FrameEvent::End(_)) if got == size => {
                    self.state = State::Done;
                    let ev = SeedEvent::Received { md5: None };
                    return Ok((used, Step::Event(ev)));
                }
                Some(FrameEvent::End(_)) => {}
            }
        }
    }

    fn size004(&mut self, input: &[u8]) -> Result<(usize, Step), SeedError> {
        if input.is_empty() {
            return Ok((0, Step::None));
        }
        // The size comes alone: the server waits for the ack.
        let n = input.len().min(seed004::MAX_MESSAGE);
        match seed004::parse_size(&input[..n]) {
            seed004::SizeReply::Size(size) => {
                self.queue(seed004::ACK)?;
                Ok((n, self.started(size, State::Body { left: size })))
            }
            seed004::SizeReply::Other(text) => {
                Err(SeedError::Answered(answer_text(text.as_bytes())))
            }
        }
    }

    fn body(&mut self, input: &[u8], left: u64) -> (usize, Step) {
        let n = usize::try_from(left).map_or(input.len(), |l| l.min(input.len()));
        if n == 0 {
            return (0, Step::None);
        }
        let left = left - n as u64;
        self.state = match left {
            0 => self.after_body(),
            _ => State::Body { left },
        };
        (n, Step::Data(0..n))
    }

    fn md5_text(&mut self, input: &[u8]) -> Result<(usize, Step), SeedError> {
        let used = self.hold(input, 32);
        if self.held.len() < 32 {
            return Ok((used, Step::None));
        }
        let md5 = Digest::from_hex(&self.held).ok_or(SeedError::BadMd5)?;
        self.state = State::Verify(md5);
        let ev = SeedEvent::Received { md5: Some(md5) };
        Ok((used, Step::Event(ev)))
    }

    fn answer(&mut self, input: &[u8]) -> Result<(usize, Step), SeedError> {
        if input.is_empty() {
            return Ok((0, Step::None));
        }
        // One `recv(1024)`'s worth, as the seed's own client reads it.
        let n = input.len().min(seed004::MAX_MESSAGE);
        if input[..n] != *done_line(&self.name).as_bytes() {
            return Err(SeedError::Answered(answer_text(&input[..n])));
        }
        self.state = State::Done;
        Ok((n, Step::Event(SeedEvent::Stored)))
    }
}
