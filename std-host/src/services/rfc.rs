//! The RFC "simple services", each over TCP and UDP on the same address:
//! echo (862), discard (863), chargen (864), daytime (867), time (868).
//! Their byte patterns come from `wirekit_core::service`.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wirekit_core::service::rfc::{daytime, Chargen, DAYTIME_MAX};
use wirekit_core::service::time::rfc868;

use super::echo;
use crate::runtime::{clock, Conn, ConnCtx, Launch};

pub(super) fn start_echo(l: &Launch, _: &super::Shared, addr: SocketAddr) -> anyhow::Result<()> {
    l.tcp("plain-echo", addr, |c, x| echo::stream(c, x, |_| {}))?;
    l.udp("plain-echo", addr, |req: &[u8], _p, out: &mut [u8]| {
        Some(echo::datagram(req, out, |_| {}))
    })
}

pub(super) fn start_discard(l: &Launch, _: &super::Shared, addr: SocketAddr) -> anyhow::Result<()> {
    l.tcp("discard", addr, discard)?;
    l.udp("discard", addr, |_: &[u8], _p, _: &mut [u8]| None)
}

pub(super) fn start_chargen(l: &Launch, _: &super::Shared, addr: SocketAddr) -> anyhow::Result<()> {
    // Checked before binding anything, so a refusal leaves nothing half up.
    if !addr.ip().to_canonical().is_loopback() && !l.opts().udp.udp_chargen_public {
        anyhow::bail!(
            "refusing chargen on non-loopback address {addr}: over UDP it answers any \
             (forgeable) source with 444 bytes per empty datagram, an amplifier; \
             bind it to 127.0.0.1 or ::1, or pass --udp-chargen-public"
        );
    }
    l.tcp("chargen", addr, chargen)?;
    let mut gen = Chargen::new();
    l.udp("chargen", addr, move |_: &[u8], _p, out: &mut [u8]| {
        Some(gen.datagram(out))
    })
}

pub(super) fn start_daytime(l: &Launch, _: &super::Shared, addr: SocketAddr) -> anyhow::Result<()> {
    l.tcp("daytime", addr, |c, _| send_once(c, daytime_bytes()))?;
    l.udp("daytime", addr, |_: &[u8], _p, out: &mut [u8]| {
        let text = daytime_bytes();
        out[..text.len()].copy_from_slice(&text);
        Some(text.len())
    })
}

pub(super) fn start_rfc868(l: &Launch, _: &super::Shared, addr: SocketAddr) -> anyhow::Result<()> {
    l.tcp("rfc868", addr, |c, _| send_once(c, rfc868_now().to_vec()))?;
    l.udp("rfc868", addr, |_: &[u8], _p, out: &mut [u8]| {
        out[..4].copy_from_slice(&rfc868_now());
        Some(4)
    })
}

fn daytime_bytes() -> Vec<u8> {
    let mut buf = [0u8; DAYTIME_MAX];
    let n = daytime(&clock::local_now(), &mut buf);
    buf[..n].to_vec()
}

fn rfc868_now() -> [u8; 4] {
    rfc868(jiff::Timestamp::now().as_second())
}

/// Daytime and time over TCP: send the answer, then close (the RFCs ignore
/// anything the client sends).
async fn send_once(mut conn: Conn, answer: Vec<u8>) -> anyhow::Result<()> {
    conn.write_all(&answer).await?;
    conn.shutdown().await?;
    Ok(())
}

/// RFC 863: read and throw away until the client closes.
async fn discard(mut conn: Conn, ctx: ConnCtx) -> anyhow::Result<()> {
    let stop = ctx.shutdown.cancelled();
    tokio::pin!(stop);
    // Inline, so idle connections cost no heap buffer.
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::select! {
            r = conn.read(&mut buf) => r?,
            _ = &mut stop => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
    }
}

/// RFC 864 over TCP: the pattern, as fast as the client reads, until it
/// closes the connection. What it sends is discarded.
async fn chargen(conn: Conn, ctx: ConnCtx) -> anyhow::Result<()> {
    let (mut rd, mut wr) = conn.into_split();
    let mut gen = Chargen::new();
    let mut buf = vec![0u8; 4096];
    let mut pos = buf.len();
    let mut sink = [0u8; 512];
    let mut reading = true;
    let stop = ctx.shutdown.cancelled();
    tokio::pin!(stop);
    loop {
        if pos == buf.len() {
            gen.fill(&mut buf);
            pos = 0;
        }
        // `write` (unlike `write_all`) is cancel-safe, so the pattern stays
        // intact when a read wins the race.
        tokio::select! {
            r = wr.write(&buf[pos..]) => pos += r?,
            r = rd.read(&mut sink), if reading => reading = r? > 0,
            _ = &mut stop => return Ok(()),
        }
    }
}
