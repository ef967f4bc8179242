//! The publisher of one shared room: takes encoded events from the room's
//! queue, in order, and publishes them to JetStream, waiting for the
//! stream's acknowledgement.
//!
//! Up to [`WINDOW`] events are in flight at once (one round trip each would
//! cap a room at a few thousand lines a second). An event whose publish or
//! acknowledgement fails (NATS restarting, a cluster electing a leader) is
//! published again with the same `Nats-Msg-Id`, so the stream stores it
//! exactly once even if the first attempt did arrive; retries stop well
//! inside the stream's duplicate window, and an event that still could not
//! be stored is logged as lost (the consumers cannot notice that gap).
//!
//! Leaves that found the queue full are published as one
//! [`Kind::Leaves`](wirekit_core::service::chat::cluster::Kind::Leaves)
//! summary after the batch in flight (see [`super::Link::unsent_leaves`]).

use std::time::{Duration, Instant};

use async_nats::jetstream;
use async_nats::HeaderMap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::link::Outgoing;

/// Events published before their acknowledgements are awaited.
const WINDOW: usize = 64;

/// Longest time an event is retried (the stream's duplicate window is 120 s).
const RETRY_FOR: Duration = Duration::from_secs(60);

/// Publishes the room's events until `stop`.
pub async fn run(
    js: jetstream::Context,
    subject: String,
    link: std::sync::Arc<super::Link>,
    mut queue: mpsc::Receiver<Outgoing>,
    stop: CancellationToken,
) {
    let mut batch = Vec::with_capacity(WINDOW);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            m = queue.recv() => match m {
                Some(m) => batch.push(m),
                None => return,
            },
            () = link.leaves_counted() => {}
        };
        while !batch.is_empty() && batch.len() < WINDOW {
            match queue.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = send_batch(&js, &subject, &batch) => {}
        }
        batch.clear();
        // Leaves that found the queue full were counted by the link (which
        // then wakes this loop): one summary after what was queued before.
        if let Some(summary) = link.unsent_leaves() {
            tokio::select! {
                () = stop.cancelled() => return,
                () = send_batch(&js, &subject, std::slice::from_ref(&summary)) => {}
            }
        }
    }
}

async fn send_batch(js: &jetstream::Context, subject: &str, batch: &[Outgoing]) {
    let mut acks = Vec::with_capacity(batch.len());
    for m in batch {
        acks.push(
            js.publish_with_headers(subject.to_owned(), headers(m), m.payload.clone())
                .await,
        );
    }
    for (m, ack) in batch.iter().zip(acks) {
        let stored = match ack {
            Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = stored {
            tracing::debug!(msg_id = %m.msg_id, "chat publish failed ({e}); retrying");
            retry(js, subject, m).await;
        }
    }
}

/// Publishes `m` again (same id) with growing pauses until it is stored or
/// [`RETRY_FOR`] has passed.
async fn retry(js: &jetstream::Context, subject: &str, m: &Outgoing) {
    let started = Instant::now();
    let mut pause = Duration::from_millis(50);
    while started.elapsed() < RETRY_FOR {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
        let sent = js
            .publish_with_headers(subject.to_owned(), headers(m), m.payload.clone())
            .await;
        let Ok(ack) = sent else { continue };
        if ack.await.is_ok() {
            return;
        }
    }
    tracing::error!(msg_id = %m.msg_id, "chat event lost: NATS did not store it within {RETRY_FOR:?}");
}

fn headers(m: &Outgoing) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(async_nats::header::NATS_MESSAGE_ID, m.msg_id.as_str());
    h
}
