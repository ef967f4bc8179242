//! Seed 004: size text, the acknowledgement, bytes, md5; `error: why`.

use proptest::prelude::*;

use super::*;

fn serve(store: &mut Disk, messages: &[&[u8]], out: usize) -> Seen {
    let mut s = Seed004Server::new(0, 60_000);
    drive(&mut s, store, messages, out, &mut quiet())
}

fn exchange(data: &[u8]) -> Vec<u8> {
    let mut v = data.len().to_string().into_bytes();
    v.extend_from_slice(data);
    v.extend_from_slice(&Digest::of(data).to_hex());
    v
}

#[test]
fn the_exchange_in_order_twice() {
    let mut store = Disk::new();
    let msgs: [&[u8]; 4] = [b"get a.txt", b"ready to recv file", b"get  empty\n", b"ok"];
    let seen = serve(&mut store, &msgs, 4096);
    let mut want = exchange(b"hello seeds\n");
    want.extend(exchange(b""));
    assert_eq!(seen.sent, want);
    assert_eq!(store.done, [(0, 12), (2, 0)]);
}

#[test]
fn nothing_moves_before_the_acknowledgement() {
    let mut store = Disk::new();
    let mut s = Seed004Server::<usize>::new(0, 60_000);
    let mut buf = [0u8; 64];
    s.handle_input(0, b"get a.txt");
    assert_eq!(s.poll_output(0, &mut store, &mut buf), Ok(2));
    assert_eq!(s.poll_output(0, &mut store, &mut buf), Ok(0));
    assert!(!s.is_replying(), "the driver reads the acknowledgement");
    // The client leaves instead: nothing more is sent.
    assert_eq!(s.handle_eof(), Ok(()));
    assert_eq!(s.poll_output(0, &mut store, &mut buf), Ok(0));
    assert!(s.wants_close());
}

#[test]
fn refusals_say_why_and_the_session_goes_on() {
    let mut store = Disk::new();
    let msgs: [&[u8]; 6] = [
        b"get nope",
        b"put a.txt",
        b"\xff",
        b"get ../x",
        b"get a.txt",
        b"ack",
    ];
    let seen = serve(&mut store, &msgs, 4096);
    let mut want = b"error: nope: no such file".to_vec();
    want.extend(b"error: expected 'get NAME'");
    want.extend(b"error: command is not UTF-8");
    want.extend(b"error: ../x: '..' is not allowed in file names");
    want.extend(exchange(b"hello seeds\n"));
    assert_eq!(
        String::from_utf8_lossy(&seen.sent),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(store.refused.len(), 4);
}

#[test]
fn a_busy_store_is_said_so() {
    let mut store = Disk::new();
    store.busy = true;
    let seen = serve(&mut store, &[b"get a.txt"], 4096);
    assert_eq!(seen.sent, b"error: a.txt: server busy");
}

#[test]
fn shutdown_says_goodbye_after_the_get_under_way() {
    let mut store = Disk::new();
    let mut s = Seed004Server::<usize>::new(0, 60_000);
    let mut buf = [0u8; 256];
    s.handle_shutdown();
    let n = s.poll_output(0, &mut store, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"error: server is shutting down");
    assert!(s.wants_close());

    let mut s = Seed004Server::<usize>::new(0, 60_000);
    s.handle_input(0, b"get a.txt");
    assert_eq!(s.poll_output(0, &mut store, &mut buf), Ok(2));
    s.handle_shutdown();
    assert!(!s.wants_close(), "the get goes on");
    s.handle_input(0, b"ready");
    let mut sent = Vec::new();
    while let n @ 1.. = s.poll_output(0, &mut store, &mut buf).unwrap() {
        sent.extend_from_slice(&buf[..n]);
    }
    let mut want = exchange(b"hello seeds\n")[2..].to_vec();
    want.extend(b"error: server is shutting down");
    assert_eq!(sent, want);
    assert!(s.wants_close());
}

#[test]
fn a_long_name_is_refused_whole_with_enough_room() {
    let mut store = Disk::new();
    let mut cmd = b"get ".to_vec();
    cmd.extend([b'n'; 1000]);
    let seen = serve(&mut store, &[&cmd], MIN_OUTPUT);
    let text = String::from_utf8(seen.sent).unwrap();
    assert!(text.ends_with(": file name too long"), "{text}");
    // A buffer too small waits for a larger one rather than cut it.
    let mut s = Seed004Server::<usize>::new(0, 60_000);
    s.handle_input(0, &cmd);
    let mut small = [0u8; 200];
    assert_eq!(s.poll_output(0, &mut store, &mut small), Ok(0));
}

proptest! {
    #[test]
    fn any_output_buffer_gives_the_same_bytes(out in 32usize..3000, step in 1usize..70_000) {
        let msgs: [&[u8]; 4] = [b"get big.bin", b"ok", b"get nope", b"get a.txt"];
        let whole = serve(&mut Disk::new(), &msgs, 1 << 20);
        let mut store = Disk::new();
        store.step = step;
        let split = serve(&mut store, &msgs, out);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn random_messages_never_panic(msgs in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 0..1500), 0..6), out in MIN_OUTPUT..MIN_OUTPUT + 600) {
        let msgs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
        let seen = serve(&mut Disk::new(), &msgs, out);
        prop_assert!(seen.err.is_none());
    }
}
