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

use std::collections::BTreeMap;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::UdpSocket;
use wirekit_core::service::echo::MAX_UDP_PAYLOAD;

use crate::chat::client::stdin_lines;
use crate::client::visible::{visible, Newlines};

/// What stdin lines do (`talk -h`).
const INPUT_HELP: &str = "\
Input lines:
  NAME: text    send text to contact NAME (an unknown NAME is an error)
  /to NAME      plain lines go to NAME (a contact or IP:PORT)
  text          to the chosen contact, else the only contact,
                else reply to the last sender
  /contacts     list the contact book
  quit          exit
Incoming datagrams print as `[NAME] text` or `[IP:PORT] text`.";

/// `talk --help`: the input lines and examples.
const LONG_HELP: &str = "\
Input lines:
  NAME: text    send text to contact NAME (an unknown NAME is an error)
  /to NAME      plain lines go to NAME (a contact or IP:PORT)
  text          to the chosen contact, else the only contact,
                else reply to the last sender
  /contacts     list the contact book
  quit          exit
Incoming datagrams print as `[NAME] text` or `[IP:PORT] text`.

EXAMPLES:
  wirekit talk --listen 127.0.0.1:8081 --contact bob=127.0.0.1:8082
  wirekit talk --listen 127.0.0.1:8082 --contact ann=127.0.0.1:8081 --contact cy=127.0.0.1:8083";

/// Arguments of `wirekit talk`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = INPUT_HELP, after_long_help = LONG_HELP)]
pub struct TalkArgs {
    /// Local UDP address to receive on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// A contact, as NAME=ADDR (repeatable), like the seed's contact book.
    #[arg(long = "contact", value_name = "NAME=ADDR", value_parser = parse_contact)]
    pub contacts: Vec<(String, SocketAddr)>,
}

fn parse_contact(s: &str) -> Result<(String, SocketAddr), String> {
    let (name, addr) = s.split_once('=').ok_or("expected NAME=ADDR")?;
    let name = name.trim();
    if name.is_empty() || name.contains([':', ' ']) || name.starts_with('/') {
        return Err(format!("bad contact name {name:?}"));
    }
    let addr = addr
        .trim()
        .parse()
        .map_err(|e| format!("bad address {addr:?}: {e}"))?;
    Ok((name.to_owned(), addr))
}

/// What one stdin line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command<'a> {
    /// Nothing to do (empty line).
    Nothing,
    /// Exit.
    Quit,
    /// List the contacts.
    Contacts,
    /// Choose the default recipient (a contact name or `ip:port`).
    To(&'a str),
    /// Send `text` to a named contact, or to the default when `None`.
    Send { to: Option<&'a str>, text: &'a str },
    /// `NAME: text` where NAME is no contact: refused, never sent.
    Unknown(&'a str),
}

fn parse_command<'a>(line: &'a str, book: &Book) -> Command<'a> {
    let line = line.trim();
    match line {
        "" => return Command::Nothing,
        "quit" | "/quit" => return Command::Quit,
        "/contacts" => return Command::Contacts,
        _ => {}
    }
    if let Some(target) = line.strip_prefix("/to ") {
        return Command::To(target.trim());
    }
    if let Some((name, text)) = line.split_once(':') {
        let name = name.trim();
        if book.by_name.contains_key(name) {
            return match text.trim() {
                "" => Command::Nothing,
                text => Command::Send {
                    to: Some(name),
                    text,
                },
            };
        }
        // One word before the colon reads as an address: sending it,
        // prefix included, to someone else would leak it to the wrong
        // person. Prose (`it is 10:30`) has spaces before its colon.
        if !name.is_empty() && !name.contains(char::is_whitespace) {
            return Command::Unknown(name);
        }
    }
    Command::Send {
        to: None,
        text: line,
    }
}

/// The contact book, both ways.
struct Book {
    by_name: BTreeMap<String, SocketAddr>,
    by_addr: BTreeMap<SocketAddr, String>,
}

impl Book {
    fn new(contacts: &[(String, SocketAddr)]) -> Book {
        let mut by_addr = BTreeMap::new();
        for (name, addr) in contacts.iter().rev() {
            // The first name given for an address wins.
            by_addr.insert(*addr, name.clone());
        }
        Book {
            by_name: contacts.iter().cloned().collect(),
            by_addr,
        }
    }

    fn resolve(&self, target: &str) -> Option<SocketAddr> {
        self.by_name
            .get(target)
            .copied()
            .or_else(|| target.parse().ok())
    }

    /// The single contact of a one-entry book: the default recipient.
    fn only(&self) -> Option<SocketAddr> {
        match self.by_name.len() {
            1 => self.by_name.values().next().copied(),
            _ => None,
        }
    }

    fn show(&self, addr: SocketAddr) -> String {
        self.by_addr
            .get(&addr)
            .cloned()
            .unwrap_or_else(|| addr.to_string())
    }
}

/// Entry point of the subcommand: runs [`run`] on a small runtime.
pub fn main(args: TalkArgs) -> anyhow::Result<()> {
    crate::client::block_on_interactive(run(args))
}

/// Runs the messenger until `quit` or end of stdin.
pub async fn run(args: TalkArgs) -> anyhow::Result<()> {
    let sock = UdpSocket::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    say(format_args!("listening talk udp {}", sock.local_addr()?));
    let book = Book::new(&args.contacts);
    let mut chosen: Option<SocketAddr> = None;
    let mut last_sender: Option<SocketAddr> = None;
    let mut lines = stdin_lines();
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            got = sock.recv_from(&mut buf) => match got {
                Ok((n, from)) => {
                    last_sender = Some(from);
                    // One datagram, one line: an embedded newline or escape
                    // sequence cannot forge another sender's line.
                    let text = visible(&buf[..n], Newlines::Escape);
                    say(format_args!("[{}] {text}", book.show(from)));
                }
                // e.g. ICMP port unreachable from an earlier send.
                Err(e) => eprintln!("wirekit talk: receive failed: {e}"),
            },
            line = lines.recv() => {
                let Some(line) = line else { return Ok(()) };
                let line = String::from_utf8_lossy(&line);
                match parse_command(&line, &book) {
                    Command::Nothing => {}
                    Command::Quit => return Ok(()),
                    Command::Contacts => {
                        for (name, addr) in &book.by_name {
                            say(format_args!("{name} = {addr}"));
                        }
                    }
                    Command::Unknown(name) => eprintln!(
                        "wirekit talk: unknown contact {name:?}: not sent (contacts: /contacts)"
                    ),
                    Command::To(target) => match book.resolve(target) {
                        Some(addr) => chosen = Some(addr),
                        None => eprintln!("wirekit talk: unknown contact {target:?}"),
                    },
                    Command::Send { to, text } => {
                        let dest = match to {
                            Some(name) => book.resolve(name),
                            None => chosen.or(book.only()).or(last_sender),
                        };
                        send(&sock, dest, text).await;
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

async fn send(sock: &UdpSocket, dest: Option<SocketAddr>, text: &str) {
    let Some(dest) = dest else {
        eprintln!("wirekit talk: no recipient: use `NAME: text` or `/to NAME` first");
        return;
    };
    if text.len() > MAX_UDP_PAYLOAD {
        eprintln!("wirekit talk: message longer than {MAX_UDP_PAYLOAD} bytes not sent");
        return;
    }
    if let Err(e) = sock.send_to(text.as_bytes(), dest).await {
        eprintln!("wirekit talk: sending to {dest} failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> Book {
        Book::new(&[
            parse_contact("jkey=127.0.0.1:8081").unwrap(),
            parse_contact("liu=127.0.0.1:8081").unwrap(),
            parse_contact("song=[::1]:9").unwrap(),
        ])
    }

    #[test]
    fn commands() {
        let b = book();
        assert_eq!(parse_command("  ", &b), Command::Nothing);
        assert_eq!(parse_command("quit", &b), Command::Quit);
        assert_eq!(parse_command("/to liu", &b), Command::To("liu"));
        assert_eq!(
            parse_command("jkey: hi: there ", &b),
            Command::Send {
                to: Some("jkey"),
                text: "hi: there"
            }
        );
        // One word before a colon that is no contact: refused.
        assert_eq!(parse_command("bob: hi", &b), Command::Unknown("bob"));
        // Prose with a colon: the whole line is the message.
        assert_eq!(
            parse_command("it is 10:30", &b),
            Command::Send {
                to: None,
                text: "it is 10:30"
            }
        );
        assert_eq!(parse_command("song:", &b), Command::Nothing);
    }

    #[test]
    fn book_lookups() {
        let b = book();
        let a: SocketAddr = "127.0.0.1:8081".parse().unwrap();
        assert_eq!(b.show(a), "jkey");
        assert_eq!(b.show("127.0.0.1:1".parse().unwrap()), "127.0.0.1:1");
        assert_eq!(b.resolve("liu"), Some(a));
        assert_eq!(b.resolve("[::1]:9"), Some("[::1]:9".parse().unwrap()));
        assert_eq!(b.resolve("nobody"), None);
        assert_eq!(b.only(), None);
        let one = Book::new(&[parse_contact("bob=127.0.0.1:7").unwrap()]);
        assert_eq!(one.only(), Some("127.0.0.1:7".parse().unwrap()));
        assert!(parse_contact("x").is_err());
        assert!(parse_contact("a:b=127.0.0.1:1").is_err());
        assert!(parse_contact("a=nowhere").is_err());
    }
}
