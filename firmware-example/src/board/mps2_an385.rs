//! QEMU's mps2-an385 (Cortex-M3, 25 MHz): the LAN9118 at 0x4020_0000,
//! SysTick as the millisecond clock, semihosting for the log and the exit
//! code. Addresses suit QEMU's user-mode network (slirp): the guest is
//! 10.0.2.15/24, the gateway 10.0.2.2, and the RFC 868 server 10.0.2.100:37,
//! which `run-qemu` forwards to a server on the host's loopback.

use cortex_m_semihosting::debug;
use defmt::{error, info};
// The defmt global logger: frames go to the host over semihosting.
use defmt_semihosting as _;
use smoltcp::wire::Ipv4Address;
use static_cell::{ConstStaticCell, StaticCell};
use wirekit_firmware_example::{init_sockets, App, Buffers, NetConfig, Sockets};

use super::lan9118::{Frames, Lan9118};

const LAN9118_BASE: usize = 0x4020_0000;
const SYSCLK_HZ: u32 = 25_000_000;
/// How long to wait for a DHCP lease (slirp answers at once) before using
/// the static address (the raw-frame flood check has no DHCP server).
const DHCP_FALLBACK_MS: u64 = 3_000;

/// The network the firmware expects under QEMU's `-nic user`.
const NET: NetConfig = NetConfig {
    // Locally administered, QEMU's OUI-style prefix.
    mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
    ip: Ipv4Address::new(10, 0, 2, 15),
    prefix_len: 24,
    gateway: Some(Ipv4Address::new(10, 0, 2, 2)),
    time_server: (Ipv4Address::new(10, 0, 2, 100), 37),
    sync_interval_ms: 60_000,
    dhcp_fallback_ms: Some(DHCP_FALLBACK_MS),
    random_seed: 0,
};

// Built in place in .bss (zeroed, or uninitialised and then filled field
// by field): nothing of this size ever passes through the stack.
static FRAMES: ConstStaticCell<Frames> = ConstStaticCell::new(Frames::new());
static BUFFERS: StaticCell<Buffers> = StaticCell::new();
static SOCKETS: StaticCell<Sockets<'static>> = StaticCell::new();

/// The AN385's device interrupt vectors (CMSDK: 32 external interrupts),
/// all to cortex-m-rt's default handler: nothing here runs on a device
/// interrupt (the LAN9118 and the timer are polled, SysTick and MemManage
/// are core exceptions). Without cortex-m-rt's `device` feature its
/// generic table has 240 entries (960 B of flash) for any Cortex-M3.
#[link_section = ".vector_table.interrupts"]
#[no_mangle]
static __INTERRUPTS: [unsafe extern "C" fn(); 32] = [DefaultHandler; 32];

extern "C" {
    /// cortex-m-rt's handler for any exception or interrupt without one.
    fn DefaultHandler();
}

/// How often the stack high-water mark is looked at (and logged when it
/// has grown), in milliseconds.
const STACK_CHECK_MS: u64 = 1000;
/// How often the uptime is logged (scripts/firmware-test's clock check).
const UPTIME_LOG_MS: u64 = 5000;

/// Boots the board and serves forever.
pub fn run() -> ! {
    // Everything taken once, checked once: one panic site (and one
    // message) for the lot instead of one in each `take`/`uninit`.
    // (`?`: the first failure ends it; one tuple of Options would take
    // each in both arms of the first.)
    let taken = || {
        Some((
            cortex_m::Peripherals::take()?,
            FRAMES.try_take()?,
            BUFFERS.try_uninit()?,
            SOCKETS.try_uninit()?,
        ))
    };
    let Some((mut cp, frames, bufs, sockets)) = taken() else {
        panic!("board peripherals or buffers taken twice");
    };
    super::systick::start(&mut cp.SYST, SYSCLK_HZ);
    let clock = super::counter::cmsdk_timer0(SYSCLK_HZ);

    // SAFETY: 0x4020_0000 is the LAN9118 on this board and only this
    // driver touches it.
    let eth = &mut unsafe { Lan9118::new(LAN9118_BASE, frames) };
    let bufs = Buffers::init(bufs);
    let sockets = init_sockets(sockets);

    if let Err(e) = eth.init(NET.mac) {
        error!("wirekit-fw: LAN9118 init failed: {=str}", e.as_str());
        debug::exit(debug::EXIT_FAILURE);
    }
    let mut net = NET;
    // No RNG on this board: the free-running cycle count at this point is
    // the best seed there is (TCP sequence numbers, ephemeral ports).
    net.random_seed = u64::from(cortex_m::peripheral::SYST::get_current()) ^ 0x5eed_5eed;
    let mut app = App::new(net, eth, clock, bufs, sockets);
    info!("wirekit-fw: up (DHCP, else 10.0.2.15); sync from 10.0.2.100:37");
    super::log::services();
    let mut stack_peak = 0;
    let mut stack_checked = 0;
    loop {
        let (event, busy) = app.poll(eth);
        let now = app.now_ms();
        if now.saturating_sub(stack_checked) >= STACK_CHECK_MS {
            stack_checked = now;
            log_stack_peak(&mut stack_peak);
            if now % UPTIME_LOG_MS < STACK_CHECK_MS {
                // The host compares these with its own clock (drift check).
                info!("wirekit-fw: uptime {=u64} ms", now);
            }
        }
        if let Some(event) = event {
            super::log::event(event);
        }
        // Sleep until the next SysTick (1 ms) unless a frame is waiting or
        // packets are going out (a socket may have more to send).
        if !eth.rx_pending() && !busy {
            cortex_m::asm::wfi();
        }
    }
}

/// Logs the stack high-water mark when it has grown; scripts/firmware-test
/// reads the last such line to check static RAM + stack against the budget.
fn log_stack_peak(logged: &mut usize) {
    let peak = super::stack::peak();
    if peak > *logged {
        *logged = peak;
        info!(
            "wirekit-fw: stack peak {=usize} B of {=usize} B",
            peak,
            super::stack::capacity()
        );
    }
}

/// After a panic (logged by `super::panic`): QEMU exits with a failure
/// status, which scripts/firmware-test checks.
pub fn after_panic() -> ! {
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
