//! The stack, counted and guarded (both boards).
//!
//! Layout of RAM (cortex-m-rt's `link.x` with `paint-stack`):
//!
//! ```text
//! _ram_start  .data .bss            statics (llvm-size's data + bss)
//! _stack_end  256-byte MPU guard    no access: an overflow faults here
//!             application stack     thread mode, PSP, grows down
//!             handler stack         HANDLER_STACK bytes, MSP, at the top
//! _stack_start
//! ```
//!
//! The application runs on the process stack (PSP) and exceptions on the
//! main stack (MSP) above it, so when the application overflows into the
//! guard the MemManage handler still has a stack of its own and can report
//! the overflow (a panic) instead of locking up. flip-link's layout (stack
//! below the statics) would not fault on mps2-an385: QEMU maps the range
//! below its RAM as an unimplemented device that ignores writes.
//!
//! The reset handler paints the whole stack with
//! [`cortex_m_rt::STACK_PAINT_VALUE`]; [`peak`] finds the lowest word that
//! is no longer painted, so the board can log the high-water mark.

use core::ptr::addr_of;

use cortex_m::peripheral::{MPU, SCB};
use cortex_m_rt::{exception, STACK_PAINT_VALUE};

/// Reserved at the top of RAM for exception handlers (MSP).
const HANDLER_STACK: usize = 1024;
/// The guard's size (an MPU region: a power of two >= 32, its base aligned
/// to it). A frame that moves SP past the guard and then fills upwards (a
/// memcpy into a local array) writes into `.bss` below it first, and its
/// fault then comes as a second stacking fault, a HardFault, with no
/// report: seen with a 32-byte guard and the 144-byte frames of
/// `overflow` at opt-level "z". 256 bytes is larger than every frame of
/// the code that runs deep (the services' frames with big buffers are
/// entered near the top of the stack, from the main loop).
const GUARD: usize = 256;

extern "C" {
    static _stack_start: u32;
    static _stack_end: u32;
}

fn stack_start() -> usize {
    addr_of!(_stack_start) as usize
}

/// First byte of the guard region: the end of the statics, rounded up.
fn guard_base() -> usize {
    let end = addr_of!(_stack_end) as usize;
    end.next_multiple_of(GUARD)
}

/// Installs the guard, moves thread mode onto the process stack and calls
/// `app`, which never returns.
pub fn run_guarded(app: extern "C" fn() -> !) -> ! {
    install_guard();
    let top = (stack_start() - HANDLER_STACK) & !7;
    // SAFETY: `top` lies inside the painted stack region, above the guard
    // and below the handler stack; nothing on the current (main) stack is
    // used after the switch because `app` never returns.
    unsafe {
        core::arch::asm!(
            "msr psp, r0",
            "mrs r2, control",
            "orr r2, r2, #2", // SPSEL: thread mode uses PSP
            "msr control, r2",
            "isb",
            "bx r1",
            in("r0") top,
            in("r1") app,
            in("r2") 0u32,
            options(noreturn)
        )
    }
}

/// Recurses without bound (the `stack-overflow-test` image calls it at
/// boot): each level keeps a 64-byte frame live, so the stack grows until
/// the guard stops it.
#[cfg(feature = "stack-overflow-test")]
#[allow(unconditional_recursion)] // on purpose: the guard ends it
pub fn overflow(depth: u32) -> u32 {
    let frame = core::hint::black_box([depth; 16]);
    overflow(depth + 1).wrapping_add(frame[depth as usize % 16])
}

fn install_guard() {
    let base = guard_base() as u32;
    // SAFETY: runs once at boot before anything else uses the MPU or SCB;
    // the region only forbids access to the GUARD bytes no code owns.
    unsafe {
        let mpu = &*MPU::PTR;
        let scb = &*SCB::PTR;
        // Region 0, base address, VALID (bit 4) selects the region.
        mpu.rbar.write(base | 1 << 4);
        // XN (bit 28), AP = 000 (no access), SIZE = log2(GUARD) - 1, ENABLE.
        mpu.rasr
            .write(1 << 28 | (GUARD.trailing_zeros() - 1) << 1 | 1);
        // ENABLE with PRIVDEFENA: everything else keeps the default map.
        mpu.ctrl.write(1 << 2 | 1);
        // MEMFAULTENA: report guard hits as MemManage, not HardFault.
        scb.shcsr.modify(|v| v | 1 << 16);
        cortex_m::asm::dsb();
        cortex_m::asm::isb();
    }
}

/// Bytes of stack used so far at most: from the top of RAM down to the
/// lowest word that is no longer painted (the handler stack included).
// The Nucleo has no log output yet to report it on.
#[cfg_attr(not(feature = "mps2-an385"), allow(dead_code))]
pub fn peak() -> usize {
    let start = stack_start();
    let mut addr = guard_base() + GUARD;
    while addr < start {
        // SAFETY: the address is inside the stack region, word aligned,
        // and above the guard.
        let word = unsafe { core::ptr::read_volatile(addr as *const u32) };
        if word != STACK_PAINT_VALUE {
            break;
        }
        addr += 4;
    }
    start - addr
}

/// Bytes between the guard and the top of RAM: what the stack may use.
// The Nucleo has no log output yet to report it on.
#[cfg_attr(not(feature = "mps2-an385"), allow(dead_code))]
pub fn capacity() -> usize {
    stack_start() - guard_base() - GUARD
}

#[exception]
unsafe fn MemoryManagement() {
    // Only the guard region is protected, so this is a stack overflow.
    panic!("stack overflow (MPU guard hit)");
}
