//! The framed services (cargo feature `framed`): `files` read-only on TCP
//! [`FILES_PORT`] and the chat room on TCP [`CHAT_PORT`], both driven by
//! wirekit-core's sessions. A feature of their own because both roles do
//! not fit one image's budget (flash ≤ 64 KiB, RAM ≤ 48 KiB): the frame
//! header's JSON scanner and writer, the files session and the chat's
//! texts are ~17 KB of flash, and four chat seats with their line buffers
//! ~12 KB of RAM. The `framed` image alone fits the same budget (see
//! README.md, "Footprint").

use core::mem::MaybeUninit;
use core::ptr::addr_of_mut;

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp;

use crate::chat::{self, Chat, ChatRoom};
use crate::files::{self, Session};

pub use crate::chat::{CHAT_PORT, CHAT_SEATS};
pub use crate::files::{FlashFile, FILES_PORT, FLASH_FILES};

/// Sockets the framed services open: the files slot, the chat seats and
/// the chat's spare (refusing) socket.
pub const SOCKETS: usize = 1 + CHAT_SEATS + 1;
/// Receive buffer of the files slot: requests are small headers.
const FILES_RX: usize = 512;
/// Send buffer of the files slot: a reply header and a part of the file.
const FILES_TX: usize = 1024;

/// The framed services' buffers and session state, in static memory
/// (a part of [`crate::Buffers`]).
pub struct FramedBuffers {
    files_rx: [u8; FILES_RX],
    files_tx: [u8; FILES_TX],
    chat_rx: [[u8; chat::CHAT_RX]; CHAT_SEATS],
    chat_tx: [[u8; chat::CHAT_TX]; CHAT_SEATS],
    spare_rx: [u8; 16],
    spare_tx: [u8; chat::SPARE_TX],
    /// The files slot's session (made when a client connects).
    files_session: Option<Session>,
    room: ChatRoom,
}

impl FramedBuffers {
    /// Makes the state fields valid in `slot`, whose bytes are all zero
    /// already (the byte buffers' valid value).
    ///
    /// Not inlined: the room is built on the stack and then moved into
    /// `slot`, and that ~2 KiB temporary belongs in a frame that ends at
    /// boot, not in the board's main loop frame (which lives forever and
    /// counts towards the peak).
    #[inline(never)]
    pub fn init_zeroed(slot: &mut MaybeUninit<FramedBuffers>) {
        let p = slot.as_mut_ptr();
        // SAFETY: `p` points to a `FramedBuffers` whose byte buffers are
        // zeroed (valid); the two state fields are written as values,
        // without reading what was there.
        unsafe {
            addr_of_mut!((*p).files_session).write(None);
            addr_of_mut!((*p).room).write(chat::new_room());
        }
    }
}

/// The running framed services.
pub struct Framed<'a> {
    files: SocketHandle,
    files_session: &'a mut Option<Session>,
    chat: Chat,
    room: &'a mut ChatRoom,
    /// Since when the files slot / each chat seat has been half-open (the
    /// SYN-flood defence, see `half_open.rs`).
    files_half_open: [Option<u64>; 1],
    chat_half_open: [Option<u64>; CHAT_SEATS],
}

impl<'a> Framed<'a> {
    /// Opens the services' sockets in `sockets`.
    pub fn new(bufs: &'a mut FramedBuffers, sockets: &mut SocketSet<'a>) -> Self {
        let FramedBuffers {
            files_rx,
            files_tx,
            chat_rx,
            chat_tx,
            spare_rx,
            spare_tx,
            files_session,
            room,
        } = bufs;
        let files = sockets.add(crate::tcp_socket(files_rx, files_tx));
        let mut seats = [SocketHandle::default(); CHAT_SEATS];
        for ((h, rx), tx) in seats.iter_mut().zip(chat_rx).zip(chat_tx) {
            *h = sockets.add(crate::tcp_socket(rx, tx));
        }
        let spare = sockets.add(crate::tcp_socket(spare_rx, spare_tx));
        Framed {
            files,
            files_session,
            chat: Chat::new(seats, spare),
            room,
            files_half_open: [None],
            chat_half_open: [None; CHAT_SEATS],
        }
    }

    /// The listening slots of `port` (the files slot, or the chat seats;
    /// not the chat's spare socket, which only refuses) and when each was
    /// first seen half-open, for the SYN-flood defence.
    pub fn slots(&mut self, port: u16) -> Option<(&mut [SocketHandle], &mut [Option<u64>])> {
        match port {
            FILES_PORT => Some((
                core::slice::from_mut(&mut self.files),
                &mut self.files_half_open,
            )),
            CHAT_PORT => Some((&mut self.chat.seats, &mut self.chat_half_open)),
            _ => None,
        }
    }

    /// One round of both services.
    pub fn serve(&mut self, sockets: &mut SocketSet<'a>, now_ms: u64, unix: Option<i64>) {
        let s = sockets.get_mut::<tcp::Socket>(self.files);
        files::serve(s, self.files_session, now_ms);
        self.chat.serve(self.room, sockets, now_ms, unix);
    }
}
