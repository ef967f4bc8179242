//! `/ws/chat`: a browser user as a member of the chat room. The WebSocket
//! is bridged through an in-memory pipe into [`session::serve_client`], the
//! same code that serves a TCP client, so the room's rules (nick, /who,
//! line limits, control-character stripping, the slow-client policy) apply
//! unchanged.
//!
//! Browser to room: each text message is one or more lines (a newline is
//! appended). Room to browser: the room's bytes, in the seed 003 format, as
//! binary messages; the page decodes them as UTF-8 and splits the lines.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};

use super::{Console, TokenQuery};
use crate::services::chat::room::Room;
use crate::services::chat::session;

/// Bytes buffered in the pipe each way. When the browser stops reading,
/// the pipe fills, the session's writer stalls and the room's queue for
/// this member fills: it is dropped like a stalled TCP client.
const PIPE: usize = 16 * 1024;

/// `GET /ws/chat`.
pub async fn upgrade(
    State(console): State<Console>,
    Query(q): Query<TokenQuery>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, Response> {
    let permit = console.admit(&q).map_err(IntoResponse::into_response)?;
    let Some(room) = console.room() else {
        let msg = "no chat listener runs (--listen chat=ADDR)\n";
        return Err((StatusCode::NOT_FOUND, msg).into_response());
    };
    let ws = ws.map_err(IntoResponse::into_response)?;
    // Longer than a line may be, so an overlong line gets the room's
    // "too long" notice; far longer closes the socket.
    let max = 4 * room.config().max_line + 64;
    let ws = ws.max_message_size(max).max_frame_size(max);
    let stop = console.launch.shutdown();
    Ok(ws.on_upgrade(move |socket| async move {
        let _permit = permit;
        bridge(room, socket, peer, stop.cancelled_owned()).await;
    }))
}

/// Runs the chat session and the WebSocket pump until both end.
async fn bridge(
    room: Arc<Room>,
    socket: WebSocket,
    peer: SocketAddr,
    stop: tokio_util::sync::WaitForCancellationFutureOwned,
) {
    let (room_side, ws_side) = tokio::io::duplex(PIPE);
    let (rd, wr) = tokio::io::split(room_side);
    let (from_room, to_room) = tokio::io::split(ws_side);
    let session = session::serve_client(&room, rd, wr, peer, stop);
    tokio::join!(session, pump(socket, from_room, to_room));
}

/// Moves lines between the WebSocket and the pipe. Returns (dropping its
/// pipe ends, which the session reads as end of stream) when either side
/// closes.
async fn pump(
    mut socket: WebSocket,
    mut from_room: ReadHalf<DuplexStream>,
    mut to_room: WriteHalf<DuplexStream>,
) {
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            m = socket.recv() => match m {
                Some(Ok(Message::Text(t))) => {
                    let line = [t.as_bytes(), b"\n"].concat();
                    if to_room.write_all(&line).await.is_err() {
                        break;
                    }
                }
                // Pings are answered by the library; binary has no meaning.
                Some(Ok(Message::Binary(_) | Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
            n = from_room.read(&mut buf) => match n {
                Ok(0) | Err(_) => {
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
                Ok(n) => {
                    let bytes = buf[..n].to_vec();
                    if socket.send(Message::Binary(bytes.into())).await.is_err() {
                        break;
                    }
                }
            },
        }
    }
}
