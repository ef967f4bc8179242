//! The `wirekit` binary: parses the command line and hands over to the
//! subcommand's module.

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};
use wirekit_host::cli::Cli;
use wirekit_host::client::visible::{visible, Newlines};
use wirekit_host::config;

fn main() -> ExitCode {
    let mut cmd = Cli::command();
    cmd.build();
    let Some(serve) = cmd.find_subcommand("serve").cloned() else {
        unreachable!("the serve subcommand is defined in cli.rs")
    };
    let exp = match config::expand(std::env::args_os().collect(), &serve) {
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
