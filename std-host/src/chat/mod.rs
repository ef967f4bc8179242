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

use wirekit_core::strftime::Tm;

/// Default outgoing queue length per client, in frames. A frame is one
/// broadcast line (at most ~1.2 KB, shared by all queues), so a stalled
/// client costs at most this many pointers plus what the kernel buffers.
pub const DEFAULT_QUEUE: usize = 256;

/// The local time, as the seed's `datetime.datetime.now()` shows it.
pub fn local_now() -> Tm {
    let now = jiff::Zoned::now();
    let offset = now.offset().seconds();
    let zone = now.time_zone().to_offset_info(now.timestamp());
    Tm::from_unix(now.timestamp().as_second(), offset, zone.abbreviation())
}

#[cfg(test)]
mod tests;
