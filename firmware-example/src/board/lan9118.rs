//! A polled driver for the SMSC LAN9118 Ethernet controller (as on the
//! mps2-an385 board and emulated by QEMU), implementing
//! [`smoltcp::phy::Device`].
//!
//! The chip is driven through its FIFO ports only, no interrupts and no DMA:
//! receive pops one status word (frame length incl. the 4-byte CRC) from the
//! RX status FIFO and then that many bytes, rounded up to words, from the RX
//! data FIFO; transmit pushes TX command A and B words and then the frame,
//! one word at a time. The MAC's own registers (MAC_CR, address, MII) sit
//! behind the MAC_CSR_CMD/MAC_CSR_DATA window.

use core::ptr::{read_volatile, write_volatile};

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

// System control and status registers (byte offsets).
const RX_DATA_FIFO: usize = 0x00;
const TX_DATA_FIFO: usize = 0x20;
const RX_STATUS_FIFO: usize = 0x40;
const INT_STS: usize = 0x58;
const INT_EN: usize = 0x5c;
const BYTE_TEST: usize = 0x64;
const TX_CFG: usize = 0x70;
const HW_CFG: usize = 0x74;
const RX_FIFO_INF: usize = 0x7c;
const TX_FIFO_INF: usize = 0x80;
const PMT_CTRL: usize = 0x84;
const MAC_CSR_CMD: usize = 0xa4;
const MAC_CSR_DATA: usize = 0xa8;

const BYTE_TEST_VALUE: u32 = 0x8765_4321;
const HW_CFG_SRST: u32 = 1;
const PMT_CTRL_READY: u32 = 1;
const TX_CFG_TX_ON: u32 = 1 << 1;
/// Let the TX status FIFO overrun: this driver never reads it.
const TX_CFG_TXSAO: u32 = 1 << 2;
const CSR_BUSY: u32 = 1 << 31;
const CSR_READ: u32 = 1 << 30;

// MAC CSR indices and bits.
const MAC_CR: u32 = 1;
const MAC_ADDRH: u32 = 2;
const MAC_ADDRL: u32 = 3;
const MAC_MII_ACC: u32 = 6;
const MAC_MII_DATA: u32 = 7;
const MAC_CR_FDPX: u32 = 1 << 20;
const MAC_CR_TXEN: u32 = 1 << 3;
const MAC_CR_RXEN: u32 = 1 << 2;
const MII_BUSY: u32 = 1;
const MII_WRITE: u32 = 1 << 1;
const PHY_ADDR: u32 = 1;
const PHY_BMCR: u32 = 0;
const BMCR_AUTONEG: u32 = 1 << 12;
const BMCR_RESTART_AUTONEG: u32 = 1 << 9;

// TX command words.
const TXA_FIRST_SEG: u32 = 1 << 13;
const TXA_LAST_SEG: u32 = 1 << 12;

/// RX status: error summary bit; frame length in bits 29:16.
const RXS_ERROR: u32 = 1 << 15;
const MTU: usize = 1514;
/// Frame buffer: the largest frame plus its CRC, in whole words.
const FRAME_BUF: usize = 1520;
/// Bound on every busy-wait, so a dead chip gives an error, not a hang.
const SPIN_LIMIT: u32 = 100_000;

/// Why the controller could not be brought up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitError {
    /// BYTE_TEST did not read 0x87654321: no LAN9118 at that address.
    NotFound(u32),
    /// A reset or register access did not complete in time.
    Timeout(&'static str),
}

impl InitError {
    /// What went wrong, for the log (no `Debug` formatting in the image).
    pub fn as_str(&self) -> &'static str {
        match self {
            InitError::NotFound(_) => "no LAN9118 (BYTE_TEST mismatch)",
            InitError::Timeout(what) => what,
        }
    }
}

/// The controller's register block.
struct Regs {
    base: usize,
}

impl Regs {
    fn read(&self, off: usize) -> u32 {
        // SAFETY: `Lan9118::new`'s caller guarantees `base` maps the chip's
        // 256-byte register block; every offset used here is inside it.
        unsafe { read_volatile((self.base + off) as *const u32) }
    }

    fn write(&self, off: usize, v: u32) {
        // SAFETY: as in `read`.
        unsafe { write_volatile((self.base + off) as *mut u32, v) }
    }

    fn wait_clear(&self, off: usize, mask: u32, what: &'static str) -> Result<(), InitError> {
        for _ in 0..SPIN_LIMIT {
            if self.read(off) & mask == 0 {
                return Ok(());
            }
        }
        Err(InitError::Timeout(what))
    }

    fn mac_write(&self, reg: u32, v: u32) -> Result<(), InitError> {
        self.wait_clear(MAC_CSR_CMD, CSR_BUSY, "MAC CSR")?;
        self.write(MAC_CSR_DATA, v);
        self.write(MAC_CSR_CMD, CSR_BUSY | reg);
        self.wait_clear(MAC_CSR_CMD, CSR_BUSY, "MAC CSR")
    }

    fn mac_read(&self, reg: u32) -> Result<u32, InitError> {
        self.wait_clear(MAC_CSR_CMD, CSR_BUSY, "MAC CSR")?;
        self.write(MAC_CSR_CMD, CSR_BUSY | CSR_READ | reg);
        self.wait_clear(MAC_CSR_CMD, CSR_BUSY, "MAC CSR")?;
        Ok(self.read(MAC_CSR_DATA))
    }

    fn phy_write(&self, reg: u32, v: u32) -> Result<(), InitError> {
        self.mac_write(MAC_MII_DATA, v)?;
        self.mac_write(
            MAC_MII_ACC,
            (PHY_ADDR << 11) | (reg << 6) | MII_WRITE | MII_BUSY,
        )?;
        for _ in 0..SPIN_LIMIT {
            if self.mac_read(MAC_MII_ACC)? & MII_BUSY == 0 {
                return Ok(());
            }
        }
        Err(InitError::Timeout("MII"))
    }
}

/// One receive and one transmit frame buffer (the FIFOs are word ports,
/// so frames are staged in RAM). All-zero, so a `static` of it is `.bss`.
pub struct Frames {
    rx: [u8; FRAME_BUF],
    tx: [u8; FRAME_BUF],
}

impl Frames {
    /// Zeroed buffers, for a `static`.
    pub const fn new() -> Self {
        Frames {
            rx: [0; FRAME_BUF],
            tx: [0; FRAME_BUF],
        }
    }
}

/// The LAN9118 as an smoltcp device, staging frames in borrowed [`Frames`].
pub struct Lan9118<'a> {
    regs: Regs,
    frames: &'a mut Frames,
    /// Frames dropped on receive (errors, or longer than [`MTU`]).
    pub rx_dropped: u32,
}

impl<'a> Lan9118<'a> {
    /// A driver for the chip at `base`, not yet initialised.
    ///
    /// # Safety
    /// `base` must be the address of a LAN9118's register block, and
    /// nothing else may access that block while the driver exists.
    pub unsafe fn new(base: usize, frames: &'a mut Frames) -> Self {
        Lan9118 {
            regs: Regs { base },
            frames,
            rx_dropped: 0,
        }
    }

    /// Resets the chip, sets the MAC address, and enables the transmitter
    /// and receiver (the chip drops every frame until RXEN is set).
    pub fn init(&mut self, mac: [u8; 6]) -> Result<(), InitError> {
        let r = &self.regs;
        let id = r.read(BYTE_TEST);
        if id != BYTE_TEST_VALUE {
            return Err(InitError::NotFound(id));
        }
        r.write(HW_CFG, HW_CFG_SRST);
        r.wait_clear(HW_CFG, HW_CFG_SRST, "soft reset")?;
        if r.read(PMT_CTRL) & PMT_CTRL_READY == 0 {
            return Err(InitError::Timeout("PMT_CTRL READY"));
        }
        // Polled: no interrupts, and stale status cleared.
        r.write(INT_EN, 0);
        r.write(INT_STS, u32::MAX);
        let [a0, a1, a2, a3, a4, a5] = mac.map(u32::from);
        r.mac_write(MAC_ADDRL, a0 | a1 << 8 | a2 << 16 | a3 << 24)?;
        r.mac_write(MAC_ADDRH, a4 | a5 << 8)?;
        r.phy_write(PHY_BMCR, BMCR_AUTONEG | BMCR_RESTART_AUTONEG)?;
        r.write(TX_CFG, TX_CFG_TX_ON | TX_CFG_TXSAO);
        // Exact address match plus broadcast (ARP); no promiscuous mode.
        r.mac_write(MAC_CR, MAC_CR_FDPX | MAC_CR_TXEN | MAC_CR_RXEN)
    }

    /// Pops one received frame into `self.rx`; returns its length without
    /// the CRC, or `None` when the RX FIFO is empty. Bad frames are read
    /// out and counted, so they never block the FIFO.
    fn pop_frame(&mut self) -> Option<usize> {
        loop {
            if (self.regs.read(RX_FIFO_INF) >> 16) & 0xff == 0 {
                return None;
            }
            let status = self.regs.read(RX_STATUS_FIFO);
            let len = ((status >> 16) & 0x3fff) as usize;
            let words = len.div_ceil(4);
            let ok = status & RXS_ERROR == 0 && (14 + 4..=MTU + 4).contains(&len);
            // Every word is read out; a good frame's (at most
            // FRAME_BUF / 4 of them) land in `rx`.
            let mut dst = self.frames.rx.chunks_exact_mut(4);
            for _ in 0..words {
                let w = self.regs.read(RX_DATA_FIFO).to_le_bytes();
                if let (true, Some(d)) = (ok, dst.next()) {
                    d.iter_mut().zip(w).for_each(|(d, b)| *d = b);
                }
            }
            if ok {
                return Some(len - 4);
            }
            self.rx_dropped = self.rx_dropped.wrapping_add(1);
        }
    }

    /// Whether a frame is waiting (lets the main loop sleep otherwise).
    pub fn rx_pending(&self) -> bool {
        (self.regs.read(RX_FIFO_INF) >> 16) & 0xff != 0
    }

    fn tx_room(&self) -> bool {
        // TDFREE (bytes) must hold the two command words and a full frame.
        (self.regs.read(TX_FIFO_INF) & 0xffff) as usize >= MTU + 8 + 3
    }
}

/// A received frame, borrowed from the driver's receive buffer.
pub struct RxToken<'a>(&'a [u8]);

/// Permission to send one frame.
pub struct TxToken<'a> {
    regs: &'a Regs,
    buf: &'a mut [u8; FRAME_BUF],
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let len = len.min(MTU);
        // Never empty: len <= MTU < FRAME_BUF.
        let r = f(self.buf.get_mut(..len).unwrap_or_default());
        push_frame(self.regs, self.buf, len);
        r
    }
}

/// Pushes the first `len` bytes of `buf` (`len` <= [`MTU`]) to the TX
/// FIFO. One copy for every kind of frame smoltcp sends, not one inlined
/// per caller of [`TxToken::consume`] (generic over the caller's closure).
#[inline(never)]
fn push_frame(regs: &Regs, buf: &[u8; FRAME_BUF], len: usize) {
    let n = len as u32;
    regs.write(TX_DATA_FIFO, TXA_FIRST_SEG | TXA_LAST_SEG | n);
    // Command B: packet tag (the length, for debugging) and length.
    regs.write(TX_DATA_FIFO, n << 16 | n);
    let mut left = len;
    for chunk in buf.chunks_exact(4) {
        if left == 0 {
            break;
        }
        let mut w = [0u8; 4];
        // The last word's bytes past the frame are zero.
        w.iter_mut()
            .zip(chunk)
            .take(left)
            .for_each(|(d, b)| *d = *b);
        left = left.saturating_sub(4);
        regs.write(TX_DATA_FIFO, u32::from_le_bytes(w));
    }
}

impl Device for Lan9118<'_> {
    type RxToken<'b>
        = RxToken<'b>
    where
        Self: 'b;
    type TxToken<'b>
        = TxToken<'b>
    where
        Self: 'b;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        if !self.tx_room() {
            return None;
        }
        let len = self.pop_frame()?;
        Some((
            // Never `None`: pop_frame's lengths are at most MTU.
            RxToken(self.frames.rx.get(..len)?),
            TxToken {
                regs: &self.regs,
                buf: &mut self.frames.tx,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        self.tx_room().then_some(TxToken {
            regs: &self.regs,
            buf: &mut self.frames.tx,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(1);
        caps
    }
}
