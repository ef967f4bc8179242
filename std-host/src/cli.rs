//! The `wirekit` command line: one subcommand per server or client.
//!
//! Adding a subcommand: a module with `pub struct Args` (clap::Args) and
//! `pub fn run(Args) -> anyhow::Result<()>`, a variant in [`Command`], and
//! an arm in [`Command::run`].

use clap::{Parser, Subcommand};

use crate::{bench, chat, client, serve, talk};

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
    /// Run servers: `--listen SERVICE=ADDR`, or the default set on 127.0.0.1.
    Serve(serve::Args),
    /// Upper-echo client (TCP, or UDP with --udp).
    Echo(client::echo::Args),
    /// Client of the UDP strftime time server.
    Time(client::time::Args),
    /// Load generator for the echo and time services (see docs/BENCHMARKS.md).
    Bench(bench::Args),
    /// Group chat client: stdin lines out, incoming lines printed as they come.
    Chat(chat::client::ChatArgs),
    /// UDP messenger (seed 002 "QQ" chat): `NAME: text`, `/to NAME`, `quit`.
    Talk(talk::TalkArgs),
}

impl Command {
    /// Runs the chosen subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            Command::Serve(a) => serve::run(a),
            Command::Echo(a) => client::echo::run(a),
            Command::Time(a) => client::time::run(a),
            Command::Bench(a) => bench::run(a),
            Command::Chat(a) => chat::client::main(a),
            Command::Talk(a) => talk::main(a),
        }
    }
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
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}
