//! `wirekit time`: the seeds' time client. Sends a strftime format (none =
//! the server's default `%Y-%m-%d %X`) and prints the answer; retries a
//! lost datagram until the timeout.

use std::time::{Duration, Instant};

use std::os::unix::ffi::OsStrExt as _;

use anyhow::bail;

use super::visible::{visible, Newlines};
use super::{echo::timeout_or, parse_timeout, resolve, udp_connected};

/// Options of `wirekit time`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Server address, HOST:PORT (the seeds' server is 127.0.0.1:9000).
    pub addr: String,
    /// strftime format, e.g. '%Y %m %d'; empty = '%Y-%m-%d %X'.
    /// Any bytes (not only UTF-8) are sent as given, to test the server.
    #[arg(default_value = "")]
    pub format: std::ffi::OsString,
    /// Seconds to wait for the answer in total.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_timeout)]
    pub timeout: Duration,
}

/// How long to wait before resending a datagram that may have been lost.
const RESEND: Duration = Duration::from_millis(1000);

/// Runs `wirekit time`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let addr = resolve(&args.addr)?;
    let sock = udp_connected(addr)?;
    let deadline = Instant::now() + args.timeout;
    let mut buf = vec![0u8; 65_536];
    let n = loop {
        sock.send(args.format.as_bytes())?;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("timed out waiting for the time from {addr}");
        }
        sock.set_read_timeout(Some(left.min(RESEND)))?;
        match sock.recv(&mut buf) {
            Ok(n) => break n,
            Err(e) if Instant::now() >= deadline => return Err(timeout_or(e, "time")),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                bail!("nothing answers on udp {addr} (connection refused)")
            }
            Err(_) => continue,
        }
    };
    // The answer is one line of untrusted text: shown with its control
    // characters (and any newline) visible.
    let text = visible(&buf[..n], Newlines::Escape);
    if let Some(msg) = text.strip_prefix("error: ") {
        bail!("server: {msg}");
    }
    println!("{text}");
    Ok(())
}
