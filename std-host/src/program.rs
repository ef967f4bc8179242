//! The `wirekit` program as a library function: everything `main` does,
//! from the raw arguments to the exit code.
//!
//! It lives here rather than in `main.rs` so that a test crate of another
//! workspace package can run the very same program without a nested cargo
//! build: the load generator's tests (loadgen/tests) start their
//! `wirekit serve` by re-executing their own test binary, which hands its
//! arguments to [`main`].

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};

use crate::cli::Cli;
use crate::client::visible::{visible, Newlines};
use crate::config;

/// Runs `wirekit` with `argv` (the program name first, as from
/// [`std::env::args_os`]). Usage errors exit the process through clap, as
/// they always have.
pub fn main(argv: Vec<OsString>) -> ExitCode {
    let mut cmd = Cli::command();
    cmd.build();
    let Some(serve) = cmd.find_subcommand("serve").cloned() else {
        unreachable!("the serve subcommand is defined in cli.rs")
    };
    let exp = match config::expand(argv, &serve) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("wirekit: error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let matches = cmd.get_matches_from(&exp.argv);
    if let Some(("serve", m)) = matches.subcommand() {
        if m.get_flag("print_config") {
            print!("{}", config::effective(&serve, m, &exp));
            return ExitCode::SUCCESS;
        }
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    cli.init_tracing();
    match cli.command.run() {
        Ok(code) => code,
        Err(e) => {
            // One line: the error and its causes. Causes can quote a
            // server's words, so control characters are made visible.
            let text = visible(format!("{e:#}").as_bytes(), Newlines::Escape);
            eprintln!("wirekit: error: {text}");
            ExitCode::FAILURE
        }
    }
}
