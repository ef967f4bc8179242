//! Random bytes into the chat decoder: no panic, the same events for any
//! split of the input, and every said line fits the seed frame
//! (`write_message` into a `MAX_MESSAGE` buffer never overflows) with the
//! line intact between the header and the closing "\n\n".
#![no_main]

use core::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use wirekit_core::service::chat::{
    write_message, ChatDecoder, ChatEvent, Input, Sender, MAX_MESSAGE,
};
use wirekit_core::strftime::Tm;

fn events(dec: &mut ChatDecoder, chunks: &[&[u8]]) -> Vec<String> {
    let tm = Tm::from_unix(1_700_000_000, 0, "UTC");
    let peer = SocketAddr::from(([0xffffu16; 8], 65535));
    let mut out = Vec::new();
    let max = dec.max_line();
    for chunk in chunks {
        let mut input = *chunk;
        loop {
            let (used, ev) = dec.decode(input);
            input = &input[used..];
            match ev {
                None => break,
                Some(ChatEvent::Input(Input::Say(line))) => {
                    assert!(line.len() <= max);
                    let mut buf = [0u8; MAX_MESSAGE];
                    let n = write_message(&mut buf, &tm, Sender::Peer(peer), line)
                        .expect("a said line always fits MAX_MESSAGE");
                    assert!(buf[..n].ends_with(b"\n\n"));
                    assert_eq!(&buf[n - 2 - line.len()..n - 2], line);
                    out.push(format!("say {line:?}"));
                }
                Some(ev) => out.push(format!("{ev:?}")),
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let max = usize::from(first) * 5;
    let whole = events(&mut ChatDecoder::new(max), &[rest]);
    let chunks: Vec<&[u8]> = rest.chunks(usize::from(first % 13) + 1).collect();
    let mut split = ChatDecoder::new(max);
    assert_eq!(events(&mut split, &chunks), whole);
    let _ = split.finish();
});
