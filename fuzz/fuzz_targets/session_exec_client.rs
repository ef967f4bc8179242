//! Random server bytes into the exec client session, for every framing:
//! no panic, and the same events (output joined) however the bytes are
//! cut (first byte: framing, chunk size). Seed 004's size text is one
//! read by design, so its framing is checked for panics only.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::session::exec::{ClientEvent, ExecClient, Framing};

type C = ExecClient<4096>;

/// The events, as text, with consecutive outputs of a stream joined.
fn run(framing: Framing, input: &[u8], chunk: usize) -> Vec<String> {
    let mut c = C::new(framing);
    let mut events: Vec<String> = Vec::new();
    let mut out: Vec<u8> = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    let mut commands = 0;
    for read in input.chunks(chunk) {
        pending.extend_from_slice(read);
        loop {
            while c.poll_output(&mut buf) > 0 {}
            if c.is_idle() && commands < 4 {
                commands += 1;
                c.send_command(b"ls").unwrap();
            }
            let (used, ev) = match c.handle_input(&pending) {
                Ok(r) => r,
                Err(e) => {
                    events.push(format!("error {e}"));
                    return events;
                }
            };
            let more = used > 0 || ev.is_some();
            let challenged = ev == Some(ClientEvent::Challenge);
            match ev {
                Some(ClientEvent::Output(s, b)) => {
                    let name = format!("{s:?}");
                    if events.last() != Some(&name) {
                        events.push(name);
                    }
                    out.extend_from_slice(b);
                }
                Some(e) => events.push(format!("{e:?}")),
                None => {}
            }
            pending.drain(..used);
            if challenged {
                c.authenticate(b"0123456789abcdef", b"").unwrap();
            }
            if !more {
                break;
            }
        }
    }
    events.push(format!("{:?} {:?}", out, c.handle_eof()));
    events
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let framing = [Framing::Native, Framing::Json, Framing::Len, Framing::Ack][usize::from(first & 3)];
    let chunk = usize::from(first >> 2) + 1;
    let split = run(framing, input, chunk);
    if framing != Framing::Ack {
        assert_eq!(split, run(framing, input, input.len().max(1)));
    }
});
