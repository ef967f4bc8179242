//! Remote command execution (`exec`): the seeds' remote shell, made safe.
//!
//! This module holds everything about the service that is not I/O:
//! - [`detect`]: tells the native wirekit protocol from a seed client's
//!   bare command text by the first bytes of a connection;
//! - [`check_command`]: what a command may look like before it reaches
//!   `sh -c`;
//! - [`OutputCap`]: output accounting against the per-command cap;
//! - [`Ending`]: how a command ended, its exit code and the readable marker
//!   appended to its output when wirekit cut it short;
//! - [`seed_reply_header`]: the header of the seeds' "ultimate" reply;
//! - [`native`]: the native protocol's messages (streamed stdout/stderr
//!   frames, a final exit frame, challenge-response authentication);
//! - [`auth`]: the HMAC-SHA256 proof of the shared token;
//! - [`ack`]: seed 004's "size as text, wait for the ack, then the output";
//! - [`foreign`]: refuses another protocol's message (HTTP, TLS, SSH)
//!   before it could reach `sh -c`.
//!
//! The host runs the command, moves bytes and keeps the clock; see
//! `docs/PROTOCOL.md`, section "exec", for the wire formats.

pub mod ack;
pub use super::auth;
pub mod foreign;
pub mod native;

use core::fmt::Write as _;

use heapless::String;

use crate::wire::{Digest, Header};

/// Longest command a seed dialect may send: the seeds' servers read it with
/// one `recv(1024)`, so a longer command would be cut in two by them.
pub const MAX_TEXT_COMMAND: usize = 1024;

/// Longest command the native protocol accepts.
pub const MAX_NATIVE_COMMAND: usize = 64 * 1024;

/// Default per-command output cap (stdout and stderr together): 16 MiB.
pub const DEFAULT_MAX_OUTPUT: u64 = 16 * 1024 * 1024;

/// Default per-command timeout in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// Exit code reported for a command killed at its timeout (as GNU
/// `timeout(1)` does).
pub const EXIT_TIMEOUT: i32 = 124;

/// Exit code reported when wirekit refused or could not run a command
/// (as ssh reports its own errors).
pub const EXIT_REFUSED: i32 = 255;

/// How a connection on the `exec` listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The native protocol: frames both ways.
    Native,
    /// A seed client: each read is one bare command.
    Text,
}

/// Decides the dialect from the first read of a connection.
///
/// A native frame starts with its 4-byte little-endian header length, which
/// is far below 2^16, so its third and fourth bytes are NUL; command text
/// never holds a NUL. A first read of fewer bytes without a NUL is a short
/// command (`ls`): the native client always writes its first frame whole.
///
/// ```
/// use wirekit_core::service::exec::{detect, Dialect};
/// assert_eq!(detect(b"\x0f\x00\x00\x00{\"op\":\"hello\"}"), Dialect::Native);
/// assert_eq!(detect(b"ls"), Dialect::Text);
/// ```
pub fn detect(first_read: &[u8]) -> Dialect {
    if first_read.iter().take(4).any(|&b| b == 0) {
        Dialect::Native
    } else {
        Dialect::Text
    }
}

/// Why a command is refused before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError {
    /// Nothing but whitespace.
    Empty,
    /// Longer than the dialect allows.
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Holds a NUL byte, which no shell argument can carry.
    Nul,
}

impl core::fmt::Display for CommandError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Empty => f.write_str("empty command"),
            Self::TooLong { len, limit } => {
                write!(f, "command of {len} bytes exceeds the limit of {limit}")
            }
            Self::Nul => f.write_str("command contains a NUL byte"),
        }
    }
}

impl core::error::Error for CommandError {}

/// Checks a command (raw bytes, any encoding) before it goes to `sh -c`.
pub fn check_command(cmd: &[u8], limit: usize) -> Result<(), CommandError> {
    if cmd.len() > limit {
        return Err(CommandError::TooLong {
            len: cmd.len(),
            limit,
        });
    }
    if cmd.contains(&0) {
        return Err(CommandError::Nul);
    }
    if cmd.iter().all(u8::is_ascii_whitespace) {
        return Err(CommandError::Empty);
    }
    Ok(())
}

/// Counts a command's output (stdout and stderr together) against the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputCap {
    cap: u64,
    used: u64,
    truncated: bool,
}

impl OutputCap {
    /// A fresh count with `cap` bytes allowed.
    pub fn new(cap: u64) -> OutputCap {
        OutputCap {
            cap,
            used: 0,
            truncated: false,
        }
    }

    /// Accounts for a chunk of `len` bytes; returns how many of its first
    /// bytes may be kept. Once anything was cut, [`OutputCap::truncated`]
    /// is true and every later chunk is cut whole.
    pub fn admit(&mut self, len: usize) -> usize {
        let room = self.cap - self.used;
        let keep = u64::try_from(len).map_or(room, |l| l.min(room));
        self.used += keep;
        if keep < len as u64 {
            self.truncated = true;
        }
        // keep <= len, so it fits in usize.
        usize::try_from(keep).unwrap_or(len)
    }

    /// Bytes kept so far.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// The cap.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// True once output was cut.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It exited with this code.
    Exited(i32),
    /// It was killed by this signal (not by wirekit).
    Signaled(i32),
    /// wirekit killed its process group at the timeout.
    TimedOut {
        /// The timeout in seconds.
        secs: u64,
    },
    /// Its output reached the cap; wirekit cut it and killed its process
    /// group.
    Capped {
        /// The cap in bytes.
        cap: u64,
    },
}

/// Room for the longest [`Ending::marker`].
pub const MARKER_CAP: usize = 96;

impl Ending {
    /// The exit code reported to the client: the command's own, 128 +
    /// signal as shells report a signal death, [`EXIT_TIMEOUT`] for a
    /// timeout, and 128 + SIGKILL for a command killed at the cap.
    pub fn exit_code(&self) -> i32 {
        match *self {
            Ending::Exited(code) => code,
            Ending::Signaled(sig) => 128 + sig,
            Ending::TimedOut { .. } => EXIT_TIMEOUT,
            Ending::Capped { .. } => 128 + 9,
        }
    }

    /// The readable line appended to the output when wirekit cut the
    /// command short, so that even the seeds' clients show why.
    pub fn marker(&self) -> Option<String<MARKER_CAP>> {
        let mut s = String::new();
        // The longest message is under MARKER_CAP bytes, so writes succeed.
        let r = match *self {
            Ending::TimedOut { secs } => write!(
                s,
                "\n[wirekit: command timed out after {secs} s; process group killed]\n"
            ),
            Ending::Capped { cap } => write!(
                s,
                "\n[wirekit: output truncated at {cap} bytes; process group killed]\n"
            ),
            _ => return None,
        };
        r.ok().map(|()| s)
    }
}

/// The header of a reply in the `exec` seed dialect (seeds 001/002's
/// "ultimate" framing): `{"total_size", "md5", "exit_code"}`, plus
/// `"truncated": true` when the output was cut, and the reason in `error`
/// when the command did not run.
pub fn seed_reply_header(
    total_size: u64,
    md5: Digest,
    exit_code: i32,
    truncated: bool,
    error: Option<&str>,
) -> Header {
    Header {
        total_size,
        md5: Some(md5),
        exit_code: Some(exit_code),
        truncated: truncated.then_some(true),
        error: error.and_then(crate::wire::short_string),
        ..Header::default()
    }
}

#[cfg(test)]
mod tests;
