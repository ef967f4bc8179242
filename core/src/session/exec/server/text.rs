//! The seed dialects of [`ExecServer`]: one read is one command (the
//! seeds' `recv(1024)`), and each reply announces its body's size (JSON
//! header with md5, 4-byte length, or size text + the client's ack)
//! before the body.

use core::fmt::Write as _;

use heapless::String;

use super::{Error, Event, ExecServer, Held, Mode, Phase, NOTE_CAP};
use crate::service::exec::ack::AckEvent;
use crate::service::exec::foreign::classify;
use crate::service::exec::{seed_reply_header, EXIT_REFUSED, MAX_TEXT_COMMAND};
use crate::wire::{emit_prefix, Digest, TEXT_CAP};

impl<const O: usize> ExecServer<'_, O> {
    /// A seed dialect's read: one command.
    pub(super) fn text_input<'i>(&mut self, input: &'i [u8]) -> (usize, Option<Event<'i>>) {
        let (used, read) = if self.mode == Mode::Ack {
            match self.ack.on_read(input) {
                Ok((used, Some(AckEvent::Command(cmd)))) => (used, cmd),
                _ => return (0, None),
            }
        } else {
            (input.len(), input)
        };
        if let Some(what) = classify(read) {
            // Another protocol reached a port that runs what it reads:
            // close without running or answering anything.
            self.phase = Phase::Closed;
            return (used, Some(Event::Foreign(what)));
        }
        let first = core::mem::replace(&mut self.first, false);
        if first && !self.cfg.allowed {
            self.refuse_read("refused: your address is not allowed (--exec-allow)");
            return (used, Some(Event::NotAllowed));
        }
        if self.cfg.token.is_some() {
            self.refuse_read("authentication required: this server needs a token; use `wirekit exec --token-file`");
            return (used, Some(Event::Unauthenticated));
        }
        if read.len() > MAX_TEXT_COMMAND {
            let mut msg: String<TEXT_CAP> = String::new();
            let _ = write!(msg, "command longer than {MAX_TEXT_COMMAND} bytes");
            self.refuse_read(&msg);
            return (used, Some(Event::Refused));
        }
        (used, self.command(read, MAX_TEXT_COMMAND))
    }

    /// Refuses the command just read and closes.
    fn refuse_read(&mut self, msg: &str) {
        self.phase = Phase::Running;
        // The output buffer is empty (input is only taken then), so the
        // refusal fits.
        let _ = self.refuse(msg);
    }

    /// Seed 004: the client's ack releases the body.
    pub(super) fn ack_input<'i>(&mut self, input: &[u8], note: bool) -> (usize, Option<Event<'i>>) {
        match self.ack.on_read(input) {
            Ok((used, Some(AckEvent::Acked { size }))) => {
                if note {
                    // The output buffer is empty: the note fits.
                    let _ = self.out.push(self.note.as_bytes());
                    self.reply_done();
                } else {
                    self.body(size);
                }
                (used, None)
            }
            _ => (0, None),
        }
    }

    /// A seed reply whose body is `wirekit: MSG` (exit code 255).
    pub(super) fn text_refusal(&mut self, msg: &str) -> Result<(), Error> {
        self.note.clear();
        let _ = self.note.push_str("wirekit: ");
        // Cut at a character boundary if a driver's text is very long.
        for c in msg.chars() {
            if self.note.len() + c.len_utf8() + 1 > NOTE_CAP {
                break;
            }
            let _ = self.note.push(c);
        }
        let _ = self.note.push('\n');
        let held = Held {
            len: self.note.len() as u64,
            md5: Digest::of(self.note.as_bytes()),
        };
        self.reply_header(EXIT_REFUSED, false, held, Some(msg), true)
    }

    /// Queues a seed reply's header; the body follows: the note (`note`),
    /// or the driver's held output when asked for.
    pub(super) fn reply_header(
        &mut self,
        code: i32,
        truncated: bool,
        held: Held,
        error: Option<&str>,
        note: bool,
    ) -> Result<(), Error> {
        match self.mode {
            Mode::Json => {
                let h = seed_reply_header(held.len, held.md5, code, truncated, error);
                self.out.push_header(&h)?;
            }
            Mode::Len => {
                let mut p = [0u8; 4];
                emit_prefix(held.len, &mut p).ok_or(Error::TooLong)?;
                self.out.push(&p)?;
            }
            Mode::Ack | Mode::Native => {
                let size = self
                    .ack
                    .output_ready(held.len)
                    .map_err(|_| Error::OutOfOrder("reply"))?;
                self.out.push(size.as_bytes())?;
                // The body waits for the client's ack.
                self.phase = Phase::AwaitAck { note };
                return Ok(());
            }
        }
        if note {
            self.out.push(self.note.as_bytes())?;
            self.reply_done();
        } else {
            self.body(held.len);
        }
        Ok(())
    }

    /// The driver's held output is next: `left` bytes.
    fn body(&mut self, left: u64) {
        self.phase = Phase::Body { left };
        if left == 0 {
            self.reply_done();
        }
    }

    /// The reply is queued whole: the next request, or the end.
    pub(super) fn reply_done(&mut self) {
        self.phase = match self.close_after {
            true => Phase::Closed,
            false => Phase::Idle,
        };
    }
}
