//! Hands smoltcp one frame the application has already looked at.
//!
//! [`App::poll`](crate::App::poll) takes each frame from the real device
//! itself, so it can make room for a SYN before smoltcp sees it (see
//! `half_open.rs`), then gives smoltcp this device: it yields that one
//! frame, and transmits through the real device.

use smoltcp::phy::{self, Device, DeviceCapabilities};
use smoltcp::time::Instant;

/// Largest frame taken in: a 1500-byte IP packet in Ethernet.
pub const FRAME_MAX: usize = 1514;

/// A device that receives one stored frame and transmits through `dev`.
pub struct Replay<'f, 'd, D: Device + ?Sized> {
    /// The frame still to be received, if any.
    pub frame: Option<&'f [u8]>,
    /// The real device.
    pub dev: &'d mut D,
}

/// The stored frame as a receive token.
pub struct FrameRx<'f>(&'f [u8]);

impl phy::RxToken for FrameRx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl<'f, D: Device + ?Sized> Device for Replay<'f, '_, D> {
    type RxToken<'a>
        = FrameRx<'f>
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        // Without room to answer, the frame waits (smoltcp needs both).
        let tx = self.dev.transmit(now)?;
        let frame = self.frame.take()?;
        Some((FrameRx(frame), tx))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        self.dev.transmit(now)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.dev.capabilities()
    }
}
