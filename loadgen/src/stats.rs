//! Latency samples and the one-line report of a bench run.

use std::time::Duration;

use super::load::CpuTicks;

/// Most samples kept; beyond this, counting continues but percentiles use
/// the first ones (bounded memory for long runs).
const MAX_SAMPLES: usize = 4_000_000;

/// Round-trip latencies of one run.
#[derive(Debug, Default)]
pub struct Stats {
    micros: Vec<u32>,
    /// Completed operations.
    pub count: u64,
    /// Failed operations (timeouts, resets).
    pub errors: u64,
    /// Server CPU time during the window (if known).
    pub server_cpu_ticks: Option<CpuTicks>,
    /// The generator's own CPU time during the window.
    pub client_cpu_ticks: Option<CpuTicks>,
}

impl Stats {
    /// Records one completed operation.
    pub fn record(&mut self, latency: Duration) {
        self.count += 1;
        if self.micros.len() < MAX_SAMPLES {
            self.micros
                .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
        }
    }

    /// Adds another task's samples.
    pub fn merge(&mut self, other: Stats) {
        self.count += other.count;
        self.errors += other.errors;
        let room = MAX_SAMPLES.saturating_sub(self.micros.len());
        self.micros.extend(other.micros.into_iter().take(room));
    }

    /// Prints `MODE key=value …` with rate and p50/p99 latency.
    pub fn report(mut self, what: &str, elapsed: Duration) {
        self.micros.sort_unstable();
        let pct = |p: f64| -> u32 {
            if self.micros.is_empty() {
                return 0;
            }
            let i = ((self.micros.len() - 1) as f64 * p).round() as usize;
            self.micros[i]
        };
        let secs = elapsed.as_secs_f64();
        // Linux reports CPU time in 1/100 s ticks (USER_HZ). The kernel's
        // share is shown apart: on loopback it is most of a lean server's.
        let per_op = |t: u64| t as f64 * 10_000.0 / self.count as f64;
        let cpu = |who: &str, ticks: Option<CpuTicks>| match ticks {
            Some(t) if self.count > 0 => format!(
                " {who}_cpu_s={:.2} {who}_cpu_us/op={:.1} {who}_sys_us/op={:.1}",
                t.total() as f64 / 100.0,
                per_op(t.total()),
                per_op(t.sys)
            ),
            _ => String::new(),
        };
        let cpu = cpu("server", self.server_cpu_ticks) + &cpu("client", self.client_cpu_ticks);
        println!(
            "{what} ops={} secs={secs:.2} ops/s={:.0} p50_us={} p99_us={} errors={}{cpu}",
            self.count,
            self.count as f64 / secs,
            pct(0.50),
            pct(0.99),
            self.errors
        );
    }
}
