//! The talk session without sockets: lines and senders in, actions out.

use super::*;
extern crate std;
use proptest::prelude::*;
use std::string::ToString;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn talk(contacts: &[&str]) -> Talk<8> {
    let mut t = Talk::new();
    for c in contacts {
        t.add_contact(c).unwrap();
    }
    t
}

#[test]
fn lines_to_named_and_unknown_contacts() {
    let mut t = talk(&["jkey=127.0.0.1:8081", "liu=127.0.0.1:8081", "song=[::1]:9"]);
    let a = addr("127.0.0.1:8081");
    assert_eq!(t.handle_line("  "), Action::Nothing);
    assert_eq!(t.handle_line("quit"), Action::Quit);
    assert_eq!(t.handle_line("/contacts"), Action::ListContacts);
    assert_eq!(
        t.handle_line("jkey: hi: there "),
        Action::Send {
            dest: a,
            text: "hi: there"
        }
    );
    // One word before a colon that is no contact: refused, never sent.
    assert_eq!(
        t.handle_line("bob: hi"),
        Action::Refused(Refusal::UnknownContact("bob"))
    );
    assert_eq!(t.handle_line("song:"), Action::Nothing);
    // Several contacts, nobody chosen, nobody wrote yet: no recipient.
    assert_eq!(
        t.handle_line("it is 10:30"),
        Action::Refused(Refusal::NoRecipient)
    );
}

#[test]
fn plain_lines_go_to_the_chosen_then_the_only_then_the_last_sender() {
    let stranger = addr("10.0.0.7:5000");
    let mut none = talk(&[]);
    assert_eq!(
        none.handle_line("hi"),
        Action::Refused(Refusal::NoRecipient)
    );
    assert_eq!(none.handle_datagram(stranger).to_string(), "10.0.0.7:5000");
    assert_eq!(
        none.handle_line("hi"),
        Action::Send {
            dest: stranger,
            text: "hi"
        }
    );

    let mut one = talk(&["bob=127.0.0.1:7"]);
    one.handle_datagram(stranger);
    assert_eq!(
        one.handle_line("prose, it is 10:30"),
        Action::Send {
            dest: addr("127.0.0.1:7"),
            text: "prose, it is 10:30"
        }
    );
    assert_eq!(
        one.handle_line("/to 10.0.0.7:5000"),
        Action::Chosen(stranger)
    );
    assert_eq!(
        one.handle_line("x"),
        Action::Send {
            dest: stranger,
            text: "x"
        }
    );
    assert_eq!(
        one.handle_line("/to nobody"),
        Action::Refused(Refusal::UnknownTarget("nobody"))
    );
}

#[test]
fn senders_show_by_their_first_name() {
    let mut t = talk(&["jkey=127.0.0.1:8081", "liu=127.0.0.1:8081"]);
    assert_eq!(
        t.handle_datagram(addr("127.0.0.1:8081")).name(),
        Some("jkey")
    );
    assert_eq!(t.handle_datagram(addr("127.0.0.1:1")).name(), None);
    let names: std::vec::Vec<_> = t.contacts().map(|(n, _)| n).collect();
    assert_eq!(names, ["jkey", "liu"]);
}

#[test]
fn contacts_are_checked() {
    assert_eq!(parse_contact("x"), Err(ContactError::MissingEquals));
    assert_eq!(parse_contact("a:b=127.0.0.1:1"), Err(ContactError::BadName));
    assert_eq!(parse_contact("/a=127.0.0.1:1"), Err(ContactError::BadName));
    assert_eq!(parse_contact("a b=127.0.0.1:1"), Err(ContactError::BadName));
    assert_eq!(
        parse_contact(&"n".repeat(33)),
        Err(ContactError::MissingEquals)
    );
    let long = std::format!("{}=127.0.0.1:1", "n".repeat(33));
    assert_eq!(parse_contact(&long), Err(ContactError::BadName));
    assert_eq!(parse_contact("a=nowhere"), Err(ContactError::BadAddress));
    let mut t: Talk<1> = Talk::new();
    t.add_contact("a=127.0.0.1:1").unwrap();
    t.add_contact("a=127.0.0.1:2").unwrap();
    assert_eq!(t.add_contact("b=127.0.0.1:3"), Err(ContactError::BookFull));
    assert_eq!(
        t.handle_line("a: x"),
        Action::Send {
            dest: addr("127.0.0.1:2"),
            text: "x"
        }
    );
}

#[test]
fn a_message_too_long_for_a_datagram_is_refused() {
    let mut t = talk(&["bob=127.0.0.1:7"]);
    let long = "x".repeat(MAX_UDP_PAYLOAD + 1);
    assert_eq!(t.handle_line(&long), Action::Refused(Refusal::TooLong));
    let fits = "x".repeat(MAX_UDP_PAYLOAD);
    assert!(matches!(t.handle_line(&fits), Action::Send { .. }));
}

proptest! {
    /// Any line: no panic, and whatever is sent is a trimmed, non-empty
    /// part of the line that fits a datagram.
    #[test]
    fn any_line_is_handled(line in "\\PC{0,80}", from in any::<u16>()) {
        let mut t = talk(&["bob=127.0.0.1:7", "ann=127.0.0.1:8"]);
        t.handle_datagram(addr(&std::format!("127.0.0.9:{from}")));
        if let Action::Send { text, .. } = t.handle_line(&line) {
            prop_assert!(!text.is_empty());
            prop_assert_eq!(text, text.trim());
            prop_assert!(line.contains(text));
        }
    }

    /// `NAME: text` reaches exactly that contact, whatever the text.
    #[test]
    fn named_lines_reach_the_named(text in "[^\\s][^\\n]{0,40}") {
        let mut t = talk(&["bob=127.0.0.1:7", "ann=127.0.0.1:8"]);
        let line = std::format!("ann: {text}");
        match t.handle_line(&line) {
            Action::Send { dest, .. } => prop_assert_eq!(dest, addr("127.0.0.1:8")),
            Action::Nothing => prop_assert!(text.trim().is_empty()),
            other => prop_assert!(false, "{:?}", other),
        }
    }
}
