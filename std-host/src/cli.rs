//! The `wirekit` command line: one subcommand per server or client.

use clap::{Parser, Subcommand};

/// Classic socket services (echo, time, remote exec, file transfer, chat) on
/// one no_std protocol core.
#[derive(Debug, Parser)]
#[command(name = "wirekit", version, about, long_about = None)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download a file from a files server.
    Get(crate::files::client::GetArgs),
    /// Upload a file to a files server.
    Put(crate::files::client::PutArgs),
    /// List a directory on a files server.
    Ls(crate::files::client::LsArgs),
}

impl Cli {
    /// Sets up `tracing` output on stderr at the level asked for.
    pub fn init_tracing(&self) {
        let default = match self.verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        };
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
}
