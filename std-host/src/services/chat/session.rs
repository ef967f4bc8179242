//! One chat connection on the server: a reader that turns the client's
//! lines into room actions, and a writer that drains the client's queue to
//! its socket, raced against being kicked and against server shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use wirekit_core::service::chat::{ChatDecoder, ChatEvent, DropReason, Notice};
use wirekit_core::session::chat::rules::{self, Decision};

use super::room::{Frame, Membership, Room};

/// How long a leaving or stopping client gets to take what is queued for
/// it before the connection is closed anyway (less than the serve
/// framework's default shutdown grace of 2 s).
const DRAIN: Duration = Duration::from_secs(1);

/// Why the reader stopped.
enum ReadEnd {
    /// `quit`.
    Quit,
    /// End of stream.
    Eof,
    /// The server is stopping.
    Stopping,
    /// The socket failed.
    Failed,
}

/// Why the writer stopped.
enum WriteEnd {
    /// The queue was closed (the member left) and everything was written.
    Drained,
    /// The room dropped this client.
    Kicked,
    /// The socket failed.
    Failed,
}

/// Serves one chat client until it leaves, fails, is dropped, or
/// `shutdown` completes (then it is told the server is stopping).
///
/// The writer is a task of its own: every frame the room queues wakes
/// it, and a wake of this task would also poll the reader, the shutdown
/// signal and whatever the serve framework wraps around the connection
/// (idle watch, task tracking), thousands of times per line in a big
/// room. It is aborted when this future ends or is dropped.
pub async fn serve_client<R, W>(
    room: &Room,
    reader: R,
    writer: W,
    peer: SocketAddr,
    shutdown: impl Future<Output = ()>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let Membership { id, frames, kicked } = room.join(peer);
    // The framework may drop this future (idle timeout, end of the
    // shutdown grace): the seat still has to be given up.
    let _seat = Seat { room, id };
    let mut write = Writer(tokio::spawn(write_loop(writer, frames, kicked)));
    let read = read_loop(room, id, reader, shutdown);
    tokio::pin!(read);
    tokio::select! {
        end = &mut read => {
            match end {
                ReadEnd::Quit | ReadEnd::Eof => room.leave(id, None),
                ReadEnd::Failed => room.leave(id, Some(DropReason::ReadFailed)),
                ReadEnd::Stopping => {
                    room.notify(id, Notice::Stopping);
                    room.remove_quietly(id);
                }
            }
            // The member is out of the room, so its queue is closed: let
            // the writer send what is still queued, for a bounded time.
            let _ = tokio::time::timeout(DRAIN, &mut write).await;
        }
        end = &mut write => match end {
            WriteEnd::Failed => room.leave(id, Some(DropReason::WriteFailed)),
            // Already removed by the room, which told the others.
            WriteEnd::Kicked | WriteEnd::Drained => {}
        },
    }
    tracing::debug!(%peer, id, "chat session ended");
}

/// The writer task; aborted when dropped, so it never outlives its
/// session (it holds the socket's write half).
struct Writer(tokio::task::JoinHandle<WriteEnd>);

impl Future for Writer {
    type Output = WriteEnd;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<WriteEnd> {
        // A panicked or aborted writer has written nothing more.
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(WriteEnd::Failed))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Leaves the room when the session ends, however it ends; a no-op when
/// the session already left (or was dropped) with a reason.
struct Seat<'a> {
    room: &'a Room,
    id: u64,
}

impl Drop for Seat<'_> {
    fn drop(&mut self) {
        self.room.leave(self.id, None);
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    room: &Room,
    id: u64,
    mut reader: R,
    shutdown: impl Future<Output = ()>,
) -> ReadEnd {
    tokio::pin!(shutdown);
    let config = room.config();
    let mut dec = ChatDecoder::with_relay(config.max_line, config.relay);
    // Small on purpose: a thousand mostly quiet clients each hold one, and
    // the decoder copes with any chunking.
    let mut buf = vec![0u8; 2048];
    loop {
        let n = tokio::select! {
            () = &mut shutdown => return ReadEnd::Stopping,
            r = reader.read(&mut buf) => match r {
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(id, "chat read failed: {e}");
                    return ReadEnd::Failed;
                }
            },
        };
        if n == 0 {
            if let Some(input) = dec.finish() {
                if room.act(id, input).is_some() {
                    return ReadEnd::Quit;
                }
            }
            return ReadEnd::Eof;
        }
        let mut input = &buf[..n];
        loop {
            let (used, ev) = dec.decode(input);
            match ev {
                None => break,
                Some(ChatEvent::Input(line)) => {
                    if room.act(id, line).is_some() {
                        return ReadEnd::Quit;
                    }
                }
                Some(ChatEvent::TooLong { limit }) => {
                    if let Decision::Refuse(notice) = rules::too_long(limit) {
                        room.notify(id, notice);
                    }
                }
            }
            input = &input[used..];
            // One read can hold thousands of short lines; letting the
            // writers run between lines keeps a burst from one sender from
            // overflowing healthy clients' queues (only clients whose
            // sockets are stalled should fill up).
            tokio::task::yield_now().await;
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut frames: mpsc::Receiver<Frame>,
    kicked: oneshot::Receiver<Frame>,
) -> WriteEnd {
    // The kick channel closes without a value when the member leaves
    // normally; then only the queue matters (a finished oneshot must not be
    // polled again).
    let mut kicked = Some(kicked);
    let end = loop {
        let frame = tokio::select! {
            biased;
            k = until_kicked(&mut kicked) => break kick(&mut writer, k).await,
            frame = frames.recv() => match frame {
                Some(frame) => frame,
                None => break WriteEnd::Drained,
            },
        };
        let batch = batch(frame, &mut frames);
        // A stalled client blocks this write; the kick must still get
        // through, so the write is raced against it.
        tokio::select! {
            biased;
            k = until_kicked(&mut kicked) => break kick(&mut writer, k).await,
            r = writer.write_all(batch.bytes()) => if r.is_err() {
                break WriteEnd::Failed;
            },
        }
    };
    let _ = writer.shutdown().await;
    end
}

/// Most bytes written in one go when several frames are waiting.
const BATCH: usize = 32 * 1024;

/// Joins the frames already waiting (up to [`BATCH`] bytes) so a client
/// that fell behind during a burst (e.g. a thousand joins) catches up with
/// one write instead of one per frame. A lone frame is written as is.
fn batch(first: Frame, frames: &mut mpsc::Receiver<Frame>) -> Batch {
    let Ok(second) = frames.try_recv() else {
        return Batch::One(first);
    };
    let mut buf = Vec::with_capacity(BATCH.min(first.len() * 8));
    buf.extend_from_slice(&first);
    buf.extend_from_slice(&second);
    while buf.len() < BATCH {
        match frames.try_recv() {
            Ok(f) => buf.extend_from_slice(&f),
            Err(_) => break,
        }
    }
    Batch::Many(buf)
}

/// What one write sends: a shared frame, or several copied together.
enum Batch {
    One(Frame),
    Many(Vec<u8>),
}

impl Batch {
    fn bytes(&self) -> &[u8] {
        match self {
            Batch::One(f) => f,
            Batch::Many(v) => v,
        }
    }
}

/// Resolves with the farewell frame if the room kicks this member; never
/// resolves otherwise.
async fn until_kicked(kicked: &mut Option<oneshot::Receiver<Frame>>) -> Frame {
    if let Some(rx) = kicked.as_mut() {
        if let Ok(frame) = rx.await {
            return frame;
        }
        *kicked = None;
    }
    std::future::pending().await
}

/// Best effort to tell a dropped client why: its socket is probably
/// stalled (and may hold half a frame), so this gives up quickly.
async fn kick<W: AsyncWrite + Unpin>(writer: &mut W, farewell: Frame) -> WriteEnd {
    let _ = tokio::time::timeout(Duration::from_millis(100), writer.write_all(&farewell)).await;
    WriteEnd::Kicked
}
