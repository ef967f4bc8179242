//! Random bytes through the exec service's parsers: the ack-dialect state
//! machine fed in random read sizes, dialect detection, command checks,
//! size texts, and every header the frame decoder yields parsed as a client
//! and a server message. No panic, no read past the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::codec::frame::{Event, FrameDecoder, Limits};
use wirekit_core::service::exec::ack::{parse_size_text, AckEvent, AckServer};
use wirekit_core::service::exec::native::{ClientMsg, ServerMsg};
use wirekit_core::service::exec::{check_command, detect};

fuzz_target!(|data: &[u8]| {
    let _ = detect(data);
    let _ = check_command(data, 1024);
    let _ = parse_size_text(data, u64::MAX);

    let mut ack = AckServer::new();
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let take = usize::from(n % 32).min(tail.len());
        let mut read = &tail[..take];
        rest = &tail[take..];
        while let Ok((used, Some(ev))) = ack.on_read(read) {
            assert!(used <= read.len());
            read = &read[used..];
            if let AckEvent::Command(c) = ev {
                assert!(ack.output_ready(c.len() as u64).is_ok());
            }
        }
    }

    let limits = Limits { strict_md5: false, max_body: 1 << 16, ..Limits::default() };
    let mut dec: FrameDecoder<1024> = FrameDecoder::with_limits(limits);
    let mut input = data;
    for _ in 0..=(4 * data.len() + 8) {
        match dec.decode(input) {
            Ok((used, ev)) => {
                input = &input[used..];
                match ev {
                    Some(Event::Header(h)) => {
                        let _ = ClientMsg::parse(h, 1 << 16);
                        let _ = ServerMsg::parse(h);
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            Err(_) => break,
        }
    }
});
