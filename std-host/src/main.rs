//! The `wirekit` binary: parses the command line and hands over to the
//! subcommand's module.

use std::process::ExitCode;

use clap::Parser;
use wirekit_host::cli::Cli;
use wirekit_host::client::visible::{visible, Newlines};

fn main() -> ExitCode {
    let cli = Cli::parse();
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
