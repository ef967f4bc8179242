//! Firmware entry point: picks the board by cargo feature and hands its
//! network device and clock to the board-agnostic application
//! (`wirekit_firmware_example`, src/app.rs).
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(all(target_os = "none", feature = "mps2-an385", feature = "nucleo-f429zi"))]
compile_error!(
    "enable one board: `--no-default-features --features nucleo-f429zi,echo-time` for the Nucleo"
);

#[cfg(all(
    target_os = "none",
    not(any(feature = "echo-time", feature = "framed"))
))]
compile_error!("enable a role: the feature `echo-time` (the default image) or `framed`");

#[cfg(target_os = "none")]
mod board {
    pub mod counter;
    #[cfg(feature = "mps2-an385")]
    pub mod lan9118;
    pub mod log;
    #[cfg(feature = "mps2-an385")]
    pub mod mps2_an385;
    pub mod panic;
    pub mod stack;
    pub mod systick;
    #[cfg(feature = "mps2-an385")]
    pub use mps2_an385::{after_panic, run};
    #[cfg(feature = "nucleo-f429zi")]
    pub mod nucleo_f429zi;
    #[cfg(feature = "nucleo-f429zi")]
    pub use nucleo_f429zi::{after_panic, run};
}

#[cfg(target_os = "none")]
#[cortex_m_rt::entry]
fn main() -> ! {
    board::stack::run_guarded(app)
}

/// The board's application, on the guarded process stack.
#[cfg(target_os = "none")]
extern "C" fn app() -> ! {
    #[cfg(feature = "stack-overflow-test")]
    board::stack::overflow(0);
    board::run()
}

/// On the host this binary has nothing to drive: the application's host
/// tests run with `cargo test` (see README.md).
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("wirekit-firmware-example: build for a Cortex-M target (see README.md)");
    std::process::exit(2);
}
