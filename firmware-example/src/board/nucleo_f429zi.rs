//! ST Nucleo-F429ZI (Cortex-M4F, on-chip Ethernet MAC with a LAN8742A RMII
//! PHY): the `stm32-eth` crate's DMA driver is the smoltcp device, SysTick
//! the millisecond clock. Built in CI, run on hardware (see README.md).
//!
//! The PHY is left to its power-on autonegotiation; the link must be up
//! before frames flow, which the TCP/ARP retries absorb.

use smoltcp::wire::Ipv4Address;
use static_cell::StaticCell;
use stm32_eth::dma::{RxRingEntry, TxRingEntry};
use stm32_eth::hal::gpio::GpioExt;
use stm32_eth::hal::prelude::*;
use stm32_eth::{EthPins, Parts, PartsIn};
// The defmt global logger: RTT, read by `probe-rs run`.
use defmt_rtt as _;
use wirekit_firmware_example::{fill_in_place, init_sockets, App, Buffers, NetConfig, Sockets};

/// Core clock; the Ethernet MAC needs HCLK ≥ 25 MHz.
const SYSCLK_HZ: u32 = 96_000_000;
/// Two descriptors each way: enough for a polled loop, ~6 KiB of DMA RAM.
const RING: usize = 2;

/// Example addresses for a lab network; change them for yours.
const NET: NetConfig = NetConfig {
    mac: [0x02, 0x00, 0x57, 0x4b, 0x00, 0x01],
    ip: Ipv4Address::new(192, 168, 1, 50),
    prefix_len: 24,
    gateway: Some(Ipv4Address::new(192, 168, 1, 1)),
    time_server: (Ipv4Address::new(192, 168, 1, 10), 37),
    sync_interval_ms: 600_000,
    random_seed: 0,
};

// Built in place (uninitialised statics filled element by element): none
// of these ever passes through the stack.
static RX_RING: StaticCell<[RxRingEntry; RING]> = StaticCell::new();
static TX_RING: StaticCell<[TxRingEntry; RING]> = StaticCell::new();
static BUFFERS: StaticCell<Buffers> = StaticCell::new();
static SOCKETS: StaticCell<Sockets<'static>> = StaticCell::new();

/// Boots the board and serves forever.
pub fn run() -> ! {
    let p = stm32_eth::stm32::Peripherals::take().expect("first and only take");
    let mut cp = cortex_m::Peripherals::take().expect("first and only take");

    let clocks = clocks(p.RCC);
    let clock = super::systick::start(&mut cp.SYST, SYSCLK_HZ);

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

    let rx_ring = fill_in_place(RX_RING.uninit(), || RxRingEntry::INIT);
    let tx_ring = fill_in_place(TX_RING.uninit(), || TxRingEntry::INIT);
    let parts = PartsIn {
        mac: p.ETHERNET_MAC,
        mmc: p.ETHERNET_MMC,
        dma: p.ETHERNET_DMA,
    };
    let Parts { mut dma, .. } = match stm32_eth::new(parts, rx_ring, tx_ring, clocks, pins) {
        Ok(parts) => parts,
        Err(_) => panic!("HCLK too slow for the Ethernet MAC"),
    };

    let bufs = Buffers::init(BUFFERS.uninit());
    let sockets = init_sockets(SOCKETS.uninit());
    let mut net = NET;
    // Seed from the timer phase after clock and PHY bring-up; a product
    // would use the RNG peripheral here.
    net.random_seed = u64::from(cortex_m::peripheral::SYST::get_current()) ^ 0x5eed_f429;
    let mut app = App::new(net, &mut dma, clock, bufs, sockets);
    loop {
        let (_event, delay) = app.poll(&mut dma);
        if delay.is_none_or(|d| d.total_millis() > 0) {
            // Woken by SysTick every millisecond at the latest.
            cortex_m::asm::wfi();
        }
    }
}

/// The clock tree: SYSCLK and HCLK at [`SYSCLK_HZ`] from the ST-LINK's
/// 8 MHz clock, fed into HSE in bypass mode.
fn clocks(rcc: stm32_eth::stm32::RCC) -> stm32_eth::hal::rcc::Clocks {
    rcc.constrain()
        .cfgr
        .use_hse(8.MHz())
        .bypass_hse_oscillator()
        .sysclk(SYSCLK_HZ.Hz())
        .hclk(SYSCLK_HZ.Hz())
        .freeze()
}

/// After a panic (logged over RTT by `super::panic`): reset, so a board
/// without a debugger comes back instead of hanging (the independent
/// watchdog would reset it too, later).
pub fn after_panic() -> ! {
    cortex_m::peripheral::SCB::sys_reset()
}
