//! The `wirekit` binary: the program itself is [`wirekit_host::program`].

use std::process::ExitCode;

fn main() -> ExitCode {
    wirekit_host::program::main(std::env::args_os().collect())
}
