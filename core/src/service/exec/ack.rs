//! Seed 004's "ssh" dialect (`exec-ack`): the client sends a command, the
//! server answers the output's size as ASCII digits, waits for the
//! client's acknowledgement, then sends the output. The pause keeps the size
//! and the output from sticking together in one read.
//!
//! The seeds acknowledge with different words (`recv_ready` in seed 002,
//! `准备接收数据` in seed 004) and their servers take whatever one read
//! returns as the ack. [`AckServer`] does the same, except that a known ack
//! word is consumed exactly, so a next command that arrived in the same
//! read (a client that got a size of 0 has nothing to wait for) is kept.

use core::fmt::Write as _;

use heapless::String;

/// Acknowledgement words of the seeds' clients (UTF-8).
pub const KNOWN_ACKS: [&str; 2] = ["recv_ready", "准备接收数据"];

/// What the wirekit client sends: seed 002's server insists on exactly
/// this word, seed 004's accepts anything.
pub const CLIENT_ACK: &[u8] = b"recv_ready";

/// Longest size text: the digits of `u64::MAX`.
pub const MAX_SIZE_TEXT: usize = 20;

/// A step of the server side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckEvent<'a> {
    /// A command arrived: run it, then call [`AckServer::output_ready`].
    Command(&'a [u8]),
    /// The client acknowledged: send the `size` bytes of output now.
    Acked {
        /// The size announced.
        size: u64,
    },
}

/// A call that does not fit the dialect's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckError {
    /// Input arrived while a command was running (before its size was
    /// sent); the seeds' clients never do this.
    InputWhileRunning,
    /// `output_ready` without a running command.
    NotRunning,
}

impl core::fmt::Display for AckError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::InputWhileRunning => f.write_str("input before the output size was sent"),
            Self::NotRunning => f.write_str("no command is running"),
        }
    }
}

impl core::error::Error for AckError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitCommand,
    Running,
    AwaitAck { size: u64 },
}

/// The server side of the ack dialect, fed one read at a time.
#[derive(Debug, Clone)]
pub struct AckServer {
    state: State,
}

impl Default for AckServer {
    fn default() -> Self {
        Self::new()
    }
}

impl AckServer {
    /// Waiting for the first command.
    pub fn new() -> Self {
        AckServer {
            state: State::AwaitCommand,
        }
    }

    /// True while waiting for the client's ack.
    pub fn awaiting_ack(&self) -> bool {
        matches!(self.state, State::AwaitAck { .. })
    }

    /// Feeds one read; returns the bytes consumed and what happened
    /// (`None`: nothing to do, e.g. an empty input).
    pub fn on_read<'a>(
        &mut self,
        read: &'a [u8],
    ) -> Result<(usize, Option<AckEvent<'a>>), AckError> {
        if read.is_empty() {
            return Ok((0, None));
        }
        match self.state {
            State::AwaitCommand => {
                self.state = State::Running;
                Ok((read.len(), Some(AckEvent::Command(read))))
            }
            State::Running => Err(AckError::InputWhileRunning),
            State::AwaitAck { size } => {
                let used = KNOWN_ACKS
                    .iter()
                    .map(|a| a.as_bytes())
                    .find(|a| read.starts_with(a))
                    .map_or(read.len(), <[u8]>::len);
                self.state = State::AwaitCommand;
                Ok((used, Some(AckEvent::Acked { size })))
            }
        }
    }

    /// The running command's output (`size` bytes) is ready: returns the
    /// size text to send; the output waits for the ack.
    pub fn output_ready(&mut self, size: u64) -> Result<String<MAX_SIZE_TEXT>, AckError> {
        if self.state != State::Running {
            return Err(AckError::NotRunning);
        }
        self.state = State::AwaitAck { size };
        Ok(size_text(size))
    }
}

/// `size` as the ASCII digits the seeds send (`str(n).encode()`).
pub fn size_text(size: u64) -> String<MAX_SIZE_TEXT> {
    let mut s = String::new();
    // u64::MAX has 20 digits, so this always fits.
    let _ = write!(s, "{size}");
    s
}

/// Why a size text from a server is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeError {
    /// Not ASCII digits (after trimming whitespace), or too many of them.
    NotANumber,
    /// Larger than the client's limit.
    TooLarge {
        /// The limit.
        limit: u64,
    },
}

impl core::fmt::Display for SizeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotANumber => f.write_str("size is not a decimal number"),
            Self::TooLarge { limit } => write!(f, "size exceeds the limit of {limit} bytes"),
        }
    }
}

impl core::error::Error for SizeError {}

/// Parses the size text a server sent (client side), refusing anything
/// above `limit`.
pub fn parse_size_text(read: &[u8], limit: u64) -> Result<u64, SizeError> {
    let digits = read.trim_ascii();
    if digits.is_empty() || digits.len() > MAX_SIZE_TEXT || !digits.iter().all(u8::is_ascii_digit) {
        return Err(SizeError::NotANumber);
    }
    let size = digits
        .iter()
        .try_fold(0u64, |n, d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .ok_or(SizeError::NotANumber)?;
    if size > limit {
        return Err(SizeError::TooLarge { limit });
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_full_exchange() {
        let mut s = AckServer::new();
        assert_eq!(s.on_read(b"").unwrap(), (0, None));
        assert_eq!(
            s.on_read(b"ls").unwrap(),
            (2, Some(AckEvent::Command(b"ls")))
        );
        assert_eq!(s.on_read(b"x"), Err(AckError::InputWhileRunning));
        assert_eq!(s.output_ready(891).unwrap().as_str(), "891");
        assert!(s.awaiting_ack());
        let ack = "准备接收数据".as_bytes();
        assert_eq!(
            s.on_read(ack).unwrap(),
            (ack.len(), Some(AckEvent::Acked { size: 891 }))
        );
        assert_eq!(s.output_ready(1), Err(AckError::NotRunning));
    }

    #[test]
    fn known_ack_is_split_from_a_following_command() {
        let mut s = AckServer::new();
        s.on_read(b"true").unwrap();
        s.output_ready(0).unwrap();
        let read = b"recv_readyecho hi";
        let (used, ev) = s.on_read(read).unwrap();
        assert_eq!((used, ev), (10, Some(AckEvent::Acked { size: 0 })));
        assert_eq!(
            s.on_read(&read[used..]).unwrap(),
            (7, Some(AckEvent::Command(b"echo hi")))
        );
    }

    #[test]
    fn unknown_ack_takes_the_whole_read() {
        let mut s = AckServer::new();
        s.on_read(b"ls").unwrap();
        s.output_ready(5).unwrap();
        assert_eq!(
            s.on_read(b"ok go").unwrap(),
            (5, Some(AckEvent::Acked { size: 5 }))
        );
    }

    #[test]
    fn size_text_parsing() {
        assert_eq!(parse_size_text(b"891", 1000), Ok(891));
        assert_eq!(parse_size_text(b" 0\n", 1000), Ok(0));
        assert_eq!(
            parse_size_text(b"1001", 1000),
            Err(SizeError::TooLarge { limit: 1000 })
        );
        assert_eq!(parse_size_text(b"-1", 1000), Err(SizeError::NotANumber));
        assert_eq!(parse_size_text(b"", 1000), Err(SizeError::NotANumber));
        assert_eq!(
            parse_size_text(b"99999999999999999999", u64::MAX),
            Err(SizeError::NotANumber)
        );
    }

    proptest! {
        #[test]
        fn size_text_round_trips(n in any::<u64>()) {
            prop_assert_eq!(parse_size_text(size_text(n).as_bytes(), u64::MAX), Ok(n));
        }

        #[test]
        fn any_reads_never_panic(reads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..8)) {
            let mut s = AckServer::new();
            for r in &reads {
                let mut input = &r[..];
                while let Ok((used, Some(ev))) = s.on_read(input) {
                    prop_assert!(used <= input.len());
                    input = &input[used..];
                    if let AckEvent::Command(_) = ev {
                        prop_assert!(s.output_ready(r.len() as u64).is_ok());
                    }
                }
            }
        }
    }
}
