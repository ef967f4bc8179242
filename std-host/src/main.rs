//! The `wirekit` binary: parses the command line and hands over to the
//! subcommand's module.

use clap::Parser;
use wirekit_host::cli::{Cli, Command};
use wirekit_host::files;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    cli.init_tracing();
    let result = match &cli.command {
        Command::Get(a) => files::client::get(a),
        Command::Put(a) => files::client::put(a),
        Command::Ls(a) => files::client::ls(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wirekit: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
