//! Per-source reply budget for the UDP services, against reflection and
//! amplification: a UDP request's source address can be forged, so without
//! a limit anyone can make the server send a stream of replies (chargen's
//! 444 bytes for an empty datagram) to a victim of their choice.
//!
//! Each source IP address (not port: a forger picks ports freely) has two
//! token buckets, replies per second and reply bytes per second, each
//! holding at most one second's worth. A reply is sent only when both
//! buckets cover it. The table of buckets is fixed in size, indexed by a
//! keyed hash of the address, so memory does not grow with the number of
//! (spoofed) sources and each check is O(1). A slot whose bucket has
//! refilled to full carries no information, so a new source takes it over;
//! otherwise two sources that hash to one slot share it (both limited by
//! it), which errs on the side of sending less.
//!
//! Loopback sources are exempt unless `--udp-limit-loopback`: the kernel
//! drops packets from the network that claim a loopback source, so they
//! cannot be forged from outside, and local tools (the benchmark, scripts)
//! keep full speed.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use tracing::warn;

/// Options for the UDP services.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "UDP services")]
pub struct UdpOpts {
    /// Replies per second to one source address, on every UDP service
    /// (a burst of one second's worth is allowed; 0 = no limit).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub udp_rate: u32,

    /// Reply bytes per second to one source address (a burst of one
    /// second's worth; a larger single reply is never sent; 0 = no limit).
    #[arg(long, value_name = "BYTES", default_value_t = 65_536)]
    pub udp_byte_rate: u32,

    /// Source addresses tracked per UDP service (rounded up to a power of
    /// two); sources beyond it share budgets, so memory stays bounded.
    #[arg(long, value_name = "N", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=1 << 20))]
    pub udp_sources: u32,

    /// Apply the per-source budget to loopback sources too (they cannot be
    /// forged from the network, so they are exempt by default).
    #[arg(long)]
    pub udp_limit_loopback: bool,

    /// Allow `chargen` over UDP on a non-loopback address (it answers an
    /// empty datagram with 444 bytes, an amplifier for forged sources).
    #[arg(long)]
    pub udp_chargen_public: bool,

    /// Use the portable one-datagram-per-call UDP loop instead of Linux's
    /// batched `recvmmsg`/`sendmmsg` one (for comparison and tests).
    #[arg(long, hide = true)]
    pub udp_plain_loop: bool,
}

/// How often a service reports replies withheld by the budget.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// One source's buckets. `key` 0 (the unspecified address `::`, never a
/// datagram's source) marks a slot no source has used.
#[derive(Debug, Clone, Copy)]
struct Slot {
    key: u128,
    replies: f64,
    bytes: f64,
    /// Seconds since [`Budget::base`] when the buckets were last refilled.
    at: f64,
}

/// The per-source budget of one UDP service (owned by its thread, so no
/// locking).
pub struct Budget {
    slots: Box<[Slot]>,
    hasher: std::collections::hash_map::RandomState,
    rate: f64,
    byte_rate: f64,
    limit_loopback: bool,
    base: Instant,
    withheld: u64,
    reported: Instant,
}

impl Budget {
    /// A budget from the serve options; `None` when both rates are 0.
    pub fn new(o: &UdpOpts) -> Option<Budget> {
        if o.udp_rate == 0 && o.udp_byte_rate == 0 {
            return None;
        }
        let (rate, byte_rate) = (f64::from(o.udp_rate), f64::from(o.udp_byte_rate));
        let full = Slot {
            key: 0,
            replies: rate,
            bytes: byte_rate,
            at: 0.0,
        };
        let n = (o.udp_sources as usize).next_power_of_two();
        let now = Instant::now();
        Some(Budget {
            slots: vec![full; n].into_boxed_slice(),
            hasher: Default::default(),
            rate,
            byte_rate,
            limit_loopback: o.udp_limit_loopback,
            base: now,
            withheld: 0,
            reported: now,
        })
    }

    /// Whether a reply of `len` bytes to `ip` fits its budget at `now`; if
    /// so, it is charged.
    pub fn allow(&mut self, ip: IpAddr, len: usize, now: Instant) -> bool {
        let ip = ip.to_canonical();
        if ip.is_loopback() && !self.limit_loopback {
            return true;
        }
        let key = match ip {
            IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
            IpAddr::V6(v6) => u128::from(v6),
        };
        let t = now.saturating_duration_since(self.base).as_secs_f64();
        let mask = self.slots.len() - 1;
        // Truncating the 64-bit hash to the index is the point.
        let slot = &mut self.slots[self.hasher.hash_one(key) as usize & mask];
        let (rate, byte_rate) = (self.rate, self.byte_rate);
        let elapsed = (t - slot.at).max(0.0);
        slot.replies = (slot.replies + elapsed * rate).min(rate);
        slot.bytes = (slot.bytes + elapsed * byte_rate).min(byte_rate);
        slot.at = t;
        if slot.key != key && slot.replies >= rate && slot.bytes >= byte_rate {
            slot.key = key;
        }
        let len = len as f64;
        let ok = (rate == 0.0 || slot.replies >= 1.0) && (byte_rate == 0.0 || slot.bytes >= len);
        if ok {
            // A disabled dimension stays at 0, which counts as full.
            if rate > 0.0 {
                slot.replies -= 1.0;
            }
            if byte_rate > 0.0 {
                slot.bytes -= len;
            }
        } else {
            self.withheld += 1;
        }
        ok
    }

    /// Logs, at most once per [`REPORT_EVERY`], how many replies the budget
    /// withheld since the last report (one line, not one per datagram).
    pub fn report(&mut self, service: &'static str, now: Instant) {
        if self.withheld == 0 || now.saturating_duration_since(self.reported) < REPORT_EVERY {
            return;
        }
        warn!(
            service,
            withheld = self.withheld,
            "UDP replies withheld by the per-source budget (see --udp-rate, --udp-byte-rate)"
        );
        self.withheld = 0;
        self.reported = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(rate: u32, byte_rate: u32, sources: u32) -> UdpOpts {
        UdpOpts {
            udp_rate: rate,
            udp_byte_rate: byte_rate,
            udp_sources: sources,
            udp_limit_loopback: false,
            udp_chargen_public: false,
            udp_plain_loop: false,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_burst_is_one_seconds_worth_and_refills() {
        let mut b = Budget::new(&opts(5, 0, 64)).unwrap();
        let t0 = b.base + Duration::from_secs(1);
        let sent = (0..20).filter(|_| b.allow(ip("10.0.0.1"), 10, t0)).count();
        assert_eq!(sent, 5);
        assert!(b.allow(ip("10.0.0.2"), 10, t0), "another source");
        assert!(!b.allow(ip("10.0.0.1"), 10, t0 + Duration::from_millis(100)));
        assert!(b.allow(ip("10.0.0.1"), 10, t0 + Duration::from_millis(250)));
    }

    #[test]
    fn bytes_are_budgeted_too() {
        let mut b = Budget::new(&opts(0, 1000, 64)).unwrap();
        let t0 = b.base;
        assert!(b.allow(ip("10.0.0.1"), 600, t0));
        assert!(!b.allow(ip("10.0.0.1"), 600, t0));
        assert!(b.allow(ip("10.0.0.1"), 400, t0));
        assert!(!b.allow(ip("10.0.0.9"), 1001, t0), "larger than a burst");
    }

    #[test]
    fn loopback_is_exempt_unless_asked() {
        let mut b = Budget::new(&opts(1, 0, 1)).unwrap();
        let t0 = b.base;
        assert!((0..10).all(|_| b.allow(ip("127.0.0.1"), 1, t0)));
        assert!((0..10).all(|_| b.allow(ip("::ffff:127.0.0.2"), 1, t0)));
        let mut o = opts(1, 0, 1);
        o.udp_limit_loopback = true;
        let mut b = Budget::new(&o).unwrap();
        assert!(b.allow(ip("::1"), 1, t0));
        assert!(!b.allow(ip("::1"), 1, t0));
    }

    #[test]
    fn many_sources_share_a_bounded_table() {
        // One slot: every source shares it while it is busy, and a new one
        // takes it over once it has refilled.
        let mut b = Budget::new(&opts(2, 0, 1)).unwrap();
        assert_eq!(b.slots.len(), 1);
        let t0 = b.base;
        let sent = (0..1000u32)
            .filter(|i| b.allow(IpAddr::from(i.to_be_bytes()), 1, t0))
            .count();
        assert_eq!(sent, 2, "spoofed sources do not get fresh budgets");
        assert!(b.allow(ip("10.9.9.9"), 1, t0 + Duration::from_secs(1)));
        let v6: std::net::Ipv6Addr = "::ffff:10.9.9.9".parse().unwrap();
        assert_eq!(b.slots[0].key, u128::from(v6));
    }

    #[test]
    fn disabled_when_both_rates_are_zero() {
        assert!(Budget::new(&opts(0, 0, 8)).is_none());
    }
}
