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
//! - [`files::client`]: the files clients (`wirekit get`, `put`, `ls`,
//!   stat): the native protocol and the seeds' 000/002/004 dialects.
//!
//! A session whose conversation needs nothing but its bytes in and out
//! implements [`Session`], the one contract the blocking driver
//! (`crate::blocking::Driver`) runs any such session by.

#[cfg(feature = "chat")]
pub mod chat;
#[cfg(feature = "exec")]
pub mod exec;
#[cfg(feature = "files")]
pub mod files;

/// The contract a driver runs a session by: received bytes go to
/// [`Session::handle_input`], which consumes what it can (returning how
/// much) and may report one event; it returns `(0, None)` only when it
/// needs more bytes. Bytes to send come from [`Session::poll_output`]
/// (0: nothing now). The end of the peer's stream goes to
/// [`Session::handle_eof`], which says whether that was a clean end.
///
/// Call `handle_input` again, also with no new bytes, while it reports
/// an event or consumes input: an event may come without input (the last
/// step of an exchange).
pub trait Session {
    /// What the session reports; may borrow the input and the session.
    type Event<'a>
    where
        Self: 'a;
    /// Why the conversation failed (final).
    type Error;

    /// Consumes the peer's bytes up to the next event.
    fn handle_input<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<Self::Event<'a>>), Self::Error>;

    /// Moves the next bytes to send into `buf`; 0 when there are none.
    fn poll_output(&mut self, buf: &mut [u8]) -> usize;

    /// The peer closed its side: `Ok` if that is a clean end here.
    fn handle_eof(&mut self) -> Result<(), Self::Error>;
}
