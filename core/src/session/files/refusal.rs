//! The texts of refusals, as the host's server words them, formatted only
//! when the refusal is written (the request's name is still in the
//! decoder then).

use core::fmt::{self, Write};

use heapless::String;

use crate::codec::frame::FrameError;
use crate::service::file::native::RequestError;
use crate::wire::TEXT_CAP;

/// What a refusal says, formatted when it is written (with the request's
/// name, which the decoder still holds).
#[derive(Debug, Clone, Copy)]
pub(super) enum Why {
    Request(RequestError),
    Store(&'static str),
    PastEnd { offset: u64, size: u64 },
    Changed,
    ReadOnly,
    BadRequest(FrameError),
}

impl Why {
    /// The text, cut at the header's error capacity like the host's.
    pub(super) fn text(self, name: &str) -> String<TEXT_CAP> {
        let mut msg = String::new();
        let mut w = Cut(&mut msg);
        // Cut never fails.
        let _ = match self {
            Why::Request(e) => write!(w, "{e}"),
            Why::Store(what) => write!(w, "{name}: {what}"),
            Why::PastEnd { offset, size } => {
                write!(w, "{name}: offset {offset} is past the end ({size} bytes)")
            }
            Why::Changed => write!(w, "{name}: file changed while being sent"),
            Why::ReadOnly => write!(w, "{name}: this server is read-only"),
            Why::BadRequest(e) => write!(w, "bad request: {e}"),
        };
        msg
    }
}

/// A `fmt::Write` into a bounded string that keeps what fits.
struct Cut<'a, const N: usize>(&'a mut String<N>);

impl<const N: usize> Write for Cut<'_, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.0.push(c).is_err() {
                break;
            }
        }
        Ok(())
    }
}
