//! Expiry of upload partials (`.NAME.wirekit-part`): a partial kept for
//! `put --resume` holds disk space, so one untouched for longer than
//! `--files-partial-ttl` is removed, at start-up and then periodically.
//! A partial an upload is writing is never touched: the sweeper holds
//! the name as an upload would while it removes the file.

use std::time::{Duration, SystemTime};

use cap_std::fs::Dir;
use wirekit_core::service::file::name::PARTIAL_SUFFIX;

use super::store::Store;

/// Directory levels the sweep descends (names allow 32).
const MAX_DEPTH: usize = 40;

/// Parses a TTL: seconds, or a number with `s`, `m`, `h` or `d`.
pub fn parse_ttl(s: &str) -> Result<Duration, String> {
    let (num, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(format!("`{s}`: unit must be s, m, h or d")),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|&n| n > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{s}` is not a positive duration (e.g. 3600, 90m, 1d)"))
}

/// How often to sweep for a given TTL: often enough that a partial
/// outlives its TTL by at most half of it, at most hourly.
pub fn period(ttl: Duration) -> Duration {
    (ttl / 2).clamp(Duration::from_secs(1), Duration::from_secs(3600))
}

/// Removes every partial under the root last modified more than `ttl`
/// ago; returns how many were removed.
pub fn sweep(store: &Store, ttl: Duration) -> usize {
    let Ok(root) = store.root_dir().try_clone() else {
        return 0;
    };
    let cutoff = SystemTime::now().checked_sub(ttl);
    let mut removed = 0;
    sweep_dir(store, &root, "", cutoff, 0, &mut removed);
    if removed > 0 {
        tracing::info!(removed, ?ttl, "files: expired upload partials removed");
    }
    removed
}

fn sweep_dir(
    store: &Store,
    dir: &Dir,
    path: &str,
    cutoff: Option<SystemTime>,
    depth: usize,
    removed: &mut usize,
) {
    let Ok(entries) = dir.entries() else { return };
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() && depth < MAX_DEPTH {
            if let Ok(sub) = dir.open_dir(&name) {
                let p = format!("{path}{name}/");
                sweep_dir(store, &sub, &p, cutoff, depth + 1, removed);
            }
            continue;
        }
        let Some(base) = name
            .strip_suffix(PARTIAL_SUFFIX)
            .and_then(|n| n.strip_prefix('.'))
        else {
            continue;
        };
        if !ft.is_file() || !expired(dir, &name, cutoff) {
            continue;
        }
        // Held while removing, so no upload starts on it meanwhile.
        let Some(_held) = store.hold(&format!("{path}{base}")) else {
            continue;
        };
        // Looked at again under the hold: an upload may have just ended.
        if expired(dir, &name, cutoff) && dir.remove_file(&name).is_ok() {
            *removed += 1;
        }
    }
}

fn expired(dir: &Dir, name: &str, cutoff: Option<SystemTime>) -> bool {
    let Some(cutoff) = cutoff else { return false };
    dir.symlink_metadata(name)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.into_std() < cutoff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_forms() {
        assert_eq!(parse_ttl("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_ttl("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_ttl("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_ttl("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_ttl("3600"), Ok(Duration::from_secs(3600)));
        for bad in ["", "0", "d", "1w", "-1", "1.5h", "99999999999999999999d"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
        assert_eq!(period(Duration::from_secs(1)), Duration::from_secs(1));
        assert_eq!(
            period(Duration::from_secs(86_400)),
            Duration::from_secs(3600)
        );
    }
}
