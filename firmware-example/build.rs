//! Puts the selected board's memory layout where cortex-m-rt's `link.x`
//! looks for `memory.x` (the linker search path), and nowhere else: a
//! `memory.x` in the crate root would be found first for every board.
use std::{env, fs, path::PathBuf};

fn main() {
    let board = if env::var_os("CARGO_FEATURE_NUCLEO_F429ZI").is_some() {
        "nucleo-f429zi"
    } else {
        "mps2-an385"
    };
    let src = format!("memory/{board}.x");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy(&src, out.join("memory.x")).expect("copy the board's memory layout");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-changed=build.rs");
}
