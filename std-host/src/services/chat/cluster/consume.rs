//! The reader of one shared room: an ephemeral push consumer of
//! [`super::STREAM`] filtered to the room's subject, without acks, with
//! flow control and idle heartbeats, turning each valid bus message into the
//! seed frame and delivering it to the room's members on this node.
//!
//! The stream sequence of the last delivered message is tracked here, so
//! after any failure (NATS restarted, consumer lost, client reconnected)
//! the consumer is recreated at last + 1: nothing is delivered twice, and
//! nothing is skipped silently. If the stream no longer holds that
//! sequence (its limits dropped messages while the node was away), the
//! members are told with a notice. Foreign, oversized and invalid messages
//! are dropped and counted; they never reach a client.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use wirekit_core::service::chat::cluster::{
    room_of_subject, write_frame, BusMessage, Kind, MAX_FRAME,
};

use super::{Rejected, STREAM};
use crate::runtime::clock::local_at;
use crate::services::chat::room::{Class, Frame, Room};

/// Stream messages read back at start per line of `--chat-history`, to
/// find the room's last lines among the other rooms' events (bounded).
const REPLAY_PER_LINE: u64 = 16;
const REPLAY_MAX: u64 = 100_000;

/// How often the server sends an idle heartbeat (with flow control, when
/// the consumer has nothing to deliver).
const HEARTBEAT: Duration = Duration::from_secs(1);

/// The header of a heartbeat sent while flow control is stalled.
const STALLED: &str = "Nats-Consumer-Stalled";

/// After this long without anything from the server (messages or
/// heartbeats) the consumer is recreated at the next sequence.
const QUIET: Duration = Duration::from_secs(3);

/// What the reader needs.
pub struct Reader {
    /// The JetStream context of the node's connection.
    pub js: jetstream::Context,
    /// The room's subject.
    pub subject: String,
    /// The room on this node.
    pub room: Arc<Room>,
    /// The room's link (for the other nodes' members).
    pub link: Arc<super::Link>,
    /// `--chat-history`.
    pub history: usize,
    /// Where rejected messages are counted.
    pub rejected: Arc<Rejected>,
    /// Bumped on every (re)connection.
    pub connected: watch::Receiver<u64>,
    /// The stream's first and last sequence when the node connected:
    /// later messages are delivered, earlier ones only fill the history.
    pub stream_at_start: (u64, u64),
}

/// Where reading starts and resumes.
pub struct Position {
    /// The next stream sequence to deliver.
    next: u64,
    /// Messages up to this sequence predate the node: they only fill the
    /// history.
    replay_until: u64,
    /// No consumer was created yet (a gap then is not a loss).
    fresh: bool,
}

/// Delivers the room's events until `stop`.
pub async fn run(r: Reader, mut pos: Position, stop: CancellationToken) {
    let mut pause = Duration::from_millis(100);
    loop {
        let began = tokio::time::Instant::now();
        match follow(&r, &mut pos, &stop).await {
            Ok(()) => return,
            Err(e) => tracing::debug!("chat bus consumer restarts: {e:#}"),
        }
        // Back-off is for failures in a row, not for one after a long run.
        if began.elapsed() > Duration::from_secs(10) {
            pause = Duration::from_millis(100);
        }
        if sleep_or_stop(&stop, &mut pause).await {
            return;
        }
    }
}

/// Sleeps `pause` (doubling it up to 2 s); `true` if `stop` came first.
async fn sleep_or_stop(stop: &CancellationToken, pause: &mut Duration) -> bool {
    let p = *pause;
    *pause = (p * 2).min(Duration::from_secs(2));
    tokio::select! {
        () = stop.cancelled() => true,
        () = tokio::time::sleep(p) => false,
    }
}

/// Reads back, before the room takes members, the stream's messages from
/// before this node started that may hold the room's last lines, so a
/// newcomer gets the history at once. Returns where delivering starts.
/// Best effort: after [`PRIME_FOR`] the node starts without them.
pub async fn prime(r: &Reader) -> Position {
    let pos = start(r);
    if r.history == 0 || pos.next > pos.replay_until {
        return pos;
    }
    match tokio::time::timeout(PRIME_FOR, replay(r, &pos)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("chat history not read back: {e:#}"),
        Err(_) => tracing::warn!("chat history not read back within {PRIME_FOR:?}"),
    }
    pos
}

/// Longest time [`prime`] may delay the start.
const PRIME_FOR: Duration = Duration::from_secs(5);

async fn replay(r: &Reader, pos: &Position) -> anyhow::Result<()> {
    let stream = r.js.get_stream(STREAM).await?;
    let config = consumer::pull::Config {
        filter_subject: r.subject.clone(),
        deliver_policy: consumer::DeliverPolicy::ByStartSequence {
            start_sequence: pos.next,
        },
        ack_policy: consumer::AckPolicy::None,
        inactive_threshold: Duration::from_secs(30),
        ..Default::default()
    };
    let consumer = stream.create_consumer(config).await?;
    let mut next = pos.next;
    while next <= pos.replay_until {
        // `fetch` returns what is there and ends (no waiting for more).
        let mut batch = consumer.fetch().max_messages(500).messages().await?;
        let mut got = 0;
        while let Some(m) = batch.next().await {
            let m = m.map_err(|e| anyhow::anyhow!("{e}"))?;
            let seq = m
                .info()
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .stream_sequence;
            got += 1;
            next = seq + 1;
            if seq <= pos.replay_until {
                handle(r, m.subject.as_str(), &m.payload, true);
            }
        }
        if got == 0 {
            break;
        }
    }
    Ok(())
}

fn start(r: &Reader) -> Position {
    let (first, last) = r.stream_at_start;
    let back = (r.history as u64)
        .saturating_mul(REPLAY_PER_LINE)
        .min(REPLAY_MAX);
    Position {
        next: (last + 1).saturating_sub(back).max(first).max(1),
        replay_until: last,
        fresh: true,
    }
}

/// Reads from `pos.next` until an error (then the caller recreates the
/// consumer) or `stop` (`Ok`).
async fn follow(r: &Reader, pos: &mut Position, stop: &CancellationToken) -> anyhow::Result<()> {
    let mut connected = r.connected.clone();
    connected.borrow_and_update();
    let mut stream = r.js.get_stream(STREAM).await?;
    if !pos.fresh {
        check_gap(r, &mut stream, pos).await?;
    }
    // Subscribed before the consumer exists, so its first messages find
    // the inbox listening.
    let client = r.js.client();
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await?;
    let config = consumer::push::Config {
        deliver_subject: inbox,
        filter_subject: r.subject.clone(),
        deliver_policy: consumer::DeliverPolicy::ByStartSequence {
            start_sequence: pos.next,
        },
        ack_policy: consumer::AckPolicy::None,
        flow_control: true,
        idle_heartbeat: HEARTBEAT,
        // Ephemeral, in memory, one replica: it is recreated whenever in
        // doubt, and the server drops it soon after this node is gone.
        inactive_threshold: Duration::from_secs(10),
        memory_storage: true,
        num_replicas: 1,
        ..Default::default()
    };
    stream.create_consumer(config).await?;
    pos.fresh = false;
    // The consumer numbers what it sends 1, 2, ...: a number skipped (the
    // client dropped messages for a slow subscriber) means recreating at
    // `pos.next`, which loses nothing.
    let mut delivered = 0u64;
    loop {
        let m = tokio::select! {
            () = stop.cancelled() => return Ok(()),
            c = connected.changed() => {
                c.context("connection gone")?;
                anyhow::bail!("reconnected");
            }
            () = tokio::time::sleep(QUIET) => anyhow::bail!("no heartbeat for {QUIET:?}"),
            m = sub.next() => m.context("push inbox closed")?,
        };
        if !is_data(&client, &m, delivered).await? {
            continue;
        }
        let m = jetstream::Message {
            message: m,
            context: r.js.clone(),
        };
        let info = m.info().map_err(|e| anyhow::anyhow!("{e}"))?;
        let seq = info.stream_sequence;
        if info.consumer_sequence != delivered + 1 {
            anyhow::bail!(
                "consumer sent #{} after #{delivered}",
                info.consumer_sequence
            );
        }
        delivered += 1;
        if seq < pos.next {
            continue;
        }
        // A jump is normal when other rooms' events sit in between;
        // it is a loss if the stream discarded what was skipped.
        if seq > pos.next {
            check_gap(r, &mut stream, pos).await?;
        }
        pos.next = seq + 1;
        handle(r, m.subject.as_str(), &m.payload, seq <= pos.replay_until);
    }
}

/// Whether `m` is a stream message. Heartbeats and flow-control requests
/// (status 100) are answered here; a heartbeat saying the consumer sent
/// more than `delivered` messages, or any other status, is an error (the
/// caller recreates the consumer).
async fn is_data(
    client: &async_nats::Client,
    m: &async_nats::Message,
    delivered: u64,
) -> anyhow::Result<bool> {
    use async_nats::StatusCode;
    match m.status {
        None | Some(StatusCode::OK) => Ok(true),
        Some(StatusCode::IDLE_HEARTBEAT) => {
            // Flow control: the server holds further messages until this
            // reply, so it keeps a slow node from being flooded.
            if let Some(reply) = &m.reply {
                client.publish(reply.clone(), Default::default()).await?;
            }
            let headers = m.headers.as_ref();
            // A heartbeat while the server waits for a flow-control reply
            // names where to send it (the request itself may be lost).
            if let Some(reply) = headers.and_then(|h| h.get_last(STALLED)) {
                let reply = async_nats::Subject::from(reply.as_str());
                client.publish(reply, Default::default()).await?;
            }
            let sent = headers
                .and_then(|h| h.get_last(async_nats::header::NATS_LAST_CONSUMER))
                .and_then(|v| v.as_str().parse::<u64>().ok());
            match sent {
                Some(n) if n != delivered => {
                    anyhow::bail!("heartbeat: consumer sent {n}, {delivered} arrived")
                }
                _ => Ok(false),
            }
        }
        Some(s) => anyhow::bail!("push consumer sent {s} {:?}", m.description),
    }
}

/// Tells the members if the stream no longer holds `pos.next` (its limits
/// discarded messages this node had not read), and moves past the gap.
async fn check_gap(
    r: &Reader,
    stream: &mut jetstream::stream::Stream,
    pos: &mut Position,
) -> anyhow::Result<()> {
    let first = stream.info().await?.state.first_sequence;
    if first > pos.next {
        let text = format!(
            "* chat bus: lines may have been lost (stream sequences {} to {} are gone)",
            pos.next,
            first - 1
        );
        tracing::warn!("{}", &text[2..]);
        r.room.broadcast_text(&text);
        pos.next = first;
    }
    Ok(())
}

/// Checks one message and delivers it (or, during the replay at start,
/// only keeps a said line for newcomers).
fn handle(r: &Reader, subject: &str, payload: &[u8], replay: bool) {
    let Some(room) = room_of_subject(subject) else {
        r.rejected.note("not a room subject");
        return;
    };
    let msg = match BusMessage::decode(payload) {
        Ok(m) if m.room == room => m,
        Ok(_) => return r.rejected.note("room does not match its subject"),
        Err(e) => return r.rejected.note(&e.to_string()),
    };
    let ts = jiff::Timestamp::from_millisecond(msg.unix_ms as i64);
    let now = local_at(ts.unwrap_or_else(|_| jiff::Timestamp::now()));
    let mut buf = [0u8; MAX_FRAME];
    let n = match write_frame(&mut buf, &now, &msg, r.room.config().relay) {
        Ok(n) => n,
        Err(e) => return r.rejected.note(&e.to_string()),
    };
    let frame = Frame::from(&buf[..n]);
    let class = match msg.kind {
        Kind::Line(_) => Class::Said,
        Kind::Join { .. } | Kind::Leave(_) | Kind::Drops { .. } | Kind::Leaves { .. } => {
            Class::Presence
        }
        _ => Class::Other,
    };
    if !replay && msg.node != r.link.node() {
        r.link.peers().apply(&msg);
    }
    match replay {
        true if class == Class::Said => r.room.remember(frame),
        true => {}
        false => r.room.deliver_bus(frame, class),
    }
}
