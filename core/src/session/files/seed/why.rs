//! Why a seed session refused something, worded when it is written (the
//! name is still in the session's message then).

use core::fmt::{self, Write};

use heapless::String;

use super::super::refusal::{Cut, SHUTTING_DOWN};
use super::super::{FileStore, Refusal};
use crate::service::file::name::NameError;
use crate::service::file::{access, seed002, seed004};
use crate::wire::TEXT_CAP;

/// How a seed 002 get of a file of 2 GiB or more is refused ([`FileStore::refused`]
/// gets `NAME: seed 002 cannot send N bytes: ` and this): not the client's
/// fault, so a host may log it louder than other refusals.
pub const TOO_BIG: &str = "they do not fit its 'i' size field";

/// What a refusal says.
#[derive(Debug, Clone, Copy)]
pub(super) enum Why {
    /// The store's refusal, worded by [`FileStore::describe`].
    Store(Refusal),
    /// The name failed [`crate::service::file::name::check`].
    Name(NameError),
    /// A seed 000 name that is not UTF-8.
    NotUtf8,
    Command002(seed002::CommandError),
    Command004(seed004::CommandError),
    /// A seed 002 get of a file its `i` size field cannot announce.
    TooBig {
        size: u64,
    },
    /// The upload policy's refusal.
    Upload(access::Refusal),
    /// A session without [`super::super::Uploads`].
    ReadOnly,
    /// A malformed seed 002 upload stream.
    Stream(seed002::UploadError),
    /// The driver's text (a failed write or commit, a busy server).
    Driver,
    ShuttingDown,
}

impl Why {
    /// Writes the reason; `name` is the request's file name, `driver` the
    /// driver's text for [`Why::Driver`].
    pub(super) fn write<S: FileStore>(
        self,
        name: &str,
        store: &mut S,
        driver: &str,
        w: &mut dyn Write,
    ) -> fmt::Result {
        match self {
            Why::Store(r) => store.describe(r, name, w),
            Why::Name(e) => write!(w, "{name}: {e}"),
            Why::NotUtf8 => w.write_str("file name is not UTF-8"),
            Why::Command002(e) => write!(w, "{e}"),
            Why::Command004(e) => write!(w, "{e}"),
            Why::TooBig { size } => {
                write!(w, "{name}: seed 002 cannot send {size} bytes: {TOO_BIG}")
            }
            Why::Upload(r) => write!(w, "{r}"),
            Why::ReadOnly => write!(w, "{name}: this server is read-only"),
            Why::Stream(e) => write!(w, "{e}"),
            Why::Driver => w.write_str(driver),
            Why::ShuttingDown => w.write_str(SHUTTING_DOWN),
        }
    }

    /// The reason cut at [`TEXT_CAP`], for [`FileStore::refused`].
    pub(super) fn log_text<S: FileStore>(
        self,
        name: &str,
        store: &mut S,
        driver: &str,
    ) -> String<TEXT_CAP> {
        let mut s = String::new();
        // Cut never fails.
        let _ = self.write(name, store, driver, &mut Cut(&mut s));
        s
    }
}
