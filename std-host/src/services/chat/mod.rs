//! The group chat service (`chat`, seed 003 `ChatServer`); its client,
//! `wirekit chat ADDR`, is [`crate::client::chat`].
//!
//! - [`room`]: membership and bounded fan-out (slow readers are dropped).
//! - [`session`]: one connection: its reader and its writer.
//! - [`cluster`]: rooms spanning several nodes through NATS JetStream.
//! - [`history`]: the last lines, for newcomers (`--chat-history`).
//!
//! The line protocol and the frame format live in
//! `wirekit_core::service::chat`; this module only moves bytes.

pub mod cluster;
pub mod history;
mod member;
pub mod room;
pub mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use wirekit_core::service::chat::{Relay, MAX_LINE};

use crate::runtime::clock::local_now;
use crate::runtime::{Conn, ConnCtx, Launch};
use room::{Room, RoomConfig};

/// Default outgoing queue length per client, in frames. A frame is one
/// broadcast line (at most ~1.2 KB, one allocation shared by all queues),
/// so a full queue costs 16 bytes a slot plus the frames it pins. 1,024
/// lets a healthy client ride out a burst such as a thousand clients
/// joining within 0.1 s (every join is a notice to everyone); at 256, such
/// a storm dropped most of the room in `wirekit-bench chat --conns 1000`.
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

    /// chat: said lines a newcomer is sent on joining (the room's last N;
    /// 0 = none, as the seed).
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = parse_history)]
    pub chat_history: usize,

    /// The chat bus (`--chat-nats…`).
    #[command(flatten)]
    pub nats: cluster::NatsOpts,
}

/// Most lines `--chat-history` may keep.
pub const MAX_HISTORY: usize = 10_000;

fn parse_in_range(s: &str, max: usize) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("`{s}` is not a number from 1 to {max}")),
    }
}

fn parse_history(s: &str) -> Result<usize, String> {
    match s {
        "0" => Ok(0),
        s => parse_in_range(s, MAX_HISTORY)
            .map_err(|_| format!("`{s}` is not a number from 0 to {MAX_HISTORY}")),
    }
}

/// This run's connection to the chat bus, shared by its chat listeners;
/// `None` without `--chat-nats` (or when it is optional and unreachable).
pub struct Bus(Option<Arc<cluster::Node>>);

impl Bus {
    /// Connects (once per run) before the first chat listener starts, so
    /// an unreachable NATS is a start-up error, not a silent local room.
    fn connect(opts: &ChatOpts) -> anyhow::Result<Bus> {
        if opts.nats.chat_nats.is_none() {
            return Ok(Bus(None));
        }
        let history = opts.chat_history;
        let connect = cluster::Node::connect(&opts.nats, history);
        let handle = tokio::runtime::Handle::current();
        match tokio::task::block_in_place(|| handle.block_on(connect)) {
            Ok(node) => Ok(Bus(Some(Arc::new(node)))),
            Err(e) if opts.nats.chat_nats_optional => {
                tracing::warn!("chat bus unavailable, rooms are local to this node: {e:#}");
                eprintln!("warning: chat rooms are local only: {e:#}");
                Ok(Bus(None))
            }
            Err(e) => Err(e.context("chat bus (--chat-nats-optional serves local rooms instead)")),
        }
    }
}

/// Starts the chat service on `addr` (registry entry `chat`).
pub fn start(l: &Launch, s: &crate::services::Shared, addr: SocketAddr) -> anyhow::Result<()> {
    let opts = &s.opts.chat;
    let config = RoomConfig {
        queue: opts.chat_queue,
        max_line: opts.chat_max_line,
        relay: match opts.chat_raw {
            true => Relay::Raw,
            false => Relay::Strip,
        },
        history: opts.chat_history,
    };
    let mut room = Room::new(config, local_now).with_metrics(l.metrics().clone());
    let mut tasks = None;
    if let Some(node) = s
        .chat_bus
        .get_or_try_init(|| Bus::connect(opts))?
        .0
        .as_ref()
    {
        node.count_in(l.metrics());
        let (link, start) = cluster::attach(node, node.next_room()?, l.shutdown());
        tracing::info!(
            room = link.room(),
            node = node.id(),
            "chat room shared on the bus"
        );
        room = room.with_bus(link);
        tasks = Some(start);
    }
    let room = Arc::new(room);
    for task in tasks.map(|start| start(room.clone())).unwrap_or_default() {
        l.spawn(task);
    }
    s.web_room.get_or_init(|| room.clone());
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
mod same_rules_tests;
#[cfg(test)]
mod tests;
