//! What the accept loop does when accepting fails or a client must be
//! refused, so that running out of file descriptors degrades cleanly:
//!
//! - one spare descriptor is kept open per listener; when `accept` fails
//!   with EMFILE/ENFILE it is closed, the waiting client accepted, told
//!   the busy line and closed, and the spare opened again (the classic
//!   trick of libev and nginx-era servers), so clients get an answer
//!   instead of hanging in the backlog;
//! - when that is not possible, accepting backs off exponentially (10 ms
//!   doubling to 1 s) instead of retrying every 50 ms;
//! - failures and refusals are logged once, then summarised at most once
//!   per [`LOG_EVERY`], not once per client.

use std::fs::File;
use std::io;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use tokio::net::TcpListener;
use tracing::warn;

/// What a refused client reads before the server closes the connection.
pub(super) const BUSY: &[u8] = b"error: server busy, too many connections\r\n";

/// Shortest and longest pause after a failed accept.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// At most one log line per kind of trouble per listener in this time.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// How long to wait for the client whose pending connection made accept
/// fail (it is already queued, so this is only a bound).
const CLAIM_WAIT: Duration = Duration::from_millis(100);

/// A log line that is written the first time and then at most once per
/// [`LOG_EVERY`], with the number of events since the last line.
#[derive(Debug)]
pub(super) struct Summary {
    count: u64,
    last: Option<Instant>,
}

impl Summary {
    pub(super) const fn new() -> Self {
        Summary {
            count: 0,
            last: None,
        }
    }

    /// Counts one event; `Some(n)` when a line is due (n events since the
    /// last one).
    pub(super) fn note(&mut self, now: Instant) -> Option<u64> {
        self.count += 1;
        let due = self.last.is_none_or(|t| now.duration_since(t) >= LOG_EVERY);
        if !due {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.count))
    }
}

/// Per-listener state for accept failures.
#[derive(Debug)]
pub(super) struct AcceptGuard {
    service: &'static str,
    spare: Option<File>,
    backoff: Duration,
    failures: Summary,
    /// Clients refused because the connection limit was reached.
    pub(super) full: Summary,
}

fn reserve() -> Option<File> {
    File::open("/dev/null").ok()
}

/// EMFILE (this process) or ENFILE (the whole system).
fn out_of_fds(e: &io::Error) -> bool {
    let code = e.raw_os_error();
    code == Some(Errno::MFILE.raw_os_error()) || code == Some(Errno::NFILE.raw_os_error())
}

impl AcceptGuard {
    pub(super) fn new(service: &'static str) -> Self {
        AcceptGuard {
            service,
            spare: reserve(),
            backoff: BACKOFF_MIN,
            failures: Summary::new(),
            full: Summary::new(),
        }
    }

    /// A connection was accepted: the trouble, if any, is over.
    pub(super) fn accepted(&mut self) {
        self.backoff = BACKOFF_MIN;
        if self.spare.is_none() {
            self.spare = reserve();
        }
    }

    /// Handles a failed accept: refuses the waiting client through the
    /// spare descriptor if it can, otherwise waits (with backoff).
    pub(super) async fn failed(&mut self, listener: &TcpListener, e: io::Error) {
        let service = self.service;
        if let Some(n) = self.failures.note(Instant::now()) {
            warn!(service, error = %e, failures = n, "accept failed (summarised every 10 s)");
        }
        if out_of_fds(&e) && self.refuse_with_spare(listener).await {
            return;
        }
        tokio::time::sleep(self.backoff).await;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        if self.spare.is_none() {
            self.spare = reserve();
        }
    }

    /// Out of descriptors: frees the spare, accepts the waiting client,
    /// gives it the busy line, closes it and reserves the spare again.
    /// False when there was no spare or no client to claim.
    async fn refuse_with_spare(&mut self, listener: &TcpListener) -> bool {
        if self.spare.take().is_none() {
            return false;
        }
        let claimed = tokio::time::timeout(CLAIM_WAIT, listener.accept()).await;
        let refused = match claimed {
            Ok(Ok((stream, _peer))) => {
                // A fresh socket's send buffer is empty: this cannot block.
                let _ = stream.try_write(BUSY);
                true
            }
            _ => false,
        };
        // The client's descriptor is closed by now, so this normally
        // succeeds; if not, the next failure backs off and retries.
        self.spare = reserve();
        refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_logs_first_then_once_per_interval() {
        let mut s = Summary::new();
        let t0 = Instant::now();
        assert_eq!(s.note(t0), Some(1));
        for i in 1..100 {
            assert_eq!(s.note(t0 + Duration::from_millis(i * 50)), None);
        }
        assert_eq!(s.note(t0 + LOG_EVERY), Some(100));
        assert_eq!(s.note(t0 + LOG_EVERY), None);
    }

    #[test]
    fn emfile_and_enfile_count_as_out_of_descriptors() {
        let emfile = io::Error::from_raw_os_error(Errno::MFILE.raw_os_error());
        let enfile = io::Error::from_raw_os_error(Errno::NFILE.raw_os_error());
        assert!(out_of_fds(&emfile) && out_of_fds(&enfile));
        assert!(!out_of_fds(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
    }
}
