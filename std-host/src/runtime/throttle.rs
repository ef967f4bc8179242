//! Per-source throttling of failed logins, shared by every service that
//! checks a secret (exec proofs today; the files service can use the same
//! [`Throttle`] for its proofs).
//!
//! A source (an IPv4 address, or an IPv6 /64, since one host owns a whole
//! /64) may fail [`Policy::max_failures`] times in a [`Policy::window`];
//! then it is refused without a check until that window ends. The table
//! holds at most [`Policy::max_sources`] sources, so memory does not grow
//! with the number of attacking addresses: when it is full, expired
//! entries go first, then the oldest.
//!
//! Logging is summarised: the first failure of a source in a window gives
//! one line; the failures and refusals that follow are counted and
//! reported in one line per source when its window ends (seen at the next
//! call of any source), not one line per attempt.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The limits of a [`Throttle`].
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Failures allowed per source and window.
    pub max_failures: u32,
    /// The window, counted from a source's first failure.
    pub window: Duration,
    /// Sources tracked at once.
    pub max_sources: usize,
}

impl Default for Policy {
    /// 5 failures a minute per source, 4,096 sources (about 200 KiB).
    fn default() -> Self {
        Policy {
            max_failures: 5,
            window: Duration::from_secs(60),
            max_sources: 4096,
        }
    }
}

/// Whether a source may try to log in now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead and check its proof.
    Allow,
    /// Refuse without checking; the source may try again after this long.
    Refuse {
        /// Time left in the source's window.
        retry_after: Duration,
    },
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    since: Instant,
    failures: u32,
    refused: u32,
}

/// The failed-login table; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Throttle {
    policy: Policy,
    table: Mutex<HashMap<IpAddr, Entry>>,
}

/// The key of a source: IPv4 (or v4-mapped) addresses as they are, IPv6
/// addresses by their /64.
fn source(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
        v4 => v4,
    }
}

impl Throttle {
    /// An empty table with these limits.
    pub fn new(policy: Policy) -> Self {
        Throttle {
            policy,
            table: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Entry>> {
        // A panic elsewhere cannot leave the counters inconsistent enough
        // to matter; keep serving.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// May `ip` try to log in at `now`? A refusal is counted for the
    /// summary; `log` receives the summaries of windows that ended.
    pub fn check(&self, ip: IpAddr, now: Instant, log: &mut impl FnMut(String)) -> Verdict {
        let mut t = self.lock();
        self.expire(&mut t, now, log);
        match t.get_mut(&source(ip)) {
            Some(e) if e.failures >= self.policy.max_failures => {
                e.refused += 1;
                let end = e.since + self.policy.window;
                Verdict::Refuse {
                    retry_after: end.saturating_duration_since(now),
                }
            }
            _ => Verdict::Allow,
        }
    }

    /// Records a failed proof from `ip`; `log` receives a line for the
    /// first failure of a window (and the summaries of windows that ended).
    pub fn failed(&self, ip: IpAddr, now: Instant, log: &mut impl FnMut(String)) {
        let mut t = self.lock();
        self.expire(&mut t, now, log);
        let key = source(ip);
        if let Some(e) = t.get_mut(&key) {
            e.failures += 1;
            if e.failures == self.policy.max_failures {
                log(format!(
                    "{key}: {} failed logins; refusing it for the rest of {:?}",
                    e.failures, self.policy.window
                ));
            }
            return;
        }
        if t.len() >= self.policy.max_sources {
            // Full of live entries: the oldest makes room.
            if let Some(oldest) = t.iter().min_by_key(|(_, e)| e.since).map(|(k, _)| *k) {
                t.remove(&oldest);
            }
        }
        t.insert(
            key,
            Entry {
                since: now,
                failures: 1,
                refused: 0,
            },
        );
        log(format!(
            "{key}: login failed (further failures from it are summarised)"
        ));
    }

    /// A correct proof from `ip`: its count starts over.
    pub fn succeeded(&self, ip: IpAddr) {
        self.lock().remove(&source(ip));
    }

    /// Drops ended windows, logging a summary for each that saw more than
    /// its first failure.
    fn expire(&self, t: &mut HashMap<IpAddr, Entry>, now: Instant, log: &mut impl FnMut(String)) {
        let window = self.policy.window;
        t.retain(|key, e| {
            if now.saturating_duration_since(e.since) < window {
                return true;
            }
            if e.failures > 1 || e.refused > 0 {
                log(format!(
                    "{key}: {} failed logins and {} refused attempts in {window:?}",
                    e.failures, e.refused
                ));
            }
            false
        });
    }

    /// Sources tracked now (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True if no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            max_failures: 3,
            window: Duration::from_secs(10),
            max_sources: 4,
        }
    }

    #[test]
    fn refuses_after_the_limit_until_the_window_ends() {
        let th = Throttle::new(policy());
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        let mut lines = Vec::new();
        let mut log = |l: String| lines.push(l);
        for i in 0..3 {
            assert_eq!(th.check(a, t0, &mut log), Verdict::Allow, "try {i}");
            th.failed(a, t0, &mut log);
        }
        for _ in 0..100 {
            assert!(matches!(th.check(a, t0, &mut log), Verdict::Refuse { .. }));
        }
        assert_eq!(
            th.check(b, t0, &mut log),
            Verdict::Allow,
            "others unaffected"
        );
        let later = t0 + Duration::from_secs(11);
        assert_eq!(th.check(a, later, &mut log), Verdict::Allow);
        // First failure, the lock-out, and one summary: not 103 lines.
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(
            lines[2].contains("3 failed logins and 100 refused"),
            "{lines:#?}"
        );
    }

    #[test]
    fn success_resets_and_ipv6_counts_by_64() {
        let th = Throttle::new(policy());
        let t0 = Instant::now();
        let mut log = |_: String| {};
        for i in 0..3u16 {
            let ip = IpAddr::V6([0x2001, 0xdb8, 0, 1, 0, 0, 0, i].into());
            th.failed(ip, t0, &mut log);
        }
        let other_in_64: IpAddr = "2001:db8:0:1::ffff".parse().unwrap();
        assert!(matches!(
            th.check(other_in_64, t0, &mut log),
            Verdict::Refuse { .. }
        ));
        th.succeeded(other_in_64);
        assert_eq!(th.check(other_in_64, t0, &mut log), Verdict::Allow);
    }

    #[test]
    fn the_table_stays_bounded() {
        let th = Throttle::new(policy());
        let t0 = Instant::now();
        let mut log = |_: String| {};
        for i in 0..10_000u32 {
            th.failed(
                IpAddr::V4(i.into()),
                t0 + Duration::from_millis(u64::from(i)),
                &mut log,
            );
            assert!(th.len() <= 4);
        }
    }
}
