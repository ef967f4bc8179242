//! QEMU's mps2-an385 (Cortex-M3, 25 MHz): the LAN9118 at 0x4020_0000,
//! SysTick as the millisecond clock, semihosting for the log and the exit
//! code. Addresses suit QEMU's user-mode network (slirp): the guest is
//! 10.0.2.15/24, the gateway 10.0.2.2, and the RFC 868 server 10.0.2.100:37,
//! which `run-qemu` forwards to a server on the host's loopback.

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use cortex_m_semihosting::{debug, hprintln};
use smoltcp::wire::Ipv4Address;
use wirekit_firmware_example::{App, Buffers, Clock, Event, NetConfig, Sockets, EMPTY_SOCKETS};

use super::lan9118::Lan9118;

const LAN9118_BASE: usize = 0x4020_0000;
const SYSCLK_HZ: u32 = 25_000_000;

/// The network the firmware expects under QEMU's `-nic user`.
const NET: NetConfig = NetConfig {
    // Locally administered, QEMU's OUI-style prefix.
    mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
    ip: Ipv4Address::new(10, 0, 2, 15),
    prefix_len: 24,
    gateway: Some(Ipv4Address::new(10, 0, 2, 2)),
    time_server: (Ipv4Address::new(10, 0, 2, 100), 37),
    sync_interval_ms: 60_000,
    random_seed: 0,
};

/// Milliseconds since boot, counted by the SysTick handler.
static TICKS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
}

/// Extends the 32-bit tick count to 64 bits (it wraps after 49 days).
struct SysTickClock {
    last: u32,
    high: u64,
}

impl Clock for SysTickClock {
    fn now_ms(&mut self) -> u64 {
        let t = TICKS.load(Ordering::Relaxed);
        if t < self.last {
            self.high += 1 << 32;
        }
        self.last = t;
        self.high | u64::from(t)
    }
}

/// Boots the board and serves forever.
pub fn run() -> ! {
    let mut cp = cortex_m::Peripherals::take().expect("first and only take");
    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(SYSCLK_HZ / 1000 - 1);
    cp.SYST.clear_current();
    cp.SYST.enable_interrupt();
    cp.SYST.enable_counter();

    let eth: &'static mut Lan9118 =
        // SAFETY: 0x4020_0000 is the LAN9118 on this board and only this
        // driver touches it.
        cortex_m::singleton!(: Lan9118 = unsafe { Lan9118::new(LAN9118_BASE) }).expect("once");
    let bufs: &'static mut Buffers =
        cortex_m::singleton!(: Buffers = Buffers::new()).expect("once");
    let sockets: &'static mut Sockets<'static> =
        cortex_m::singleton!(: Sockets<'static> = EMPTY_SOCKETS).expect("once");

    if let Err(e) = eth.init(NET.mac) {
        hprintln!("wirekit-fw: LAN9118 init failed: {:?}", e);
        debug::exit(debug::EXIT_FAILURE);
    }
    let mut net = NET;
    // No RNG on this board: the free-running cycle count at this point is
    // the best seed there is (TCP sequence numbers, ephemeral ports).
    net.random_seed = u64::from(cortex_m::peripheral::SYST::get_current()) ^ 0x5eed_5eed;
    let clock = SysTickClock { last: 0, high: 0 };
    let mut app = App::new(net, eth, clock, bufs, sockets);
    hprintln!(
        "wirekit-fw: up 10.0.2.15 tcp/7 udp/7 echo, udp/13 strftime, tcp/37 rfc868; sync from 10.0.2.100:37"
    );
    loop {
        let (event, delay) = app.poll(eth);
        match event {
            Some(Event::Synced(unix)) => hprintln!("wirekit-fw: clock synced: unix {}", unix),
            Some(Event::SyncFailed) => hprintln!("wirekit-fw: clock sync failed, retrying"),
            None => {}
        }
        // Sleep until the next SysTick (1 ms) unless a frame is waiting or
        // smoltcp has a timer due now.
        if !eth.rx_pending() && delay.is_none_or(|d| d.total_millis() > 0) {
            cortex_m::asm::wfi();
        }
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("wirekit-fw: PANIC: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
