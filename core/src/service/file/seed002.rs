//! Seed 002's FTP: `get NAME` / `put NAME` as text, then
//! `struct.pack('i', file_size)`, then one frame per chunk
//! (`pack('i', len(json))` + `{"file_name", "file_size", "md5"}` + the
//! chunk) whose md5 covers that chunk. An upload is answered with
//! `f'{file_name} 上传成功'`.
//!
//! The seed sends one frame per line of the file; any chunking works for
//! its peers, so wirekit sends fixed-size chunks. The size travels as an
//! `i`, so files of 2 GiB and more cannot be expressed and are refused.

use core::fmt::Write as _;

use super::text::{json_string, SliceWriter};
use crate::codec::frame::{Event, FrameDecoder, FrameError, Limits};
use crate::wire::{Digest, PrefixError, PREFIX_LEN};

/// Largest file the dialect can announce (`i` is a signed 32-bit int).
pub const MAX_SIZE: u64 = i32::MAX as u64;
/// Chunk size wirekit sends (the seed's per-chunk buffering is in memory).
pub const CHUNK: usize = 64 * 1024;
/// Most bytes the seed reads for a command (`recv(1024)`).
pub const MAX_COMMAND: usize = 1024;
/// Room needed for a chunk header (prefix + JSON with a name of up to
/// 512 bytes, each byte escaped to at most 6).
pub const CHUNK_HEADER_CAP: usize = 3200;

/// The two commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Download.
    Get,
    /// Upload.
    Put,
}

/// Why a command line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError {
    /// Not UTF-8.
    NotUtf8,
    /// Not `VERB NAME` with exactly one space (the seed's `split(' ')`).
    Malformed,
    /// A verb other than `get`/`put`.
    UnknownVerb,
}

impl core::fmt::Display for CommandError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NotUtf8 => "command is not UTF-8",
            Self::Malformed => "expected 'get NAME' or 'put NAME'",
            Self::UnknownVerb => "unknown command (only get and put)",
        })
    }
}

/// Parses `get NAME` / `put NAME` as the seed server does (`split(' ')`
/// into exactly two parts); a trailing line end is tolerated.
///
/// ```
/// use wirekit_core::service::file::seed002::{parse_command, Verb};
/// assert_eq!(parse_command(b"get a.txt"), Ok((Verb::Get, "a.txt")));
/// ```
pub fn parse_command(bytes: &[u8]) -> Result<(Verb, &str), CommandError> {
    let s = core::str::from_utf8(bytes).map_err(|_| CommandError::NotUtf8)?;
    let s = s.trim_end_matches(['\r', '\n']);
    let mut parts = s.split(' ');
    let (Some(verb), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(CommandError::Malformed);
    };
    let verb = match verb {
        "get" => Verb::Get,
        "put" => Verb::Put,
        _ => return Err(CommandError::UnknownVerb),
    };
    Ok((verb, name))
}

/// Length of the command at the start of `buffered`. The seed client
/// sends `put NAME` and the binary size preamble back to back, so one read
/// may hold both. The command is printable UTF-8; the preamble's first
/// bytes may be printable too (size 0x41 starts with `A`), so when the
/// first chunk header (`{"file_name"` eight bytes after the preamble's
/// start) is also buffered it pins the boundary; otherwise the command
/// ends at the first byte that is not printable UTF-8.
pub fn command_len(buffered: &[u8]) -> usize {
    let end = buffered.len().min(MAX_COMMAND);
    let head = &buffered[..end];
    let utf8 = match core::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
    };
    let text = utf8
        .char_indices()
        .find(|(_, c)| c.is_control())
        .map_or(utf8.len(), |(i, _)| i);
    if text == buffered.len() {
        return text;
    }
    (0..=text.min(3))
        .map(|k| text - k)
        .find(|cut| {
            buffered
                .get(cut + 8..)
                .is_some_and(|r| r.starts_with(b"{\"file_name\""))
        })
        .unwrap_or(text)
}

/// The `pack('i', file_size)` preamble, or `None` if the size does not
/// fit an `i`.
pub fn size_prefix(size: u64) -> Option<[u8; PREFIX_LEN]> {
    i32::try_from(size).ok().map(i32::to_le_bytes)
}

/// Writes the frame header announcing `chunk` (prefix + JSON as the seed's
/// `json.dumps` writes it); returns its length, `None` if `out` is short.
pub fn chunk_header(name: &str, chunk: &[u8], out: &mut [u8]) -> Option<usize> {
    chunk_header_md5(name, chunk.len() as u64, Digest::of(chunk), out)
}

/// [`chunk_header`] for a chunk of `len` bytes whose md5 is known. Its
/// length does not depend on `md5`, so a server may write the header after
/// reading the chunk behind it.
pub fn chunk_header_md5(name: &str, len: u64, md5: Digest, out: &mut [u8]) -> Option<usize> {
    let md5 = md5.to_hex();
    let body = out.get_mut(PREFIX_LEN..)?;
    let mut w = SliceWriter::new(body);
    (|| {
        w.write_str("{\"file_name\": ")?;
        json_string(&mut w, name)?;
        write!(w, ", \"file_size\": {len}, \"md5\": ")?;
        json_string(
            &mut w,
            core::str::from_utf8(&md5).map_err(|_| core::fmt::Error)?,
        )?;
        w.write_str("}")
    })()
    .ok()?;
    let n = w.len();
    out[..PREFIX_LEN].copy_from_slice(&u32::try_from(n).ok()?.to_le_bytes());
    Some(PREFIX_LEN + n)
}

/// Writes the seed's upload answer, `{name} 上传成功`.
pub fn upload_done(name: &str, w: &mut impl core::fmt::Write) -> core::fmt::Result {
    write!(w, "{name} 上传成功")
}

/// Why an upload stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadError {
    /// The size preamble is negative.
    NegativeSize,
    /// The file is larger than the server accepts.
    TooLarge {
        /// Announced size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A chunk frame is malformed.
    Frame(FrameError),
    /// A chunk's header has no md5 to check it against.
    MissingMd5,
    /// A chunk is empty or runs past the announced size.
    BadChunkSize {
        /// The chunk's size.
        len: u64,
        /// Bytes still expected.
        remaining: u64,
    },
    /// A chunk's bytes do not match its md5.
    ChunkMismatch {
        /// Byte offset of the chunk in the file.
        offset: u64,
    },
}

impl core::fmt::Display for UploadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NegativeSize => f.write_str("negative file size"),
            Self::TooLarge { size, limit } => {
                write!(f, "file of {size} bytes exceeds the limit of {limit} bytes")
            }
            Self::Frame(e) => write!(f, "{e}"),
            Self::MissingMd5 => f.write_str("chunk header has no md5"),
            Self::BadChunkSize { len, remaining } => {
                write!(f, "chunk of {len} bytes with {remaining} bytes left")
            }
            Self::ChunkMismatch { offset } => {
                write!(f, "md5 mismatch in the chunk at byte {offset}")
            }
        }
    }
}

/// A step of an upload stream.
#[derive(Debug, PartialEq, Eq)]
pub enum UploadEvent<'a> {
    /// The announced file size.
    Size(u64),
    /// A chunk of `len` bytes starts.
    Chunk {
        /// The chunk's size.
        len: u64,
    },
    /// The current chunk ended and matched its md5.
    ChunkVerified,
    /// File bytes (not yet verified: a later [`UploadError::ChunkMismatch`]
    /// voids the upload).
    Data(&'a [u8]),
    /// All bytes arrived and every chunk matched its md5.
    Done,
}

/// Decodes the client side of a seed 002 `put` after the command:
/// preamble, then chunk frames until the announced size is reached.
pub struct Upload {
    size: Option<u64>,
    prefix: [u8; PREFIX_LEN],
    have: usize,
    received: u64,
    chunk_start: u64,
    frames: FrameDecoder<CHUNK_HEADER_CAP>,
    max_size: u64,
    done: bool,
}

impl Upload {
    /// An upload refusing files over `max_size` bytes (capped at [`MAX_SIZE`]).
    pub fn new(max_size: u64) -> Self {
        Upload {
            size: None,
            prefix: [0; PREFIX_LEN],
            have: 0,
            received: 0,
            chunk_start: 0,
            frames: FrameDecoder::with_limits(Limits::default()),
            max_size: max_size.min(MAX_SIZE),
            done: false,
        }
    }

    /// The announced size, once the preamble arrived.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// True once [`UploadEvent::Done`] was returned.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decodes from `input`: bytes consumed and the next event (`None`:
    /// all input consumed, more needed). Errors are final.
    pub fn decode<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<UploadEvent<'a>>), UploadError> {
        let Some(size) = self.size else {
            return self.decode_size(input);
        };
        if self.done {
            // Consume nothing and repeat `Done`: `None` would claim the
            // bytes after the upload (decoder contract, PROTOCOL.md).
            return Ok((0, Some(UploadEvent::Done)));
        }
        if self.received == size && self.frames.is_idle() {
            self.done = true;
            return Ok((0, Some(UploadEvent::Done)));
        }
        let remaining = size - self.received;
        let (used, event) = match self.frames.decode(input) {
            Ok(r) => r,
            Err(FrameError::Md5Mismatch { .. }) => {
                let offset = self.chunk_start;
                return Err(UploadError::ChunkMismatch { offset });
            }
            Err(e) => return Err(UploadError::Frame(e)),
        };
        match event {
            None => Ok((used, None)),
            Some(Event::Header(h)) => {
                if h.md5.is_none() {
                    return Err(UploadError::MissingMd5);
                }
                let len = h.total_size;
                if len == 0 || len > remaining {
                    return Err(UploadError::BadChunkSize { len, remaining });
                }
                self.chunk_start = self.received;
                Ok((used, Some(UploadEvent::Chunk { len })))
            }
            Some(Event::Body(b)) => {
                self.received += b.len() as u64;
                Ok((used, Some(UploadEvent::Data(b))))
            }
            Some(Event::End(_)) if self.received == size => {
                self.done = true;
                Ok((used, Some(UploadEvent::Done)))
            }
            Some(Event::End(_)) => Ok((used, Some(UploadEvent::ChunkVerified))),
        }
    }

    fn decode_size<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<UploadEvent<'a>>), UploadError> {
        let take = (PREFIX_LEN - self.have).min(input.len());
        self.prefix[self.have..self.have + take].copy_from_slice(&input[..take]);
        self.have += take;
        if self.have < PREFIX_LEN {
            return Ok((take, None));
        }
        let size = match crate::wire::Prefix::new_checked(&self.prefix[..])
            .and_then(|p| p.len_checked(u32::MAX))
        {
            Ok(v) => u64::from(v),
            Err(PrefixError::Negative { .. }) | Err(_) => return Err(UploadError::NegativeSize),
        };
        if size > self.max_size {
            let limit = self.max_size;
            return Err(UploadError::TooLarge { size, limit });
        }
        self.size = Some(size);
        Ok((take, Some(UploadEvent::Size(size))))
    }
}

#[cfg(test)]
mod tests;
