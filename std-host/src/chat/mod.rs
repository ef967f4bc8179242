//! The group chat service (`chat`, seed 003 `ChatServer`) and its client.
//!
//! - [`room`]: membership and bounded fan-out (slow readers are dropped).
//! - [`session`]: one connection: its reader and its writer.
//! - [`client`]: `wirekit chat ADDR`.
//!
//! The line protocol and the frame format live in
//! `wirekit_core::service::chat`; this module only moves bytes.

pub mod client;
pub mod room;
pub mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use wirekit_core::service::chat::{Relay, MAX_LINE};

use crate::serve::clock::local_now;
use crate::serve::{Conn, ConnCtx, Launch};
use room::{Room, RoomConfig};

/// Default outgoing queue length per client, in frames. A frame is one
/// broadcast line (at most ~1.2 KB, one allocation shared by all queues),
/// so a full queue costs 16 bytes a slot plus the frames it pins. 1,024
/// lets a healthy client ride out a burst such as a thousand clients
/// joining within 0.1 s (every join is a notice to everyone); at 256, such
/// a storm dropped most of the room in `wirekit bench chat --conns 1000`.
pub const DEFAULT_QUEUE: usize = 1024;

/// `wirekit serve` options of the chat service.
#[derive(Debug, Clone, clap::Args)]
pub struct ChatOpts {
    /// chat: frames queued for one client before it is disconnected as too
    /// slow.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_QUEUE,
          value_parser = |s: &str| parse_in_range(s, 1_000_000))]
    pub chat_queue: usize,

    /// chat: longest line a client may send (bytes before the newline);
    /// longer lines are refused with a notice.
    #[arg(long, value_name = "BYTES", default_value_t = MAX_LINE,
          value_parser = |s: &str| parse_in_range(s, MAX_LINE))]
    pub chat_max_line: usize,

    /// chat: relay lines byte for byte, as the seed does, instead of
    /// removing control characters (other than tab) that would act on the
    /// readers' terminals (clear the screen, retitle the window).
    #[arg(long)]
    pub chat_raw: bool,
}

fn parse_in_range(s: &str, max: usize) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("`{s}` is not a number from 1 to {max}")),
    }
}

/// The room the web console's chat joins: the first chat listener's (each
/// `--listen chat=…` has a room of its own).
#[derive(Default)]
pub struct WebRoom(std::sync::OnceLock<Arc<Room>>);

impl WebRoom {
    /// The room, if a chat listener runs.
    pub fn get(&self) -> Option<Arc<Room>> {
        self.0.get().cloned()
    }
}

/// Starts the chat service on `addr` (registry entry `chat`).
pub fn start(l: &Launch, addr: SocketAddr) -> anyhow::Result<()> {
    let opts = &l.args().chat;
    let config = RoomConfig {
        queue: opts.chat_queue,
        max_line: opts.chat_max_line,
        relay: match opts.chat_raw {
            true => Relay::Raw,
            false => Relay::Strip,
        },
    };
    let room = Arc::new(Room::new(config, local_now).with_metrics(l.metrics().clone()));
    l.shared(|| Ok(WebRoom::default()))?
        .0
        .get_or_init(|| room.clone());
    l.tcp("chat", addr, move |conn: Conn, ctx: ConnCtx| {
        let room = room.clone();
        async move {
            let (rd, wr) = conn.into_split();
            let stop = ctx.shutdown.cancelled_owned();
            session::serve_client(&room, rd, wr, ctx.peer, stop).await;
            Ok(())
        }
    })
}

#[cfg(test)]
mod tests;
