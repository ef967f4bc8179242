//! `wirekit talk --listen ADDR [--contact NAME=ADDR]…`: the seed 002 UDP
//! "QQ" chat as a two-way REPL.
//!
//! The seed's server could only answer the last sender after a prompt, and
//! its client blocked on one reply per message. Here both directions run at
//! once: every datagram that arrives is printed immediately as
//! `[NAME] text` (or `[ip:port] text` for a stranger) while stdin lines
//! are sent:
//!
//! - `NAME: text` sends to contact `NAME`; a `WORD: text` line whose
//!   WORD is no contact is refused (a typo must not reach someone else);
//! - `/to NAME` (or `/to ip:port`) chooses who plain lines go to;
//! - a plain line goes to the chosen contact, else to the only contact
//!   when the book has one, else answers whoever sent the last datagram
//!   (what the seed's server did);
//! - `/contacts` lists the book, `quit` exits.
//!
//! Messages are stripped of surrounding whitespace and empty ones are not
//! sent, as in the seed. The bound address is announced on stdout as
//! `listening talk udp ADDR`.
//!
//! What lines mean lives in the core session
//! ([`wirekit_core::service::talk`]); this module is its tokio driver:
//! stdin and the socket in, datagrams and printed lines out.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::UdpSocket;
use wirekit_core::service::talk::{parse_contact, Action, Talk};

use super::chat::stdin_lines;
use crate::client::visible::{visible, Newlines};

/// What stdin lines do: the text of `talk -h`, and the start of `--help`.
macro_rules! input_help {
    () => {
        "\
Input lines:
  NAME: text    send text to contact NAME (an unknown NAME is an error)
  /to NAME      plain lines go to NAME (a contact or IP:PORT)
  text          to the chosen contact, else the only contact,
                else reply to the last sender
  /contacts     list the contact book
  quit          exit
Incoming datagrams print as `[NAME] text` or `[IP:PORT] text`."
    };
}

/// `talk -h`: the input lines.
const INPUT_HELP: &str = input_help!();

/// `talk --help`: the input lines and examples.
const LONG_HELP: &str = concat!(
    input_help!(),
    "\n\n\
EXAMPLES:
  wirekit talk --listen 127.0.0.1:8081 --contact bob=127.0.0.1:8082
  wirekit talk --listen 127.0.0.1:8082 --contact ann=127.0.0.1:8081 --contact cy=127.0.0.1:8083"
);

/// Arguments of `wirekit talk`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = INPUT_HELP, after_long_help = LONG_HELP)]
pub struct TalkArgs {
    /// Local UDP address to receive on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// A contact, as NAME=ADDR (repeatable), like the seed's contact book.
    #[arg(long = "contact", value_name = "NAME=ADDR", value_parser = check_contact)]
    pub contacts: Vec<String>,
}

/// Most `--contact`s (the book is a fixed-size core structure).
pub const MAX_CONTACTS: usize = 64;

fn check_contact(s: &str) -> Result<String, String> {
    match parse_contact(s) {
        Ok(_) => Ok(s.to_owned()),
        Err(e) => Err(format!("{s:?}: {e}")),
    }
}

/// Entry point of the subcommand: runs [`run`] on a small runtime.
pub fn main(args: TalkArgs) -> anyhow::Result<()> {
    crate::client::block_on_interactive(run(args))
}

/// Runs the messenger until `quit` or end of stdin.
pub async fn run(args: TalkArgs) -> anyhow::Result<()> {
    let mut talk: Talk<MAX_CONTACTS> = Talk::new();
    for c in &args.contacts {
        talk.add_contact(c)
            .map_err(|e| anyhow::anyhow!("--contact {c}: {e} (at most {MAX_CONTACTS})"))?;
    }
    let sock = UdpSocket::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    say(format_args!("listening talk udp {}", sock.local_addr()?));
    let mut lines = stdin_lines();
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            got = sock.recv_from(&mut buf) => match got {
                Ok((n, from)) => {
                    // One datagram, one line: an embedded newline or escape
                    // sequence cannot forge another sender's line.
                    let text = visible(&buf[..n], Newlines::Escape);
                    say(format_args!("[{}] {text}", talk.handle_datagram(from)));
                }
                // e.g. ICMP port unreachable from an earlier send.
                Err(e) => eprintln!("wirekit talk: receive failed: {e}"),
            },
            line = lines.recv() => {
                let Some(line) = line else { return Ok(()) };
                let line = String::from_utf8_lossy(&line);
                match talk.handle_line(&line) {
                    Action::Nothing | Action::Chosen(_) => {}
                    Action::Quit => return Ok(()),
                    Action::ListContacts => {
                        for (name, addr) in talk.contacts() {
                            say(format_args!("{name} = {addr}"));
                        }
                    }
                    Action::Refused(why) => eprintln!("wirekit talk: {why}"),
                    Action::Send { dest, text } => {
                        if let Err(e) = sock.send_to(text.as_bytes(), dest).await {
                            eprintln!("wirekit talk: sending to {dest} failed: {e}");
                        }
                    }
                }
            }
        }
    }
}

/// Prints a line to stdout; a closed stdout is not worth a panic.
fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}
