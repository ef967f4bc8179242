//! The millisecond clock every board uses: SysTick interrupts count
//! milliseconds, and [`SysTickClock`] extends the 32-bit count to 64 bits
//! for the application's [`Clock`].

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::exception;
use wirekit_firmware_example::Clock;

/// Milliseconds since boot, counted by the SysTick handler.
static TICKS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
}

/// Milliseconds since boot, wrapping after 49 days.
#[cfg_attr(not(feature = "mps2-an385"), allow(dead_code))]
pub fn millis() -> u32 {
    TICKS.load(Ordering::Relaxed)
}

/// Starts SysTick at 1 kHz from a core clock of `sysclk_hz` and returns
/// the clock reading it.
pub fn start(syst: &mut SYST, sysclk_hz: u32) -> SysTickClock {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(sysclk_hz / 1000 - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
    SysTickClock { last: 0, high: 0 }
}

/// Extends the 32-bit tick count to 64 bits (it wraps after 49 days).
pub struct SysTickClock {
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
