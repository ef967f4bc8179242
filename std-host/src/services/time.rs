//! The seeds' UDP time server: each datagram is a strftime format (empty =
//! `%Y-%m-%d %X`), answered with the local time formatted by the core.
//!
//! The answer depends only on the format and the current second, and
//! clients mostly ask the same format (the seeds' client sends the default
//! one), so the service keeps its last answer and reuses it for the same
//! request within the same second instead of formatting again.

use std::net::SocketAddr;

use wirekit_core::service::time::answer;
use wirekit_core::strftime::Tm;

use crate::runtime::{clock, Launch};

/// Requests and answers longer than this are not kept (bounded memory; the
/// common formats are a few dozen bytes).
const CACHE_MAX: usize = 256;

pub(super) fn start(l: &Launch, _: &super::Shared, addr: SocketAddr) -> anyhow::Result<()> {
    let mut last = LastAnswer::default();
    l.udp("time", addr, move |req: &[u8], _peer, out: &mut [u8]| {
        Some(last.answer(req, jiff::Timestamp::now(), out))
    })
}

/// The last answer formatted, with the request and second it is for, and
/// the local time of the current second (the time-zone lookup is done
/// once a second, not once a request).
#[derive(Default)]
struct LastAnswer {
    second: Option<i64>,
    request: Vec<u8>,
    reply: Vec<u8>,
    local: Option<(i64, Tm)>,
}

impl LastAnswer {
    /// Answers `req` at `now` into `out`, from the kept answer when it is
    /// for the same request and second.
    fn answer(&mut self, req: &[u8], now: jiff::Timestamp, out: &mut [u8]) -> usize {
        let second = now.as_second();
        if self.second == Some(second) && self.request == req && out.len() >= self.reply.len() {
            out[..self.reply.len()].copy_from_slice(&self.reply);
            return self.reply.len();
        }
        let n = answer(req, self.local_time(now), out);
        self.second = None;
        if req.len() <= CACHE_MAX && n <= CACHE_MAX {
            self.request.clear();
            self.request.extend_from_slice(req);
            self.reply.clear();
            self.reply.extend_from_slice(&out[..n]);
            self.second = Some(second);
        }
        n
    }

    /// `now` broken down in the local time zone, from the kept one when
    /// it is for the same second.
    fn local_time(&mut self, now: jiff::Timestamp) -> &Tm {
        let second = now.as_second();
        let tm = match self.local.take() {
            Some((s, tm)) if s == second => tm,
            _ => clock::local_at(now),
        };
        &self.local.insert((second, tm)).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, nanos: i32) -> jiff::Timestamp {
        jiff::Timestamp::new(secs, nanos).unwrap()
    }

    fn ask(c: &mut LastAnswer, req: &[u8], now: jiff::Timestamp) -> String {
        let mut out = vec![0u8; 2048];
        let n = c.answer(req, now, &mut out);
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    #[test]
    fn same_answer_as_formatting_afresh() {
        let mut c = LastAnswer::default();
        let fresh = |req: &[u8], now| {
            let mut out = vec![0u8; 2048];
            let n = answer(req, &clock::local_at(now), &mut out);
            String::from_utf8(out[..n].to_vec()).unwrap()
        };
        let reqs: [&[u8]; 5] = [b"", b"%S", b"%Y-%m-%d %X", b"%S", b"%Q"];
        for (i, req) in reqs.iter().enumerate() {
            for (s, ns) in [
                (1_700_000_000, 0),
                (1_700_000_000, 999_999_999),
                (1_700_000_001, 5),
            ] {
                let now = at(s + i as i64 * 10, ns);
                assert_eq!(ask(&mut c, req, now), fresh(req, now), "{req:?} at {now}");
            }
        }
    }

    #[test]
    fn next_second_or_other_request_is_formatted_again() {
        let mut c = LastAnswer::default();
        assert_eq!(ask(&mut c, b"%S", at(1_700_000_000, 0)), "20");
        assert_eq!(ask(&mut c, b"%S", at(1_700_000_000, 900_000_000)), "20");
        assert_eq!(ask(&mut c, b"%S", at(1_700_000_001, 0)), "21");
        assert_eq!(ask(&mut c, b"%S!", at(1_700_000_001, 0)), "21!");
    }

    #[test]
    fn long_requests_are_not_kept() {
        let mut c = LastAnswer::default();
        let long = vec![b'x'; CACHE_MAX + 1];
        let got = ask(&mut c, &long, at(1_700_000_000, 0));
        assert_eq!(got.len(), CACHE_MAX + 1);
        assert_eq!(c.second, None);
        assert!(c.request.is_empty());
    }
}
