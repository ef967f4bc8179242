//! `/ws/status`: once a second, the listeners with their counts and byte
//! rates, plus the connection events since the last message (all events in
//! the ring on the first one). Server to browser only: anything the
//! browser sends is ignored, and a close from it ends the socket.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::broadcast::{self, error::TryRecvError};

use super::{Console, TokenQuery};
use crate::metrics::Snapshot;
use crate::runtime::events::Event;

/// How often a snapshot is pushed.
const TICK: Duration = Duration::from_secs(1);

/// Largest message accepted from the browser (it has nothing to say here).
const MAX_IN: usize = 1024;

/// `GET /ws/status`.
pub async fn upgrade(
    State(console): State<Console>,
    Query(q): Query<TokenQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, Response> {
    let permit = console.admit(&q).map_err(IntoResponse::into_response)?;
    let ws = ws.map_err(IntoResponse::into_response)?;
    let ws = ws.max_message_size(MAX_IN).max_frame_size(MAX_IN);
    Ok(ws.on_upgrade(move |socket| async move {
        let _permit = permit;
        push(console, socket).await;
    }))
}

/// Sends a snapshot every [`TICK`] until the browser leaves or the server
/// stops.
async fn push(console: Console, mut socket: WebSocket) {
    let stop = console.launch.shutdown();
    let (past, mut rx) = console.launch.events().watch();
    let mut rates = Rates::default();
    let mut first = Some(past);
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
            m = socket.recv() => match m {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => continue,
            },
        }
        let events = first.take().unwrap_or_else(|| drain(&mut rx));
        let msg = snapshot(&console, &mut rates, &events);
        if socket
            .send(Message::Text(msg.to_string().into()))
            .await
            .is_err()
        {
            return;
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

/// The events published since the last call; a watcher that fell behind
/// the ring skips what it missed.
fn drain(rx: &mut broadcast::Receiver<Event>) -> Vec<Event> {
    let mut out = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(e) => out.push(e),
            Err(TryRecvError::Lagged(_)) => continue,
            Err(TryRecvError::Empty | TryRecvError::Closed) => return out,
        }
    }
}

/// The previous byte totals per service, to turn totals into rates.
#[derive(Default)]
struct Rates {
    last: HashMap<String, (Instant, u64, u64)>,
}

impl Rates {
    /// Bytes per second received and sent since the last call (0 the first
    /// time).
    fn update(&mut self, service: &str, s: &Snapshot) -> (f64, f64) {
        let now = Instant::now();
        let prev = self
            .last
            .insert(service.to_string(), (now, s.rx_bytes, s.tx_bytes));
        let Some((then, rx, tx)) = prev else {
            return (0.0, 0.0);
        };
        let secs = now.duration_since(then).as_secs_f64().max(1e-3);
        (
            s.rx_bytes.saturating_sub(rx) as f64 / secs,
            s.tx_bytes.saturating_sub(tx) as f64 / secs,
        )
    }
}

/// One status message.
fn snapshot(console: &Console, rates: &mut Rates, events: &[Event]) -> Value {
    let metrics = console.launch.metrics();
    let listeners: Vec<Value> = console
        .launch
        .events()
        .listeners()
        .into_iter()
        // The console's own and the metrics endpoint are not services.
        .filter(|l| l.proto != "http")
        .map(|l| {
            let s = metrics.snapshot(&l.service);
            let (rx_rate, tx_rate) = rates.update(&l.service, &s);
            json!({
                "service": l.service, "proto": l.proto, "addr": l.addr.to_string(),
                "active": s.active, "accepted": s.accepted, "refused": s.refused,
                "rx_bytes": s.rx_bytes, "tx_bytes": s.tx_bytes,
                "rx_datagrams": s.rx_datagrams, "tx_datagrams": s.tx_datagrams,
                "rx_rate": rx_rate, "tx_rate": tx_rate,
            })
        })
        .collect();
    let events: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "at_ms": e.at_ms, "kind": e.kind, "service": e.service,
                "peer": e.peer.to_string(), "detail": e.detail,
            })
        })
        .collect();
    let chat = console.room().map(|r| r.len());
    json!({ "listeners": listeners, "events": events, "chat_members": chat })
}
