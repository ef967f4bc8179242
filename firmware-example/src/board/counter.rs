//! The millisecond clock of both boards: a free-running 32-bit hardware
//! counter, read on every call and extended to 64 bits in software.
//!
//! Counting SysTick interrupts instead lost time whenever an interrupt was
//! late or two coalesced (~8 % under QEMU, whose timer interrupts arrive
//! late when the host is busy); a counter that runs on its own is right
//! however late it is read, as long as it is read once per wrap (the main
//! loop reads it every round, at least every millisecond; the counters
//! wrap after 171 s at 25 MHz and 44 s at 96 MHz).
//!
//! - mps2-an385: the CMSDK APB timer 0 (counts down from 0xFFFF_FFFF at
//!   the 25 MHz peripheral clock). QEMU models it with its virtual clock;
//!   QEMU has no DWT model to rely on, so the cycle counter is not used there.
//! - Nucleo-F429ZI: the DWT cycle counter (counts up at the core clock).
//!
//! SysTick still interrupts at 1 kHz, only to wake the main loop's `wfi`.

use core::num::NonZeroU32;

use wirekit_firmware_example::Clock;

/// A 32-bit counter extended to 64 bits.
pub struct CounterClock {
    read: fn() -> u32,
    counts_down: bool,
    /// Counter ticks per millisecond.
    ticks_per_ms: NonZeroU32,
    last: u32,
    /// Whole milliseconds counted so far.
    ms: u64,
    /// Ticks counted towards the next millisecond (< `ticks_per_ms`).
    part: u32,
}

impl CounterClock {
    /// A clock over `read` (a free-running counter at `hz`).
    pub fn new(read: fn() -> u32, counts_down: bool, hz: u32) -> Self {
        CounterClock {
            read,
            counts_down,
            ticks_per_ms: NonZeroU32::new(hz / 1000).unwrap_or(NonZeroU32::MIN),
            last: read(),
            ms: 0,
            part: 0,
        }
    }
}

impl Clock for CounterClock {
    fn now_ms(&mut self) -> u64 {
        let now = (self.read)();
        let elapsed = if self.counts_down {
            self.last.wrapping_sub(now)
        } else {
            now.wrapping_sub(self.last)
        };
        self.last = now;
        // All ticks so far = ms * ticks_per_ms + part, kept in 32-bit
        // arithmetic (the Cortex-M3 divides those in hardware; a 64-bit
        // division is a library call, and a non-zero divisor has no
        // division-by-zero panic).
        let per_ms = self.ticks_per_ms;
        let mut whole = elapsed / per_ms;
        let part = elapsed % per_ms;
        // Cannot overflow: both parts are below per_ms <= u32::MAX / 1000.
        self.part += part;
        if self.part >= per_ms.get() {
            self.part -= per_ms.get();
            whole += 1;
        }
        self.ms += u64::from(whole);
        self.ms
    }
}

/// mps2-an385: starts CMSDK APB timer 0 free-running and returns its clock.
#[cfg(feature = "mps2-an385")]
pub fn cmsdk_timer0(pclk_hz: u32) -> CounterClock {
    const TIMER0: usize = 0x4000_0000;
    const CTRL: *mut u32 = TIMER0 as *mut u32;
    const VALUE: *mut u32 = (TIMER0 + 0x4) as *mut u32;
    const RELOAD: *mut u32 = (TIMER0 + 0x8) as *mut u32;
    fn read() -> u32 {
        // SAFETY: VALUE of CMSDK timer 0, a read-only 32-bit register on
        // this board; nothing else uses the timer.
        unsafe { core::ptr::read_volatile(VALUE) }
    }
    // SAFETY: the timer's registers on this board; only this clock uses
    // timer 0. Enable (bit 0), no interrupt, counting down from the top.
    unsafe {
        core::ptr::write_volatile(CTRL, 0);
        core::ptr::write_volatile(RELOAD, u32::MAX);
        core::ptr::write_volatile(VALUE, u32::MAX);
        core::ptr::write_volatile(CTRL, 1);
    }
    CounterClock::new(read, true, pclk_hz)
}

/// Nucleo-F429ZI: starts the DWT cycle counter and returns its clock.
#[cfg(feature = "nucleo-f429zi")]
pub fn dwt_cycles(
    dcb: &mut cortex_m::peripheral::DCB,
    dwt: &mut cortex_m::peripheral::DWT,
    sysclk_hz: u32,
) -> CounterClock {
    dcb.enable_trace();
    dwt.enable_cycle_counter();
    CounterClock::new(cortex_m::peripheral::DWT::cycle_count, false, sysclk_hz)
}
