//! The texts of refusals, as the host's server words them, formatted only
//! when the refusal is written (the request's name is still in the
//! decoder then).

use core::fmt::{self, Write};

use heapless::String;

use super::{FileStore, Refusal};
use crate::codec::frame::FrameError;
use crate::decimal::write_unsigned;
use crate::service::file::access;
use crate::service::file::native::{RequestError, TransferError};
use crate::wire::{Digest, TEXT_CAP};

/// What the server says while it stops (between requests, or between two
/// segments of a segmented get).
pub const SHUTTING_DOWN: &str = "server is shutting down";

/// What a refusal says, formatted when it is written (with the request's
/// name, which the decoder still holds).
#[derive(Debug, Clone, Copy)]
pub(super) enum Why {
    Request(RequestError),
    /// The store's refusal: its text comes from [`FileStore::describe`].
    Store(Refusal),
    PastEnd {
        offset: u64,
        size: u64,
    },
    Changed,
    ReadOnly,
    BadRequest(FrameError),
    ShuttingDown,
    /// A refusal of the host's extension: the reason is kept there
    /// ([`HostWhy`]), so a read-only image holds none of its texts.
    Host,
}

/// The reasons only the host's extension ([`super::Full`]) gives.
#[derive(Debug, Clone, Copy)]
pub(super) enum HostWhy {
    /// `challenge` on a server without a token.
    NoToken,
    /// Too many failed proofs from the client's address.
    Throttled {
        secs: u64,
    },
    AuthFailed,
    Upload(access::Refusal),
    TooBig {
        size: u64,
        max: u64,
    },
    DataMismatch {
        offset: u64,
    },
    Data(TransferError),
    Md5Mismatch {
        expected: Digest,
        actual: Digest,
    },
    /// The driver's own text (a failed write, a busy server).
    Driver,
}

impl HostWhy {
    /// Writes the text; `driver` is the driver's text for
    /// [`HostWhy::Driver`].
    pub(super) fn write(self, name: &str, driver: &str, w: &mut dyn Write) -> fmt::Result {
        match self {
            HostWhy::NoToken => w.write_str(
                "this server has no upload token (no --files-token-file): \
                 do not give --token-file",
            ),
            HostWhy::Throttled { secs } => write!(
                w,
                "too many failed logins from your address; try again in {secs} s"
            ),
            HostWhy::AuthFailed => w.write_str("authentication failed: wrong token"),
            HostWhy::Upload(r) => write!(w, "{r}"),
            HostWhy::TooBig { size, max } => {
                write!(w, "{name}: {size} bytes exceeds the limit of {max} bytes")
            }
            HostWhy::DataMismatch { offset } => write!(
                w,
                "{name}: data frame does not match the offer (offset {offset}); upload discarded"
            ),
            HostWhy::Data(e) => write!(w, "{name}: {e}; upload discarded"),
            HostWhy::Md5Mismatch { expected, actual } => write!(
                w,
                "{name}: md5 mismatch: client says {expected}, received data is {actual}; \
                 upload discarded"
            ),
            HostWhy::Driver => w.write_str(driver),
        }
    }
}

impl Why {
    /// Writes the text; `host` writes a [`Why::Host`] reason (nothing
    /// for a read-only session, which never has one).
    pub(super) fn write<S: FileStore>(
        self,
        name: &str,
        store: &mut S,
        host: impl FnOnce(&mut dyn Write) -> fmt::Result,
        w: &mut dyn Write,
    ) -> fmt::Result {
        // Pieces, not write!: a read-only firmware image links no
        // core::fmt machinery for its refusals.
        let named = |w: &mut dyn Write, text: &str| {
            w.write_str(name)?;
            w.write_str(text)
        };
        match self {
            Why::Request(e) => w.write_str(e.as_str()),
            Why::Store(r) => store.describe(r, name, w),
            Why::PastEnd { offset, size } => {
                named(w, ": offset ")?;
                write_unsigned(w, offset)?;
                w.write_str(" is past the end (")?;
                write_unsigned(w, size)?;
                w.write_str(" bytes)")
            }
            Why::Changed => named(w, ": file changed while being sent"),
            Why::ReadOnly => named(w, ": this server is read-only"),
            Why::BadRequest(e) => {
                w.write_str("bad request: ")?;
                e.write_text(w)
            }
            Why::ShuttingDown => w.write_str(SHUTTING_DOWN),
            Why::Host => host(w),
        }
    }

    /// The text, cut at the header's error capacity like the host's.
    pub(super) fn text<S: FileStore>(
        self,
        name: &str,
        store: &mut S,
        host: impl FnOnce(&mut dyn Write) -> fmt::Result,
    ) -> String<TEXT_CAP> {
        let mut msg = String::new();
        // Cut never fails.
        let _ = self.write(name, store, host, &mut Cut(&mut msg));
        msg
    }
}

/// A `fmt::Write` into a bounded string that keeps what fits.
pub(super) struct Cut<'a, const N: usize>(pub(super) &'a mut String<N>);

impl<const N: usize> Write for Cut<'_, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // The longest prefix that fits, cut at a char boundary (what
        // pushing char by char kept, in one copy).
        let mut end = s.len().min(N - self.0.len());
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let _ = self.0.push_str(s.get(..end).unwrap_or_default());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use core::fmt::Write;
    use proptest::prelude::*;

    use super::Cut;

    /// What `Cut` kept when it pushed char by char: the oracle.
    fn char_by_char<const N: usize>(out: &mut heapless::String<N>, s: &str) {
        for c in s.chars() {
            if out.push(c).is_err() {
                break;
            }
        }
    }

    proptest! {
        #[test]
        fn cut_keeps_what_char_by_char_kept(pieces in prop::collection::vec("\\PC{0,6}", 0..6)) {
            let (mut fast, mut slow) = (heapless::String::<9>::new(), heapless::String::<9>::new());
            for p in &pieces {
                prop_assert!(Cut(&mut fast).write_str(p).is_ok());
                char_by_char(&mut slow, p);
                prop_assert_eq!(&fast, &slow);
            }
        }
    }
}
