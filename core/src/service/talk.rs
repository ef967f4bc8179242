//! The UDP messenger (`wirekit talk`, seed 002's "QQ" chat) as a sans-I/O
//! session: a contact book, who plain lines go to, and what each typed
//! line or received datagram means. The driver owns the socket and the
//! terminal; it feeds typed lines to [`Talk::handle_line`] and senders of
//! datagrams to [`Talk::handle_datagram`], and carries out the returned
//! [`Action`].
//!
//! Lines, as the seed's users type them:
//! - `NAME: text` sends to contact `NAME`; a `WORD: text` line whose WORD
//!   is no contact is refused (a typo must not reach someone else);
//! - `/to NAME` (or `/to ip:port`) chooses who plain lines go to;
//! - a plain line goes to the chosen contact, else to the only contact
//!   when the book has one, else answers whoever sent the last datagram
//!   (what the seed's server did);
//! - `/contacts` lists the book, `quit` exits.
//!
//! Messages are stripped of surrounding whitespace and empty ones are not
//! sent, as in the seed.
//!
//! ```
//! use wirekit_core::service::talk::{Action, Talk};
//! let mut t: Talk<4> = Talk::new();
//! t.add_contact("bob=127.0.0.1:8082").unwrap();
//! // One contact: plain lines go to it.
//! let bob = "127.0.0.1:8082".parse().unwrap();
//! assert_eq!(t.handle_line(" hi "), Action::Send { dest: bob, text: "hi" });
//! assert_eq!(t.handle_datagram(bob).name(), Some("bob"));
//! ```

use core::fmt;
use core::net::SocketAddr;

use heapless::{String, Vec};

use super::echo::MAX_UDP_PAYLOAD;

/// Longest contact name, in bytes.
pub const MAX_NAME: usize = 32;

/// A contact's name: no `:` or whitespace, not starting with `/`.
pub type Name = String<MAX_NAME>;

/// Why a `NAME=ADDR` contact was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactError {
    /// No `=` between name and address.
    MissingEquals,
    /// The name is empty, too long ([`MAX_NAME`]), starts with `/` or holds
    /// `:` or whitespace (it could not be typed as `NAME: text`).
    BadName,
    /// The address is not `ip:port` / `[ipv6]:port`.
    BadAddress,
    /// The book holds no more contacts.
    BookFull,
}

impl fmt::Display for ContactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContactError::MissingEquals => "expected NAME=ADDR",
            ContactError::BadName => {
                "bad contact name (1 to 32 bytes, no ':' or spaces, not starting with '/')"
            }
            ContactError::BadAddress => "bad address (expected IP:PORT)",
            ContactError::BookFull => "too many contacts",
        })
    }
}

impl core::error::Error for ContactError {}

/// Parses `NAME=ADDR` (surrounding whitespace ignored).
pub fn parse_contact(s: &str) -> Result<(Name, SocketAddr), ContactError> {
    let (name, addr) = s.split_once('=').ok_or(ContactError::MissingEquals)?;
    let name = name.trim();
    let bad = name.is_empty()
        || name.starts_with('/')
        || name.contains(|c: char| c == ':' || c.is_whitespace());
    if bad {
        return Err(ContactError::BadName);
    }
    let name = Name::try_from(name).map_err(|_| ContactError::BadName)?;
    let addr = addr.trim().parse().map_err(|_| ContactError::BadAddress)?;
    Ok((name, addr))
}

/// What the driver must do for one typed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<'a> {
    /// Nothing (an empty line or message).
    Nothing,
    /// Exit.
    Quit,
    /// List the book ([`Talk::contacts`]).
    ListContacts,
    /// Plain lines now go to `dest`.
    Chosen(SocketAddr),
    /// Send `text` as one datagram to `dest`.
    Send {
        /// Recipient.
        dest: SocketAddr,
        /// The message (trimmed, at most [`MAX_UDP_PAYLOAD`] bytes).
        text: &'a str,
    },
    /// Not sent; tell the user why.
    Refused(Refusal<'a>),
}

/// Why a typed line was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal<'a> {
    /// `NAME: text` with a NAME that is no contact.
    UnknownContact(&'a str),
    /// `/to X` where X is neither a contact nor an address.
    UnknownTarget(&'a str),
    /// A plain line with nobody chosen, several contacts and no sender yet.
    NoRecipient,
    /// Longer than a UDP datagram can carry.
    TooLong,
}

impl fmt::Display for Refusal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::UnknownContact(n) => {
                write!(f, "unknown contact {n:?}: not sent (contacts: /contacts)")
            }
            Refusal::UnknownTarget(n) => write!(f, "unknown contact {n:?}"),
            Refusal::NoRecipient => {
                f.write_str("no recipient: use `NAME: text` or `/to NAME` first")
            }
            Refusal::TooLong => write!(f, "message longer than {MAX_UDP_PAYLOAD} bytes not sent"),
        }
    }
}

/// Who a received datagram is from, as it is shown: `[NAME]` or
/// `[ip:port]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    name: Option<&'a str>,
    addr: SocketAddr,
}

impl<'a> Origin<'a> {
    /// The contact's name, if the address is in the book.
    pub fn name(&self) -> Option<&'a str> {
        self.name
    }
}

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.addr),
        }
    }
}

/// The messenger's state: a book of up to `N` contacts, the chosen
/// recipient and the last sender.
#[derive(Debug, Clone, Default)]
pub struct Talk<const N: usize> {
    book: Vec<(Name, SocketAddr), N>,
    chosen: Option<SocketAddr>,
    last_sender: Option<SocketAddr>,
}

impl<const N: usize> Talk<N> {
    /// An empty book, nobody chosen.
    pub fn new() -> Self {
        Talk {
            book: Vec::new(),
            chosen: None,
            last_sender: None,
        }
    }

    /// Adds a `NAME=ADDR` contact. A later entry with the same name
    /// replaces the address; the first name given for an address is the one
    /// shown for its datagrams.
    pub fn add_contact(&mut self, spec: &str) -> Result<(), ContactError> {
        let (name, addr) = parse_contact(spec)?;
        match self.book.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = addr,
            None => self
                .book
                .push((name, addr))
                .map_err(|_| ContactError::BookFull)?,
        }
        Ok(())
    }

    /// The book, sorted by name.
    pub fn contacts(&self) -> impl Iterator<Item = (&str, SocketAddr)> {
        let mut sorted: Vec<(&str, SocketAddr), N> = Vec::new();
        for (n, a) in &self.book {
            // Cannot overflow: same capacity as the book.
            let _ = sorted.push((n.as_str(), *a));
        }
        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
        sorted.into_iter()
    }

    /// A datagram arrived from `from`: remember it (plain lines may answer
    /// it) and say how to show its sender.
    pub fn handle_datagram(&mut self, from: SocketAddr) -> Origin<'_> {
        self.last_sender = Some(from);
        let name = self
            .book
            .iter()
            .find(|(_, a)| *a == from)
            .map(|(n, _)| n.as_str());
        Origin { name, addr: from }
    }

    /// One typed line (without its newline).
    pub fn handle_line<'a>(&mut self, line: &'a str) -> Action<'a> {
        let line = line.trim();
        match line {
            "" => return Action::Nothing,
            "quit" | "/quit" => return Action::Quit,
            "/contacts" => return Action::ListContacts,
            _ => {}
        }
        if let Some(target) = line.strip_prefix("/to ") {
            let target = target.trim();
            return match self.resolve(target) {
                Some(addr) => {
                    self.chosen = Some(addr);
                    Action::Chosen(addr)
                }
                None => Action::Refused(Refusal::UnknownTarget(target)),
            };
        }
        if let Some((name, text)) = line.split_once(':') {
            let name = name.trim();
            if let Some(dest) = self.by_name(name) {
                return send(dest, text.trim());
            }
            // One word before the colon reads as an address: sending it,
            // prefix included, to someone else would leak it to the wrong
            // person. Prose (`it is 10:30`) has spaces before its colon.
            if !name.is_empty() && !name.contains(char::is_whitespace) {
                return Action::Refused(Refusal::UnknownContact(name));
            }
        }
        match self.chosen.or(self.only()).or(self.last_sender) {
            Some(dest) => send(dest, line),
            None => Action::Refused(Refusal::NoRecipient),
        }
    }

    fn by_name(&self, name: &str) -> Option<SocketAddr> {
        self.book.iter().find(|(n, _)| n == name).map(|(_, a)| *a)
    }

    fn resolve(&self, target: &str) -> Option<SocketAddr> {
        self.by_name(target).or_else(|| target.parse().ok())
    }

    /// The single contact of a one-entry book: the default recipient.
    fn only(&self) -> Option<SocketAddr> {
        match self.book.as_slice() {
            [(_, a)] => Some(*a),
            _ => None,
        }
    }
}

fn send(dest: SocketAddr, text: &str) -> Action<'_> {
    match text {
        "" => Action::Nothing,
        t if t.len() > MAX_UDP_PAYLOAD => Action::Refused(Refusal::TooLong),
        text => Action::Send { dest, text },
    }
}

#[cfg(test)]
mod tests;
