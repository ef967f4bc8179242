//! The `wirekit` command line: one subcommand per server or client.
//!
//! Adding a subcommand: a module with `pub struct Args` (clap::Args) and
//! `pub fn run(Args) -> anyhow::Result<()>` (or returning an exit code, as
//! `exec` does), a variant in [`Command`], and
//! an arm in [`Command::run`].

use clap::{Parser, Subcommand};

use std::process::ExitCode;

use crate::client::{exec, talk};
use crate::{client, serve};

pub mod manual;

/// Classic socket services (echo, time, remote exec, file transfer, chat) on
/// one no_std protocol core.
#[derive(Debug, Parser)]
#[command(name = "wirekit", version, about, long_about = None)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Log format on stderr: `text` for people, `json` (one object per
    /// line) for log collectors.
    #[arg(long, value_name = "FORMAT", global = true, default_value = "text")]
    pub log_format: LogFormat,

    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run servers: `--listen SERVICE=ADDR`, or the default set on 127.0.0.1.
    #[command(after_long_help = serve_long_help())]
    Serve(Box<serve::Args>),
    /// Upper-echo client (TCP, or UDP with --udp).
    #[command(after_long_help = with_exit_codes(EX_ECHO))]
    Echo(client::echo::Args),
    /// Client of the UDP strftime time server.
    #[command(after_long_help = with_exit_codes(EX_TIME))]
    Time(client::time::Args),
    /// Run one command on an exec server; exits with its exit code.
    Exec(exec::ExecArgs),
    /// The seeds' interactive remote shell (`>>> `), over an exec server.
    Shell(exec::ClientArgs),
    /// Group chat client: stdin lines out, incoming lines printed as they come.
    #[command(after_long_help = with_exit_codes(EX_CHAT))]
    Chat(client::chat::ChatArgs),
    /// UDP messenger (seed 002 "QQ" chat): `NAME: text`, `/to NAME`, `quit`.
    Talk(talk::TalkArgs),
    /// Download a file from a files server (or a seed's, with --dialect).
    Get(client::files::GetArgs),
    /// Upload a file to a files server (or seed 002's, with --dialect).
    Put(client::files::PutArgs),
    /// List a directory on a files server.
    Ls(client::files::LsArgs),
    /// Print a manual page (roff), or write them all with --out-dir.
    #[command(after_long_help = EX_MAN)]
    Man(manual::ManArgs),
    /// Print a shell completion script.
    #[command(after_long_help = EX_COMPLETIONS)]
    Completions(manual::CompletionsArgs),
    /// Internal: the exec server runs each command under this supervisor.
    #[command(name = "exec-supervise", hide = true)]
    ExecSupervise(crate::services::exec::supervise::SuperviseArgs),
}

const EX_SERVE: &str = "\
EXAMPLES:
  wirekit serve                                  the default set on 127.0.0.1
  wirekit serve --listen echo=127.0.0.1:0        one service; port 0 = any free port
  wirekit serve --listen files=0.0.0.0:8484 --root /srv/share --files-max-size 4G
  wirekit serve --listen chat=127.0.0.1:9999 --chat-max-line 512
  wirekit serve --listen exec=127.0.0.1:7000 --exec-token-file ~/.wirekit-token
  wirekit serve --config /etc/wirekit.toml       options from a file (contrib/wirekit.toml)
  wirekit serve --print-config > wirekit.toml    the effective configuration

SIZES: --files-max-size, --exec-max-output and --exec-spool-max take bytes or
a number with K, M, G or T (powers of 1024): 64G, 16M, 256M.";

const EX_ECHO: &str = "\
EXAMPLES:
  wirekit echo 127.0.0.1:8080 hello world        prints HELLO WORLD
  wirekit echo --udp 127.0.0.1:8181 hello        the UDP service
  wirekit echo 127.0.0.1:8080                    interactive; Ctrl-D leaves
  printf 'a\\nb\\n' | wirekit echo 127.0.0.1:8080  one answer per line";

const EX_TIME: &str = "\
EXAMPLES:
  wirekit time 127.0.0.1:9000                    the server's default format
  wirekit time 127.0.0.1:9000 '%Y-%m-%d %H:%M:%S'
  wirekit time 127.0.0.1:9000 --timeout 1        give up after a second";

const EX_CHAT: &str = "\
EXAMPLES:
  wirekit chat 127.0.0.1:9999 --name ann         type lines; `quit` or Ctrl-D leaves
  echo 'hello all' | wirekit chat 127.0.0.1:9999 says one line, shows replies, leaves
  wirekit chat example.org:9443 --tls --tls-ca ca.pem   a chat+tls listener";

/// `serve --help`: the services, then the examples.
fn serve_long_help() -> String {
    format!("{}\n\n{EX_SERVE}", crate::services::SERVICES_HELP)
}

/// A client's examples, then the exit-code table every client shares.
fn with_exit_codes(examples: &str) -> String {
    format!("{examples}\n\n{}", exec::help::EXIT_CODES)
}

const EX_MAN: &str = "\
Examples:
  wirekit man | man -l -                     read the overview page
  wirekit man serve | man -l -               the page of `wirekit serve`
  wirekit man --out-dir /usr/local/share/man/man1   install every page";

const EX_COMPLETIONS: &str = "\
Examples:
  wirekit completions bash > /etc/bash_completion.d/wirekit
  wirekit completions zsh > \"${fpath[1]}/_wirekit\"
  wirekit completions fish > ~/.config/fish/completions/wirekit.fish";

impl Command {
    /// Runs the chosen subcommand; the exit code is the subcommand's (the
    /// remote command's, for `exec`), or failure for an `Err`.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let done = |r: anyhow::Result<()>| r.map(|()| ExitCode::SUCCESS);
        // Clients share exec's exit-code table: 255 for wirekit's own errors.
        let client = |r: anyhow::Result<()>| Ok(exec::report(r.map(|()| 0)));
        match self {
            Command::Serve(a) => done(serve::run(*a)),
            Command::Echo(a) => client(client::echo::run(a)),
            Command::Time(a) => client(client::time::run(a)),
            Command::Exec(a) => Ok(exec::run_exec(&a)),
            Command::Shell(a) => Ok(exec::run_shell(&a)),
            Command::Chat(a) => client(client::chat::main(a)),
            Command::Talk(a) => client(talk::main(a)),
            Command::Get(a) => Ok(client::files::run_get(&a)),
            Command::Put(a) => Ok(client::files::run_put(&a)),
            Command::Ls(a) => Ok(client::files::run_ls(&a)),
            Command::Man(a) => done(manual::man(&a)),
            Command::Completions(a) => done(manual::completions(&a)),
            Command::ExecSupervise(a) => Ok(crate::services::exec::supervise::run(&a)),
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
        let fmt = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr);
        match self.log_format {
            LogFormat::Json => fmt.json().init(),
            LogFormat::Text => fmt
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .init(),
        }
    }
}
