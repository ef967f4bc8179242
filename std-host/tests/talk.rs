//! `wirekit talk` (issue 6), the seed 002 UDP "QQ" chat as a two-way REPL,
//! against the seed's own Python UDP chat server and client.

wirekit_testkit::kit!();

mod common;

use common::proc::Proc;
use kit::{python, wirekit};

/// The port from a `listening talk udp ADDR` or `listening PORT` line.
fn port_of(text: &str) -> u16 {
    let line = text
        .lines()
        .find(|l| l.starts_with("listening"))
        .expect("listening line");
    let last = line.rsplit(' ').next().unwrap();
    last.rsplit(':').next().unwrap().parse().expect("port")
}

/// How the seed prints a received message.
fn seed_shows(port: u16, text: &str) -> String {
    format!("来自[127.0.0.1:{port}]的一条消息:\x1b[1;44m{text}\x1b[0m")
}

#[test]
fn talk_with_the_seed_udp_server() {
    let mut server = Proc::spawn(
        "seed qq server",
        python("seed002_qq_server.py", &["127.0.0.1", "0"]),
    );
    server.wait_out("listening ");
    let sport = port_of(&server.out_text);
    let contact = format!("srv=127.0.0.1:{sport}");
    let mut talk = Proc::spawn(
        "wirekit talk",
        wirekit(&["talk", "--listen", "127.0.0.1:0", "--contact", &contact]),
    );
    talk.wait_out("listening talk udp 127.0.0.1:");
    let tport = port_of(&talk.out_text);
    talk.send("srv: hello seed server\n");
    server.wait_out(&seed_shows(tport, "hello seed server"));
    // The seed server answers the sender with its next stdin line.
    server.send("hi wirekit\n");
    talk.wait_out("[srv] hi wirekit\n");
    // A chosen contact takes plain lines.
    talk.send("/to srv\n   second one  \n");
    server.wait_out(&seed_shows(tport, "second one"));
    server.send("got it\n");
    talk.wait_out("[srv] got it\n");
    talk.send("quit\n");
    assert!(talk.wait_exit().success());
    server.close_stdin();
}

#[test]
fn talk_with_the_seed_udp_client() {
    let mut talk = Proc::spawn(
        "wirekit talk",
        wirekit(&["talk", "--listen", "127.0.0.1:0"]),
    );
    talk.wait_out("listening talk udp 127.0.0.1:");
    let tport = port_of(&talk.out_text);
    let book = format!("wk=127.0.0.1:{tport}");
    let mut client = Proc::spawn("seed qq client", python("seed002_qq_client.py", &[&book]));
    // Choose contact "wk", then a message; the seed waits for one reply.
    client.send("wk\nhello talk\n");
    talk.wait_out(" hello talk\n");
    let line = talk
        .out_text
        .lines()
        .find(|l| l.ends_with(" hello talk"))
        .unwrap()
        .to_owned();
    assert!(line.starts_with("[127.0.0.1:"), "{line}");
    // A plain line answers the last sender, as the seed's server did.
    talk.send("reply from talk\n");
    client.wait_out(&seed_shows(tport, "reply from talk"));
    // Both ways again, and the seed's "quit" back to choosing a contact.
    client.send("again\n");
    talk.wait_out(" again\n");
    talk.send("ok\n");
    client.wait_out(&seed_shows(tport, "ok"));
    client.send("quit\n");
    client.close_stdin();
    assert!(client.wait_exit().success());
    talk.close_stdin();
    assert!(talk.wait_exit().success());
}

#[test]
fn talk_without_a_recipient_says_so() {
    let mut talk = Proc::spawn("wirekit talk", wirekit(&["talk"]));
    talk.wait_out("listening talk udp 127.0.0.1:");
    talk.send("nobody to send to\n/to ghost\n");
    talk.wait_err("no recipient");
    talk.wait_err("unknown contact \"ghost\"");
    talk.close_stdin();
    assert!(talk.wait_exit().success());
}
