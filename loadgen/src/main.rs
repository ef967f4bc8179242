//! `wirekit-bench`: a load generator for the echo, time and chat services
//! and for any server speaking the same protocols (the seeds' Python
//! servers, `socat … PIPE`), so they can be measured side by side; `echo`
//! and `connect` also over TLS (`--tls`, see [`tls`]).
//!
//! It is its own crate and binary, not a `wirekit` subcommand, so that
//! whoever installs the daemon does not also get a tool that opens ten
//! thousand connections or floods a UDP port on request; it is built for
//! the benchmarks (`scripts/bench-*`, docs/BENCHMARKS.md) and the tests.
//! From `wirekit-host` it takes only what it must agree on with the
//! product: address and `--timeout` parsing, errors shown with control
//! characters made visible, and the TLS provider and certificate pinning.
//!
//! It runs single-threaded (one tokio current-thread runtime; on Linux the
//! echo and UDP loops are one thread each driving epoll directly) so that
//! it takes one of the machine's cores and leaves the rest to the server.
//! Every run is bounded by `--secs`; every wait by `--timeout`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod chat;
mod chat_clients;
#[cfg(target_os = "linux")]
mod chat_epoll;
mod chat_rate;
mod load;
mod stats;
#[cfg(target_os = "linux")]
mod tcp;
mod tls;
#[cfg(target_os = "linux")]
mod udp;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser as _;
use wirekit_host::client::visible::{visible, Newlines};
use wirekit_host::client::{parse_timeout, resolve};

/// Load generator for wirekit's echo, time and chat services (and any
/// server speaking their protocols), for benchmarks.
#[derive(Debug, clap::Parser)]
#[command(name = "wirekit-bench", version, about, long_about = None)]
#[command(after_long_help = EXAMPLES)]
pub struct Cli {
    /// What to measure.
    #[command(subcommand)]
    pub mode: Mode,
}

const EXAMPLES: &str = "\
EXAMPLES:
  wirekit-bench echo 127.0.0.1:8080 -c 64 --secs 5 --size 64
  wirekit-bench udp 127.0.0.1:9000 --pid \"$(pidof wirekit)\"
  wirekit-bench connect 127.0.0.1:8080
  wirekit-bench chat 127.0.0.1:9999 -c 100";

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.mode) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, control characters made visible: causes can quote
            // a server's words.
            let text = visible(format!("{e:#}").as_bytes(), Newlines::Escape);
            eprintln!("wirekit-bench: error: {text}");
            ExitCode::FAILURE
        }
    }
}

/// Options every mode shares.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Server address, HOST:PORT (loopback).
    pub addr: String,
    /// Concurrent connections (or UDP sockets).
    #[arg(short, long, default_value_t = 64)]
    pub conns: usize,
    /// Seconds to measure (after one warm-up second).
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_timeout)]
    pub secs: Duration,
    /// Seconds before a single answer counts as lost (an error).
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// Server process id: also report its CPU time per operation, with
    /// its child processes' (a server forking per connection, like socat,
    /// is measured whole), and, for `idle`, its memory, from /proc.
    #[arg(long)]
    pub pid: Option<u32>,
}

/// The measurements.
#[derive(Debug, clap::Subcommand)]
pub enum Mode {
    /// TCP upper-echo: each connection sends SIZE bytes and reads SIZE
    /// bytes back, in a loop.
    Echo {
        /// Address, connections, duration, timeout and --pid.
        #[command(flatten)]
        common: Common,
        /// Bytes per round trip.
        #[arg(short, long, default_value_t = 64)]
        size: usize,
        /// TLS (benchmarks only: see --tls).
        #[command(flatten, next_help_heading = "TLS")]
        tls: tls::TlsArgs,
    },
    /// UDP request/response (e.g. the time service): each socket sends
    /// PAYLOAD and waits for one datagram back, in a loop.
    Udp {
        /// Address, connections, duration, timeout and --pid.
        #[command(flatten)]
        common: Common,
        /// The request datagram (for the time service: a format).
        #[arg(short, long, default_value = "%Y-%m-%d %X")]
        payload: String,
        /// Append ` #N` (the socket's number) to each socket's payload, so
        /// the sockets send different requests (a server cannot reuse one
        /// socket's answer for the next).
        #[arg(long)]
        distinct: bool,
    },
    /// New connections: connect, one 1-byte echo round trip, close
    /// (with RST, so the client leaves no TIME_WAIT behind), in a loop.
    /// With --tls each one is a full TLS handshake (no resumption).
    Connect {
        /// Address, connections, duration, timeout and --pid.
        #[command(flatten)]
        common: Common,
        /// TLS (benchmarks only: see --tls).
        #[command(flatten, next_help_heading = "TLS")]
        tls: tls::TlsArgs,
    },
    /// Open CONNS idle connections, hold them, check they all still work,
    /// and report the server's memory (VmRSS of --pid).
    Idle {
        /// Address, connections, duration, timeout and --pid.
        #[command(flatten)]
        common: Common,
    },
    /// Chat fan-out: CONNS clients join, one says numbered lines one at a
    /// time; latency = until every client has read the line. With --pid,
    /// also the server's VmRSS once all have joined.
    Chat {
        /// Address, connections, duration, timeout and --pid.
        #[command(flatten)]
        common: Common,
        /// More nodes of a shared room, and an open-loop rate.
        #[command(flatten)]
        spread: chat::Spread,
    },
}

/// Runs one measurement.
fn run(mode: Mode) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match mode {
            Mode::Echo { common, size, tls } => {
                anyhow::ensure!((1..=1 << 24).contains(&size), "--size must be 1..=16 MiB");
                let addr = resolve(&common.addr)?;
                let tls = tls::BenchTls::from_args(&tls, &common.addr)?;
                let streams = load::connect_all(addr, &common).await?;
                let label = format!(
                    "echo conns={} size={size}{}",
                    common.conns,
                    if tls.is_some() { " tls" } else { "" }
                );
                #[cfg(target_os = "linux")]
                let r = {
                    let wires = load::wires(streams, tls.as_ref()).await?;
                    tcp::echo(wires, &common, size, &label).await
                };
                #[cfg(not(target_os = "linux"))]
                let r = match tls {
                    Some(_) => Err(anyhow::anyhow!("echo --tls needs Linux")),
                    None => load::echo(streams, &common, size, &label).await,
                };
                r
            }
            Mode::Udp {
                common,
                payload,
                distinct,
            } => {
                let addr = resolve(&common.addr)?;
                let payloads: Vec<Vec<u8>> = (0..common.conns)
                    .map(|i| match distinct {
                        true => format!("{payload} #{i}").into_bytes(),
                        false => payload.clone().into_bytes(),
                    })
                    .collect();
                #[cfg(target_os = "linux")]
                let r = udp::udp(addr, &common, payloads).await;
                #[cfg(not(target_os = "linux"))]
                let r = load::udp(addr, &common, payloads).await;
                r
            }
            Mode::Connect { common, tls } => {
                let addr = resolve(&common.addr)?;
                let tls = tls::BenchTls::from_args(&tls, &common.addr)?;
                load::connect(addr, &common, tls).await
            }
            Mode::Idle { common } => {
                let addr = resolve(&common.addr)?;
                load::idle(addr, &common).await
            }
            Mode::Chat { common, spread } => {
                let addr = resolve(&common.addr)?;
                chat::chat(addr, &common, &spread).await
            }
        }
    })
}
