//! The bytes a session has decided to send and the driver has not taken
//! yet: a fixed buffer, filled only when empty enough and drained by
//! `poll_output` into whatever buffer the driver lends.

use crate::wire::{emit_frame_header, Header};

use super::Error;

/// A fixed-capacity queue of outgoing bytes.
pub struct Outbox<const O: usize> {
    buf: [u8; O],
    start: usize,
    end: usize,
}

impl<const O: usize> Default for Outbox<O> {
    fn default() -> Self {
        Outbox {
            buf: [0; O],
            start: 0,
            end: 0,
        }
    }
}

impl<const O: usize> Outbox<O> {
    /// True when everything was taken.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Bytes that can still be queued.
    pub fn free(&self) -> usize {
        O - self.end
    }

    /// Queues `bytes` whole, or nothing ([`Error::Encode`]).
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let to = self
            .buf
            .get_mut(self.end..self.end + bytes.len())
            .ok_or(Error::Encode)?;
        to.copy_from_slice(bytes);
        self.end += bytes.len();
        Ok(())
    }

    /// Queues a frame header (its length prefix and JSON).
    pub fn push_header(&mut self, h: &Header) -> Result<(), Error> {
        let n = emit_frame_header(h, &mut self.buf[self.end..]).map_err(|_| Error::Encode)?;
        self.end += n;
        Ok(())
    }

    /// Moves queued bytes into `out`; returns how many.
    pub fn pop(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        if self.start == self.end {
            // Empty again: the whole buffer is free for the next reply.
            (self.start, self.end) = (0, 0);
        }
        n
    }
}
