//! The `wirekit` binary: parses the command line and hands over to the
//! subcommand's module.

use std::process::ExitCode;

use clap::Parser;
use wirekit_host::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.init_tracing();
    match cli.command.run() {
        Ok(code) => code,
        Err(e) => {
            // One line: the error and its causes.
            eprintln!("wirekit: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
