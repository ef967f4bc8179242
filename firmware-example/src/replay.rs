//! Hands smoltcp one frame the application has already looked at.
//!
//! [`App::poll`](crate::App::poll) takes each frame from the real device
//! itself and looks at it in place (no copy), so it can make room for a
//! SYN before smoltcp sees it (see `half_open.rs`), then gives smoltcp
//! this device: it yields that one frame with the real device's transmit
//! token that came with it (so, as before, a frame is only taken when the
//! device has room to answer it).

use smoltcp::phy::{self, Device, DeviceCapabilities};
use smoltcp::time::Instant;

/// Largest frame handed on: a 1500-byte IP packet in Ethernet. Longer
/// frames are cut to this and then fail smoltcp's length checks.
pub const FRAME_MAX: usize = 1514;

/// A device that receives one frame (already taken from the real device)
/// and answers it through the real device's transmit token.
pub struct Replay<'f, 'c, T: phy::TxToken> {
    /// The frame still to be received and its transmit token, if any.
    pub frame: Option<(&'f [u8], T)>,
    /// The real device's capabilities.
    pub caps: &'c DeviceCapabilities,
}

/// The frame as a receive token.
pub struct FrameRx<'f>(&'f [u8]);

impl phy::RxToken for FrameRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl<'f, T: phy::TxToken> Device for Replay<'f, '_, T> {
    type RxToken<'a>
        = FrameRx<'f>
    where
        Self: 'a;
    type TxToken<'a>
        = T
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, T)> {
        let (frame, tx) = self.frame.take()?;
        let frame = frame.get(..FRAME_MAX).unwrap_or(frame);
        Some((FrameRx(frame), tx))
    }

    /// Only the token that came with the frame: smoltcp answers a frame
    /// with at most one, and sends anything else in `poll_egress`.
    fn transmit(&mut self, _now: Instant) -> Option<T> {
        None
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.caps.clone()
    }
}
