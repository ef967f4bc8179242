//! ST Nucleo-F429ZI (Cortex-M4F, on-chip Ethernet MAC with a LAN8742A RMII
//! PHY): the `stm32-eth` crate's DMA driver is the smoltcp device, SysTick
//! the millisecond clock. Built in CI, not yet run on hardware (see the
//! hardware-in-the-loop guide in README.md).
//!
//! - The Ethernet DMA interrupt wakes the core from `wfi` when a frame
//!   arrives (SysTick wakes it every millisecond otherwise).
//! - The PHY is polled over MDIO every [`LINK_POLL_MS`]: when the link
//!   comes up, the MAC is set to the speed and duplex it negotiated.
//! - TCP initial sequence numbers and ephemeral ports are seeded from the
//!   RNG peripheral.
//! - The independent watchdog resets the board if the main loop stops for
//!   [`WATCHDOG_MS`] (a hang, or a fault handler spinning).

use ieee802_3_miim::Phy;
use rand_core::RngCore;
use smoltcp::wire::Ipv4Address;
use static_cell::StaticCell;
use stm32_eth::dma::{RxRingEntry, TxRingEntry};
use stm32_eth::hal::gpio::GpioExt;
use stm32_eth::hal::prelude::*;
use stm32_eth::hal::rng::RngExt;
use stm32_eth::hal::watchdog::IndependentWatchdog;
use stm32_eth::mac::{EthernetMACWithMii, MdcPin, MdioPin, Speed};
use stm32_eth::stm32::{interrupt, Interrupt};
use stm32_eth::{EthPins, Parts, PartsIn};
// The defmt global logger: RTT, read by `probe-rs run`.
use defmt_rtt as _;
use ieee802_3_miim::phy::{PhySpeed, LAN8742A};
use wirekit_firmware_example::{fill_in_place, init_sockets, App, Buffers, NetConfig, Sockets};

/// Core clock; the Ethernet MAC needs HCLK ≥ 25 MHz.
const SYSCLK_HZ: u32 = 96_000_000;
/// Receive descriptors (1536-byte buffers each): a burst of 8 frames is
/// held while the core wakes up.
const RX_RING: usize = 8;
/// Transmit descriptors: replies are small and few per round.
const TX_RING: usize = 4;
/// How often the PHY's link state is read over MDIO.
const LINK_POLL_MS: u64 = 500;
/// The independent watchdog's period; the main loop feeds it every round.
const WATCHDOG_MS: u32 = 2_000;
/// How long to wait for a DHCP lease before using the static `NET`
/// address.
const DHCP_FALLBACK_MS: u64 = 10_000;
/// The LAN8742A's MDIO address on the Nucleo-144 boards (UM1974).
const PHY_ADDR: u8 = 0;

/// Example addresses for a lab network; change them for yours.
const NET: NetConfig = NetConfig {
    mac: [0x02, 0x00, 0x57, 0x4b, 0x00, 0x01],
    ip: Ipv4Address::new(192, 168, 1, 50),
    prefix_len: 24,
    gateway: Some(Ipv4Address::new(192, 168, 1, 1)),
    time_server: (Ipv4Address::new(192, 168, 1, 10), 37),
    sync_interval_ms: 600_000,
    dhcp_fallback_ms: Some(DHCP_FALLBACK_MS),
    random_seed: 0,
};

// Built in place (uninitialised statics filled element by element): none
// of these ever passes through the stack.
static RX: StaticCell<[RxRingEntry; RX_RING]> = StaticCell::new();
static TX: StaticCell<[TxRingEntry; TX_RING]> = StaticCell::new();
static BUFFERS: StaticCell<Buffers> = StaticCell::new();
static SOCKETS: StaticCell<Sockets<'static>> = StaticCell::new();

/// Boots the board and serves forever.
pub fn run() -> ! {
    // Everything taken once, checked once: one panic site (and one
    // message) for the lot instead of one in each `take`/`uninit`.
    // (`?`: the first failure ends it; one tuple of Options would take
    // each in both arms of the first.)
    let taken = || {
        Some((
            stm32_eth::stm32::Peripherals::take()?,
            cortex_m::Peripherals::take()?,
            RX.try_uninit()?,
            TX.try_uninit()?,
            BUFFERS.try_uninit()?,
            SOCKETS.try_uninit()?,
        ))
    };
    let Some((p, mut cp, rx, tx, bufs, sockets)) = taken() else {
        panic!("peripherals or buffers taken twice");
    };
    let mut watchdog = IndependentWatchdog::new(p.IWDG);
    watchdog.start(WATCHDOG_MS.millis());

    let clocks = clocks(p.RCC);
    super::systick::start(&mut cp.SYST, SYSCLK_HZ);
    let clock = super::counter::dwt_cycles(&mut cp.DCB, &mut cp.DWT, SYSCLK_HZ);
    let mut rng = p.RNG.constrain(&clocks);

    let gpioa = p.GPIOA.split();
    let gpiob = p.GPIOB.split();
    let gpioc = p.GPIOC.split();
    let gpiog = p.GPIOG.split();
    // Nucleo-144 RMII wiring (UM1974): TX_EN and TXD0 on port G.
    let pins = EthPins {
        ref_clk: gpioa.pa1,
        crs: gpioa.pa7,
        tx_en: gpiog.pg11,
        tx_d0: gpiog.pg13,
        tx_d1: gpiob.pb13,
        rx_d0: gpioc.pc4,
        rx_d1: gpioc.pc5,
    };
    let mdio = gpioa.pa2.into_alternate();
    let mdc = gpioc.pc1.into_alternate();

    let rx_ring = fill_in_place(rx, || RxRingEntry::INIT);
    let tx_ring = fill_in_place(tx, || TxRingEntry::INIT);
    let parts = PartsIn {
        mac: p.ETHERNET_MAC,
        mmc: p.ETHERNET_MMC,
        dma: p.ETHERNET_DMA,
    };
    let Ok(Parts { mut dma, mac }) = stm32_eth::new_with_mii(
        parts,
        &mut rx_ring[..],
        &mut tx_ring[..],
        clocks,
        pins,
        mdio,
        mdc,
    ) else {
        panic!("HCLK too slow for the Ethernet MAC");
    };
    dma.enable_interrupt();
    // SAFETY: the handler below only acknowledges the DMA interrupt; no
    // data is shared with it (a frame is picked up by the main loop).
    unsafe { cortex_m::peripheral::NVIC::unmask(Interrupt::ETH) };
    let mut phy = LAN8742A::new(mac, PHY_ADDR);
    phy.phy_init();

    let bufs = Buffers::init(bufs);
    let sockets = init_sockets(sockets);
    let mut net = NET;
    net.random_seed = rng.next_u64();
    let mut app = App::new(net, &mut dma, clock, bufs, sockets);
    defmt::info!("wirekit-fw: up (DHCP, else 192.168.1.50: edit NET)");
    super::log::services();
    let mut link = Link::Down;
    let mut link_checked = 0;
    loop {
        watchdog.feed();
        let (event, busy) = app.poll(&mut dma);
        if let Some(event) = event {
            super::log::event(event);
        }
        let now = app.now_ms();
        if now.saturating_sub(link_checked) >= LINK_POLL_MS {
            link_checked = now;
            link = link.update(&mut phy);
        }
        // Not while packets go out (a socket may have more to send).
        if !busy {
            // Woken by a received frame (ETH) or the next SysTick.
            cortex_m::asm::wfi();
        }
    }
}

/// The link as last seen on the PHY.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Link {
    Down,
    Up,
}

impl Link {
    /// Reads the PHY; on a new link, sets the MAC to what it negotiated
    /// (the MAC does not follow the PHY by itself: it would stay at its
    /// reset 100 Mbit/s full duplex against a 10 Mbit/s or half-duplex
    /// partner, and frames would be lost).
    fn update<Mdio: MdioPin, Mdc: MdcPin>(
        self,
        phy: &mut LAN8742A<EthernetMACWithMii<Mdio, Mdc>>,
    ) -> Link {
        let up = phy.link_established();
        match (self, up) {
            (Link::Down, true) => {
                let speed = phy.link_speed().map(|s| match s {
                    PhySpeed::HalfDuplexBase10T => Speed::HalfDuplexBase10T,
                    PhySpeed::FullDuplexBase10T => Speed::FullDuplexBase10T,
                    PhySpeed::HalfDuplexBase100Tx => Speed::HalfDuplexBase100Tx,
                    PhySpeed::FullDuplexBase100Tx => Speed::FullDuplexBase100Tx,
                });
                match speed {
                    Some(speed) => {
                        phy.get_miim().set_speed(speed);
                        defmt::info!("wirekit-fw: link up: {}", speed);
                    }
                    None => defmt::warn!("wirekit-fw: link up, speed unreadable"),
                }
                Link::Up
            }
            (Link::Up, false) => {
                defmt::warn!("wirekit-fw: link down");
                Link::Down
            }
            (state, _) => state,
        }
    }
}

/// Acknowledges the Ethernet DMA interrupt; its only job is to end the
/// main loop's `wfi`.
#[interrupt]
fn ETH() {
    stm32_eth::eth_interrupt_handler();
}

/// The clock tree: SYSCLK and HCLK at [`SYSCLK_HZ`] from the ST-LINK's
/// 8 MHz clock, fed into HSE in bypass mode; the 48 MHz PLL output the RNG
/// runs on.
fn clocks(rcc: stm32_eth::stm32::RCC) -> stm32_eth::hal::rcc::Clocks {
    rcc.constrain()
        .cfgr
        .use_hse(8.MHz())
        .bypass_hse_oscillator()
        .sysclk(SYSCLK_HZ.Hz())
        .hclk(SYSCLK_HZ.Hz())
        .require_pll48clk()
        .freeze()
}

/// After a panic (logged over RTT by `super::panic`): reset, so a board
/// without a debugger comes back instead of hanging (the independent
/// watchdog would reset it too, later).
pub fn after_panic() -> ! {
    cortex_m::peripheral::SCB::sys_reset()
}
