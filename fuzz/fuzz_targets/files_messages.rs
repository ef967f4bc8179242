//! Random bytes through the files service's parsers: dialect detection,
//! name checks, the seed 000/002/004 request parsers, the seed 002 command
//! boundary, and the two streaming decoders (seed 002 upload, native
//! transfer) fed in random read sizes. No panic, no read past the input, no
//! more data out than in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::service::file::native::{Transfer, TransferEvent};
use wirekit_core::service::file::seed002::{Upload, UploadEvent};
use wirekit_core::service::file::{dialect, name, seed000, seed002, seed004};

/// Splits `data` into reads whose sizes come from the data itself.
fn reads(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let take = usize::from(n).min(tail.len());
        out.push(&tail[..take]);
        rest = &tail[take..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let _ = dialect::detect(data, false);
    let _ = dialect::detect(data, true);
    if let Ok(s) = core::str::from_utf8(data) {
        let _ = name::check(s, false);
        let _ = name::base_name(s);
    }
    let _ = seed000::request_name(data);
    let _ = seed002::parse_command(data);
    assert!(seed002::command_len(data) <= data.len());
    let _ = seed004::parse_command(data);
    let _ = seed004::parse_size(data);

    let mut up = Upload::new(1 << 20);
    let mut got = 0usize;
    'up: for mut read in reads(data) {
        loop {
            match up.decode(read) {
                Ok((used, ev)) => {
                    assert!(used <= read.len());
                    read = &read[used..];
                    match ev {
                        Some(UploadEvent::Data(b)) => got += b.len(),
                        Some(UploadEvent::Done) => break 'up,
                        Some(_) => {}
                        None => break,
                    }
                }
                Err(_) => break 'up,
            }
        }
    }
    assert!(got <= data.len());

    let mut t = Transfer::new("get", 1 << 20);
    'tr: for mut read in reads(data) {
        loop {
            match t.decode(read) {
                Ok((used, ev)) => {
                    assert!(used <= read.len());
                    read = &read[used..];
                    match ev {
                        Some(TransferEvent::End(_) | TransferEvent::Refused(_)) => break 'tr,
                        Some(_) => {}
                        None => break,
                    }
                }
                Err(_) => break 'tr,
            }
        }
    }
});
