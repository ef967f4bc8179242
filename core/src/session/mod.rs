//! Protocol sessions: sans-I/O state machines that hold a whole
//! conversation, not just its framing, so every transport (the host's
//! tokio listeners, a blocking client, the firmware's smoltcp sockets)
//! drives the same code.
//!
//! The house style is quinn-proto's and smoltcp's: the driver hands
//! received bytes to `handle_input`, which consumes what it can and may
//! report an event; it asks `poll_output` for bytes to send (written into a
//! buffer the driver lends); it asks `poll_timeout` when to call
//! `handle_timeout` with the time, which a session never reads itself
//! (milliseconds on any monotonic clock the driver likes). No session
//! allocates; capacities are const generics or fixed by the protocol.
//!
//! - [`files`]: the native files server over any [`files::FileStore`]:
//!   read-only (`get`, `list`, `stat`; `put` refused: the board's) or with
//!   the `Full` extension (segmented gets, the token exchange, uploads: the
//!   host's); and in [`files::seed`] the seeds' file dialects, server side
//!   (seed 000's download, seed 002's `get`/`put`, seed 004's size/ack
//!   get), over the same store.
//! - [`chat`]: the group chat room (seed 003 line format): membership,
//!   nicknames, `/who`, `quit`, line limits, what goes to whom, and the
//!   slow-reader decision; its [`chat::rules`] are what the host's room,
//!   which spans nodes and queues per member, decides with too.
//! - [`exec`]: remote command execution, every dialect of the exec
//!   listeners: the handshake, authentication, commands, their framed
//!   output and exit.

#[cfg(feature = "chat")]
pub mod chat;
#[cfg(feature = "exec")]
pub mod exec;
#[cfg(feature = "files")]
pub mod files;
