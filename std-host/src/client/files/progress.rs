//! Transfer progress for the clients: an indicatif bar (bytes, rate, ETA)
//! when stderr is a terminal, fitted to its width (one line even at 40
//! columns), otherwise a plain log line at every quarter of a transfer of
//! 1 MiB or more, so scripts and CI logs stay readable and a small file
//! does not log `25% (11 of 11 bytes)`.

use std::io::IsTerminal as _;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Smallest transfer that logs quarter lines when stderr is not a terminal.
const QUARTERS_FROM: u64 = 1 << 20;

/// The bar's template for a terminal `width` columns wide: every part
/// has a bounded width except the bar, which takes what is left.
fn template(width: u16) -> &'static str {
    match width {
        100.. => "{msg} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        60..=99 => "{msg:.20} [{wide_bar}] {percent:>3}% {bytes_per_sec:>11} {eta:>4}",
        30..=59 => "[{wide_bar}] {percent:>3}% {bytes_per_sec:>11} {eta:>4}",
        _ => "{percent:>3}% {eta}",
    }
}

/// Progress of one transfer.
pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    total: u64,
    pos: u64,
    next_quarter: u64,
    started: Instant,
    start_pos: u64,
}

impl Progress {
    /// Starts showing `label` for `total` bytes, `start` already done.
    pub fn new(label: &str, total: u64, start: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let width = rustix::termios::tcgetwinsize(std::io::stderr())
                .ok()
                .map(|w| w.ws_col)
                .filter(|&c| c > 0)
                .unwrap_or(80);
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(template(width))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message(label.to_string());
            bar.set_position(start);
            bar
        });
        if bar.is_none() {
            eprintln!("{label}: {total} bytes, starting at {start}");
        }
        let next_quarter = if total >= QUARTERS_FROM { 1 } else { 4 };
        let mut p = Progress {
            bar,
            label: label.to_string(),
            total,
            pos: start,
            next_quarter,
            started: Instant::now(),
            start_pos: start,
        };
        p.skip_quarters();
        p
    }

    fn skip_quarters(&mut self) {
        while self.next_quarter < 4 && self.pos >= self.total / 4 * self.next_quarter {
            self.next_quarter += 1;
        }
    }

    /// `n` more bytes were transferred.
    pub fn inc(&mut self, n: u64) {
        self.pos += n;
        if let Some(bar) = &self.bar {
            bar.set_position(self.pos);
        } else if self.next_quarter < 4 && self.pos >= self.total / 4 * self.next_quarter {
            eprintln!(
                "{}: {}% ({} of {} bytes)",
                self.label,
                self.next_quarter * 25,
                self.pos,
                self.total
            );
            self.skip_quarters();
        }
    }

    /// Ends the display without a summary (the transfer failed; the
    /// error says why).
    pub fn clear(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// Ends the display with a summary line.
    pub fn finish(self, what: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let secs = self.started.elapsed().as_secs_f64();
        let moved = self.pos - self.start_pos;
        let rate = if secs > 0.0 {
            moved as f64 / secs / (1 << 20) as f64
        } else {
            0.0
        };
        eprintln!(
            "{}: {what} ({} bytes, {moved} transferred in {secs:.2} s, {rate:.1} MiB/s)",
            self.label, self.pos
        );
    }
}
