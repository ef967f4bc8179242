//! Wall-clock synchronisation from an RFC 868 server over TCP: connect,
//! read 4 bytes, close; at boot, then every sync interval, retrying sooner
//! after a failure. Between syncs the time is the synced second plus the
//! board clock's elapsed milliseconds.

use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::Ipv4Address;
use wirekit_core::service::time;

use crate::{Event, NetConfig};

/// Give up on one attempt (no answer, no reset) after this long.
const ATTEMPT_TIMEOUT_MS: u64 = 3_000;
/// Wait this long after a failed attempt, doubling with each further
/// failure up to [`RETRY_MAX_MS`], so an absent server costs little.
const RETRY_MS: u64 = 2_000;
const RETRY_MAX_MS: u64 = 64_000;
/// Before the first sync, RFC 868's 32-bit seconds are read in the era
/// nearest to this moment (2024-01-01), which is right until 2092; a time
/// before it is implausible (this code did not exist) and is rejected.
const BUILD_ERA_UNIX: i64 = 1_704_067_200;
/// Local ports for sync connections cycle through this range so a new
/// attempt never collides with the last one's leftovers at the server.
const LOCAL_PORTS: core::ops::Range<u16> = 49_152..65_000;

enum State {
    Waiting { at_ms: u64 },
    Connecting { since_ms: u64 },
}

/// The sync client's state and the wall clock it maintains.
pub struct Sync {
    handle: SocketHandle,
    server: (Ipv4Address, u16),
    interval_ms: u64,
    state: State,
    next_port: u16,
    failures: u32,
    /// (board clock ms, Unix seconds) at the last successful sync.
    anchor: Option<(u64, i64)>,
}

impl Sync {
    /// A client that makes its first attempt at the next step.
    pub fn new(handle: SocketHandle, net: &NetConfig, now_ms: u64) -> Self {
        let spread = (net.random_seed % u64::from(LOCAL_PORTS.end - LOCAL_PORTS.start)) as u16;
        Sync {
            handle,
            server: net.time_server,
            interval_ms: net.sync_interval_ms,
            state: State::Waiting { at_ms: now_ms },
            next_port: LOCAL_PORTS.start + spread,
            failures: 0,
            anchor: None,
        }
    }

    /// Unix seconds at board time `now_ms`, once synchronised.
    pub fn unix_at(&self, now_ms: u64) -> Option<i64> {
        let (at_ms, unix) = self.anchor?;
        let elapsed = now_ms.saturating_sub(at_ms) / 1000;
        Some(unix.saturating_add(elapsed as i64))
    }

    /// Advances the sync state machine by one step at board time `now_ms`
    /// (milliseconds as the caller has them: smoltcp's `Instant` keeps
    /// microseconds, and getting milliseconds back is a 64-bit division).
    pub fn step(
        &mut self,
        now_ms: u64,
        iface: &mut Interface,
        sockets: &mut SocketSet<'_>,
    ) -> Option<Event> {
        let s = sockets.get_mut::<tcp::Socket>(self.handle);
        match self.state {
            State::Waiting { at_ms } => {
                if now_ms >= at_ms && s.state() == tcp::State::Closed {
                    self.connect(s, iface, now_ms);
                }
                None
            }
            State::Connecting { since_ms } => self.read(s, now_ms, since_ms),
        }
    }

    fn connect(&mut self, s: &mut tcp::Socket<'_>, iface: &mut Interface, now_ms: u64) {
        let port = self.next_port;
        self.next_port = if port + 1 >= LOCAL_PORTS.end {
            LOCAL_PORTS.start
        } else {
            port + 1
        };
        let (ip, remote_port) = self.server;
        match s.connect(iface.context(), (ip, remote_port), port) {
            Ok(()) => self.state = State::Connecting { since_ms: now_ms },
            // Only a misconfigured server (unspecified address, port 0)
            // gets here; try again later rather than spin.
            Err(_) => self.fail(now_ms),
        }
    }

    /// Accepts exactly 4 bytes followed by the server's close, with a
    /// plausible value; anything else (a relay's error text, a short read,
    /// a time before this firmware was built) fails the attempt.
    fn read(&mut self, s: &mut tcp::Socket<'_>, now_ms: u64, since_ms: u64) -> Option<Event> {
        let peer_closed = matches!(
            s.state(),
            tcp::State::CloseWait
                | tcp::State::LastAck
                | tcp::State::Closing
                | tcp::State::TimeWait
        );
        if peer_closed && s.recv_queue() == 4 {
            let mut b = [0u8; 4];
            let got = s.recv_slice(&mut b);
            let reference = self.unix_at(now_ms).unwrap_or(BUILD_ERA_UNIX);
            let unix = time::unix_from_rfc868(b, reference);
            if got == Ok(4) && unix >= BUILD_ERA_UNIX {
                s.abort();
                self.failures = 0;
                self.anchor = Some((now_ms, unix));
                self.state = State::Waiting {
                    at_ms: now_ms + self.interval_ms,
                };
                return Some(Event::Synced(unix));
            }
        }
        let refused = s.state() == tcp::State::Closed;
        let too_long = s.recv_queue() > 4;
        let late = now_ms.saturating_sub(since_ms) > ATTEMPT_TIMEOUT_MS;
        if refused || peer_closed || too_long || late {
            s.abort();
            self.fail(now_ms);
            return Some(Event::SyncFailed);
        }
        None
    }

    fn fail(&mut self, now_ms: u64) {
        let backoff = RETRY_MS
            .saturating_mul(1 << self.failures.min(5))
            .min(RETRY_MAX_MS);
        self.failures = self.failures.saturating_add(1);
        self.state = State::Waiting {
            at_ms: now_ms + backoff,
        };
    }
}
