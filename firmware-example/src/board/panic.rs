//! The panic handler of both boards, in the style of `panic-probe`: the
//! message and location go to the defmt log, then the board's
//! `after_panic` ends it (QEMU: exit with a failure status; Nucleo: reset,
//! never a `bkpt` that hangs without a debugger).
//!
//! Not `panic-probe` itself: it ends in `udf` (a HardFault loop on a board
//! without a probe), and its message printing uses `core::fmt`, ~7 KB of
//! flash. Here a literal message is logged as is and a formatted one as
//! `(message with arguments)`; the location is exact either way.

use core::panic::PanicInfo;

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let msg = info
        .message()
        .as_str()
        .unwrap_or("(message with arguments)");
    match info.location() {
        Some(at) => defmt::error!(
            "wirekit-fw: PANIC: {=str} at {=str}:{=u32}",
            msg,
            at.file(),
            at.line()
        ),
        None => defmt::error!("wirekit-fw: PANIC: {=str}", msg),
    }
    super::after_panic()
}
