//! Ctrl-C during a transfer: say what was kept and how to continue, then
//! exit 130 (the shell's status for SIGINT). Without this the process dies
//! silently and the user cannot know a partial file is waiting.
//!
//! tokio's signal handling is already a dependency and offers a safe API;
//! a small thread waits for SIGINT on a one-thread runtime.

use std::process::exit;

/// Exit status after Ctrl-C (128 + SIGINT).
const EXIT_INTERRUPTED: i32 = 130;

/// From now on, Ctrl-C prints `note()` (one line) and exits 130.
pub fn on_ctrl_c(note: impl Fn() -> String + Send + 'static) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    else {
        // Without a handler Ctrl-C still stops the transfer, silently.
        return;
    };
    // Register before returning, so no Ctrl-C slips between.
    let Ok(mut sig) = rt.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
    }) else {
        return;
    };
    std::thread::spawn(move || {
        rt.block_on(sig.recv());
        eprintln!();
        eprintln!("wirekit: interrupted: {}", note());
        exit(EXIT_INTERRUPTED);
    });
}
