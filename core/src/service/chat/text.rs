//! The chat's own texts (notices, senders, time stamps, `ip:port`) written
//! piece by piece into a [`Sink`], without `core::fmt`.
//!
//! Why: a firmware image that runs the chat room formats nothing else,
//! and `write!` linked the formatter machinery, `Ipv6Addr`'s `Display`
//! and the integer `Display`s (~9 KiB of flash). The `Display` impls of
//! [`Notice`], [`Sender`], [`NickError`] and [`DropReason`] go through
//! the same writers ([`Fmt`]), so every text exists once and the host's
//! strings are unchanged (the tests hold the address writer to
//! `Display`).

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{DropReason, NickError, Notice, Overflow, Sender, MAX_NICK, SERVER_NAME};
use crate::decimal::Decimal;

/// Where a text goes: a frame buffer or a `fmt::Formatter`.
pub(super) trait Sink {
    /// Appends `s`, or fails when it does not fit.
    fn text(&mut self, s: &str) -> Result<(), Overflow>;

    /// Appends `n` in decimal.
    fn num(&mut self, n: u64) -> Result<(), Overflow> {
        self.text(Decimal::unsigned(n).as_str())
    }
}

/// A [`Sink`] over a `fmt::Formatter`, for the `Display` impls.
pub(super) struct Fmt<'a, 'b>(pub(super) &'a mut fmt::Formatter<'b>);

impl Sink for Fmt<'_, '_> {
    fn text(&mut self, s: &str) -> Result<(), Overflow> {
        self.0.write_str(s).map_err(|_| Overflow)
    }
}

/// Runs `write` into `f` (the `Display` impls).
pub(super) fn display(
    f: &mut fmt::Formatter<'_>,
    write: impl FnOnce(&mut Fmt<'_, '_>) -> Result<(), Overflow>,
) -> fmt::Result {
    write(&mut Fmt(f)).map_err(|_| fmt::Error)
}

impl DropReason {
    /// The reason as the notices word it.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::SlowReader => "too slow: outgoing queue full",
            Self::WriteFailed => "write failed",
            Self::ReadFailed => "read failed",
        }
    }
}

/// `e` as [`NickError`]'s `Display` words it.
pub(super) fn nick_error(w: &mut impl Sink, e: NickError) -> Result<(), Overflow> {
    match e {
        NickError::Empty => w.text("usage: /nick NAME"),
        NickError::TooLong => {
            w.text("a nickname has at most ")?;
            w.num(MAX_NICK as u64)?;
            w.text(" bytes")
        }
        NickError::BadChar => w.text("a nickname may only use A-Z a-z 0-9 _ -"),
        NickError::Reserved => {
            // `{:?}` of a name of `[A-Za-z0-9_-]`: just quoted.
            w.text("the nickname \"")?;
            w.text(SERVER_NAME)?;
            w.text("\" is reserved")
        }
    }
}

/// A sender: its nickname, or `ip:port` as the seed shows it (IPv6
/// without brackets).
pub(super) fn sender(w: &mut impl Sink, s: &Sender<'_>) -> Result<(), Overflow> {
    match s {
        Sender::Peer(addr) => {
            ip(w, addr.ip())?;
            w.text(":")?;
            w.num(u64::from(addr.port()))
        }
        Sender::Nick(name) => w.text(name),
        Sender::Server => w.text(SERVER_NAME),
    }
}

/// An address as `IpAddr`'s `Display` writes it.
fn ip(w: &mut impl Sink, addr: IpAddr) -> Result<(), Overflow> {
    match addr {
        IpAddr::V4(v4) => ipv4(w, v4),
        IpAddr::V6(v6) => ipv6(w, v6),
    }
}

fn ipv4(w: &mut impl Sink, addr: Ipv4Addr) -> Result<(), Overflow> {
    for (i, octet) in addr.octets().into_iter().enumerate() {
        if i > 0 {
            w.text(".")?;
        }
        w.num(u64::from(octet))?;
    }
    Ok(())
}

/// RFC 5952 as Rust writes it: lower-case hex without leading zeros, the
/// first longest run of two or more zero groups as `::`, and an
/// IPv4-mapped address as `::ffff:a.b.c.d`.
fn ipv6(w: &mut impl Sink, addr: Ipv6Addr) -> Result<(), Overflow> {
    if let Some(v4) = addr.to_ipv4_mapped() {
        w.text("::ffff:")?;
        return ipv4(w, v4);
    }
    let groups = addr.segments();
    let (mut best, mut run) = ((0, 0), (0, 0));
    for (i, &g) in groups.iter().enumerate() {
        run = if g == 0 {
            (run.0, run.1 + 1)
        } else {
            (i + 1, 0)
        };
        if run.1 > best.1 {
            best = run;
        }
    }
    let (start, len) = if best.1 > 1 { best } else { (groups.len(), 0) };
    let head = groups.get(..start).unwrap_or_default();
    let tail = groups.get(start + len..).unwrap_or_default();
    hex_groups(w, head)?;
    if len > 0 {
        w.text("::")?;
    }
    hex_groups(w, tail)
}

fn hex_groups(w: &mut impl Sink, groups: &[u16]) -> Result<(), Overflow> {
    const HEX: &str = "0123456789abcdef";
    for (i, &g) in groups.iter().enumerate() {
        if i > 0 {
            w.text(":")?;
        }
        let mut started = false;
        for shift in [12, 8, 4, 0] {
            let d = usize::from((g >> shift) & 15);
            if d != 0 || started || shift == 0 {
                started = true;
                w.text(HEX.get(d..d + 1).unwrap_or("0"))?;
            }
        }
    }
    Ok(())
}

/// A notice's text, as [`Notice`]'s `Display` words it.
pub(super) fn notice(w: &mut impl Sink, n: &Notice<'_>) -> Result<(), Overflow> {
    match *n {
        Notice::Joined { who, online } => {
            sender(w, &who)?;
            w.text(" joined (")?;
            w.num(online as u64)?;
            w.text(" online)")
        }
        Notice::Left(who) => {
            sender(w, &who)?;
            w.text(" left")
        }
        Notice::Dropped(who, why) => {
            sender(w, &who)?;
            w.text(" was disconnected: ")?;
            w.text(why.as_str())
        }
        Notice::ManyDropped { count, why } => {
            w.num(count as u64)?;
            w.text(" clients were disconnected: ")?;
            w.text(why.as_str())
        }
        Notice::ManyLeft { count } => {
            w.num(count as u64)?;
            w.text(" clients left")
        }
        Notice::YouAreDropped(why) => {
            w.text("you are disconnected: ")?;
            w.text(why.as_str())
        }
        Notice::Renamed { from, to } => {
            sender(w, &from)?;
            w.text(" is now ")?;
            w.text(to)
        }
        Notice::NickTaken(name) => {
            w.text("nickname ")?;
            w.text(name)?;
            w.text(" is already in use")
        }
        Notice::BadNick(e) => {
            w.text("nickname refused: ")?;
            nick_error(w, e)
        }
        Notice::LineTooLong { limit } => {
            w.text("line longer than ")?;
            w.num(limit as u64)?;
            w.text(" bytes was not sent")
        }
        Notice::Stopping => w.text("server is stopping"),
        Notice::Skipped { count } => {
            w.num(count as u64)?;
            w.text(" join/leave notices skipped: server busy")
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use core::net::{IpAddr, Ipv6Addr, SocketAddr};
    use proptest::prelude::*;
    use std::string::{String, ToString};

    use super::{Overflow, Sink};
    use crate::service::chat::Sender;

    impl Sink for String {
        fn text(&mut self, s: &str) -> Result<(), Overflow> {
            self.push_str(s);
            Ok(())
        }
    }

    fn peer(ip: IpAddr, port: u16) -> String {
        let mut s = String::new();
        super::sender(&mut s, &Sender::Peer(SocketAddr::new(ip, port))).unwrap();
        s
    }

    #[test]
    fn addresses_match_display() {
        for text in [
            "::",
            "::1",
            "1::",
            "::ffff:1.2.3.4",
            "::1.2.3.4",
            "1:0:0:2:0:0:0:3",
            "1:0:0:2:0:0:3:4",
            "0:1:0:1:0:1:0:1",
            "fe80::1:0:0:1",
            "1:2:3:4:5:6:7:8",
            "2001:db8::ff00:42:8329",
            "0.0.0.0",
            "255.255.255.255",
            "127.0.0.1",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(peer(ip, 65535), std::format!("{ip}:65535"), "{text}");
        }
    }

    /// Groups drawn mostly from 0 and a few values, so runs of zeros
    /// (and mapped addresses) are common.
    fn group() -> impl Strategy<Value = u16> {
        prop_oneof![Just(0u16), Just(0xffff), any::<u16>()]
    }

    proptest! {
        #[test]
        fn any_address_matches_display(
            g in prop::array::uniform8(group()),
            v4: [u8; 4],
            port: u16,
        ) {
            let v6 = IpAddr::V6(Ipv6Addr::from(g));
            prop_assert_eq!(peer(v6, port), std::format!("{v6}:{port}"));
            let v4 = IpAddr::from(v4);
            prop_assert_eq!(peer(v4, port), std::format!("{}:{}", v4, port.to_string()));
        }
    }
}
