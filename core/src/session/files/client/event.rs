//! What the files client session reports: the server's answers, and
//! what the driver must do about each.

use crate::wire::Digest;

/// A file as a `stat` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileInfo {
    /// Size in bytes.
    pub size: u64,
    /// Modification time (seconds since the Unix epoch), if sent.
    pub mtime: Option<u64>,
    /// The whole file's md5.
    pub md5: Digest,
}

/// What the server said, and what the driver must do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEvent<'a> {
    /// The challenge arrived: answer with [`FilesClient::authenticate`].
    Challenge,
    /// The server accepted the proof: uploads may follow.
    Authenticated,
    /// A get's bytes start: `size` is the whole file's, `offset` where
    /// they start (the one asked for).
    Started {
        /// The whole file's size.
        size: u64,
        /// The first byte sent.
        offset: u64,
        /// The file's modification time, if sent.
        mtime: Option<u64>,
    },
    /// The next bytes of the file, to write after the earlier ones.
    Data(&'a [u8]),
    /// All bytes arrived; `md5` is the server's for the whole file. Call
    /// [`FilesClient::finish_get`] with the md5 of what was written.
    Received {
        /// The server's md5.
        md5: Digest,
    },
    /// The server takes the upload from `offset` (the bytes it kept from
    /// an earlier one, whose md5 is `prefix`). Call
    /// [`FilesClient::send_from`] with `offset` if the local file starts
    /// with the same bytes, else with 0.
    Ready {
        /// Bytes the server kept.
        offset: u64,
        /// Their md5.
        prefix: Option<Digest>,
    },
    /// The upload is stored, with the md5 sent (checked).
    Stored {
        /// The stored file's size.
        size: Option<u64>,
        /// Its md5.
        md5: Digest,
    },
    /// A listing of `len` bytes of JSON lines follows.
    Listing {
        /// Its length.
        len: u64,
        /// The server left entries out.
        truncated: bool,
    },
    /// The next bytes of the listing.
    ListData(&'a [u8]),
    /// The listing is complete.
    ListEnd,
    /// A `stat`'s answer.
    Stat(FileInfo),
}
