//! The `wirekit` binary: parses the command line and hands over to the
//! subcommand's module.

use clap::Parser;
use wirekit_host::cli::Cli;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    cli.init_tracing();
    match cli.command {}
}
