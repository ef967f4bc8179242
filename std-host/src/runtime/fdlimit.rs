//! The open-file limit: a server that runs out of file descriptors cannot
//! even refuse a client politely, so `wirekit serve` raises its soft
//! `RLIMIT_NOFILE` to the hard limit at start (as nginx's
//! `worker_rlimit_nofile` and systemd-managed daemons do) and lowers
//! `--max-connections` when the limit still cannot hold that many.
//! Running out anyway (other descriptors, a limit lowered later) is handled
//! by the accept loop ([`super::accept`]).

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use tracing::{debug, warn};

/// Descriptors counted per connection: its socket. A connection that also
/// holds a file or a command's pipes uses more; budgeting for that would
/// halve the default for echo and chat, so running out that way is left to
/// the accept loop's spare descriptor, which still refuses cleanly.
const PER_CONNECTION: u64 = 1;

/// Kept free for everything that is not a connection: the runtime's own
/// descriptors, listeners, logs, the accept loops' spare descriptors.
const HEADROOM: u64 = 32;

/// The soft limit the process was started with, recorded before raising
/// it (`None` inside: unlimited).
static STARTED_WITH: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();

/// The soft open-file limit the process was started with, if
/// [`raise_soft_limit`] changed it: what programs it starts should get back
/// (many break above 1024, e.g. those using `select`).
pub fn started_with() -> Option<u64> {
    let now = getrlimit(Resource::Nofile).current;
    STARTED_WITH
        .get()
        .copied()
        .flatten()
        .filter(|&s| Some(s) != now)
}

/// Puts the soft open-file limit back to `soft` (the hard limit stays):
/// for a child about to run a command.
pub fn restore_soft_limit(soft: u64) -> std::io::Result<()> {
    let hard = getrlimit(Resource::Nofile).maximum;
    let lim = Rlimit {
        current: Some(hard.map_or(soft, |h| soft.min(h))),
        maximum: hard,
    };
    setrlimit(Resource::Nofile, lim).map_err(Into::into)
}

/// Raises the soft open-file limit to the hard one; returns the soft limit
/// now in force (`None`: unlimited).
pub fn raise_soft_limit() -> Option<u64> {
    let lim = getrlimit(Resource::Nofile);
    let _ = STARTED_WITH.set(lim.current);
    if lim.current != lim.maximum {
        let raised = Rlimit {
            current: lim.maximum,
            maximum: lim.maximum,
        };
        // Some systems refuse an unlimited soft value (macOS caps it at
        // OPEN_MAX); the limit in force then simply stays.
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            debug!(error = %e, "cannot raise the open-file limit");
        }
    }
    getrlimit(Resource::Nofile).current
}

/// How many connections fit under `limit` descriptors, with `open` already
/// in use and `listeners` sockets still to bind (at least 1).
pub fn connections_that_fit(limit: u64, open: u64, listeners: u64) -> usize {
    let spare = limit.saturating_sub(open + HEADROOM + 2 * listeners);
    usize::try_from(spare / PER_CONNECTION)
        .unwrap_or(usize::MAX)
        .max(1)
}

/// Descriptors open now (Linux: `/proc/self/fd`; elsewhere a guess).
fn open_now() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(16)
}

/// `max` connections, or fewer with a notice when the open-file limit
/// cannot hold them.
pub fn fit_max_connections(max: usize, limit: Option<u64>, listeners: usize) -> usize {
    let Some(limit) = limit else { return max };
    let fit = connections_that_fit(limit, open_now(), listeners as u64);
    if fit >= max {
        return max;
    }
    warn!(
        open_file_limit = limit,
        "lowering --max-connections from {max} to {fit} to fit the open-file \
         limit (raise it with `ulimit -n` or LimitNOFILE=)"
    );
    fit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_leaves_headroom_and_is_at_least_one() {
        assert_eq!(connections_that_fit(1024, 10, 2), 1024 - 10 - 32 - 4);
        assert_eq!(connections_that_fit(45, 10, 2), 1);
        assert_eq!(connections_that_fit(0, 10, 2), 1);
    }

    #[test]
    fn raising_keeps_a_limit_in_force() {
        let lim = raise_soft_limit();
        assert_eq!(lim, getrlimit(Resource::Nofile).current);
        assert_eq!(fit_max_connections(7, None, 1), 7);
        assert_eq!(fit_max_connections(3, Some(1 << 20), 1), 3);
    }
}
