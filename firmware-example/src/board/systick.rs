//! SysTick as the main loop's 1 kHz wake-up: its interrupt only ends a
//! `wfi`. Time itself comes from a free-running counter (`counter.rs`), not
//! from counting these interrupts.

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::exception;

#[exception]
fn SysTick() {}

/// Starts SysTick interrupts at 1 kHz from a core clock of `sysclk_hz`.
pub fn start(syst: &mut SYST, sysclk_hz: u32) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(sysclk_hz / 1000 - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}
