//! The reader of one shared room: an ephemeral pull consumer of
//! [`super::STREAM`] filtered to the room's subject, without acks, turning each valid bus message into the
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

/// Messages asked for per pull request.
const PULL_BATCH: usize = 512;

/// How long one pull request lives on the server.
const PULL_EXPIRES: Duration = Duration::from_secs(1);

/// A new pull request is sent this often (and after every half batch),
/// whether or not the earlier ones ended, so the server always holds an
/// unexpired request for this consumer. Waiting for a request's end
/// before sending the next stalls delivery: nats-server 2.9 can let an
/// expired request go without the 408 that ends it (when a message meets
/// it just after it expired), and then the reader waited for its own
/// deadline, about a second, with lines piling up in the stream.
const PULL_EVERY: Duration = Duration::from_millis(300);

/// After this long without anything from the server (messages, or the
/// 408s that end the requests sent every [`PULL_EVERY`]) the consumer is
/// looked up; if it is gone or the lookup fails, it is recreated.
const QUIET: Duration = Duration::from_secs(2);
const LOOKUP_FOR: Duration = Duration::from_secs(2);

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
    let config = consumer::pull::Config {
        filter_subject: r.subject.clone(),
        deliver_policy: consumer::DeliverPolicy::ByStartSequence {
            start_sequence: pos.next,
        },
        ack_policy: consumer::AckPolicy::None,
        // Ephemeral, in memory, one replica: it is recreated whenever in
        // doubt, and the server drops it soon after this node is gone.
        inactive_threshold: Duration::from_secs(10),
        memory_storage: true,
        num_replicas: 1,
        ..Default::default()
    };
    let mut consumer = stream.create_consumer(config).await?;
    pos.fresh = false;
    // One inbox for all pull requests: the server sends the consumer's
    // messages in stream order whichever request they answer.
    let client = r.js.client();
    let inbox = async_nats::Subject::from(client.new_inbox());
    let mut sub = client.subscribe(inbox.clone()).await?;
    let mut pull_at = tokio::time::Instant::now();
    let mut since_pull = 0;
    let mut quiet_at = pull_at + QUIET;
    loop {
        if since_pull >= PULL_BATCH / 2 {
            pull_at = tokio::time::Instant::now();
        }
        let m = tokio::select! {
            () = stop.cancelled() => return Ok(()),
            c = connected.changed() => {
                c.context("connection gone")?;
                anyhow::bail!("reconnected");
            }
            () = tokio::time::sleep_until(pull_at) => {
                pull(&consumer, &inbox).await?;
                pull_at = tokio::time::Instant::now() + PULL_EVERY;
                since_pull = 0;
                continue;
            }
            () = tokio::time::sleep_until(quiet_at) => {
                // The server said nothing: the consumer may be lost
                // (e.g. a cluster electing leaders).
                tokio::time::timeout(LOOKUP_FOR, consumer.info())
                    .await
                    .context("consumer lookup timed out")?
                    .map_err(|e| anyhow::anyhow!("consumer lost: {e}"))?;
                quiet_at = tokio::time::Instant::now() + QUIET;
                continue;
            }
            m = sub.next() => m.context("pull inbox closed")?,
        };
        quiet_at = tokio::time::Instant::now() + QUIET;
        if !is_data(&m)? {
            continue;
        }
        since_pull += 1;
        let m = jetstream::Message {
            message: m,
            context: r.js.clone(),
        };
        let seq = m
            .info()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .stream_sequence;
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

/// Sends one pull request answered to `inbox`.
async fn pull(
    consumer: &consumer::PullConsumer,
    inbox: &async_nats::Subject,
) -> anyhow::Result<()> {
    let batch = consumer::pull::BatchConfig {
        batch: PULL_BATCH,
        expires: Some(PULL_EXPIRES),
        ..Default::default()
    };
    consumer
        .request_batch(batch, inbox.clone())
        .await
        .map_err(|e| anyhow::anyhow!("pull request not sent: {e}"))
}

/// Whether `m` is a stream message (`false` for the statuses that end or
/// keep alive pull requests); an error for statuses that mean the
/// consumer is unusable.
fn is_data(m: &async_nats::Message) -> anyhow::Result<bool> {
    use async_nats::StatusCode;
    match m.status {
        None | Some(StatusCode::OK) => Ok(true),
        Some(StatusCode::TIMEOUT | StatusCode::REQUEST_TERMINATED)
            if m.description.as_deref() != Some("Consumer Deleted") =>
        {
            Ok(false)
        }
        Some(StatusCode::IDLE_HEARTBEAT | StatusCode::NOT_FOUND) => Ok(false),
        Some(s) => anyhow::bail!("pull answered {s} {:?}", m.description),
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
        Kind::Join { .. } | Kind::Leave(_) | Kind::Drops { .. } => Class::Presence,
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
