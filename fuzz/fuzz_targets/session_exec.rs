//! Random bytes into the exec server session, for every listener flavor
//! with and without a token: no panic, no call refused out of order by a
//! driver that follows the session's cues, and for the native dialect the
//! same bytes out for any split of the input (first byte: flavor, token,
//! chunk size).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirekit_core::service::exec::Ending;
use wirekit_core::session::exec::{Config, Event, ExecServer, Flavor, Held, Stream};
use wirekit_core::wire::Digest;

type S<'a> = ExecServer<'a, 2600>;

const TOKEN: &[u8] = b"0123456789abcdef";

fn flush(s: &mut S<'_>, out: &mut Vec<u8>) {
    let mut buf = [0u8; 97];
    loop {
        let n = s.poll_output(&mut buf);
        if n == 0 {
            return;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Runs the session over `input` cut into `chunk`-byte reads.
fn drive(flavor: Flavor, token: bool, input: &[u8], chunk: usize) -> Vec<u8> {
    let mut s = S::new(Config {
        flavor,
        token: token.then_some(TOKEN),
        binding: b"",
        allowed: true,
    });
    let (mut out, mut pending, mut held) = (Vec::new(), Vec::new(), Vec::new());
    for read in input.chunks(chunk).map(Some).chain([None]) {
        match read {
            Some(r) => pending.extend_from_slice(r),
            None => {
                let _ = s.handle_eof();
            }
        }
        loop {
            flush(&mut s, &mut out);
            while s.output_wanted() > 0 {
                let n = s.output_wanted().min(held.len());
                let took = s.handle_child_output(Stream::Stdout, &held[..n]).unwrap();
                assert!(took > 0, "held output stalled");
                held.drain(..took);
                flush(&mut s, &mut out);
            }
            if s.wants_close() {
                return out;
            }
            let (used, ev) = s.handle_input(&pending);
            let cmd = match ev {
                Some(Event::Run { command }) => Some(command.to_vec()),
                _ => None,
            };
            let stop = used == 0 && ev.is_none();
            if ev == Some(Event::NeedChallenge) {
                s.challenge(&[3; 32]).unwrap();
            }
            pending.drain(..used);
            if let Some(cmd) = cmd {
                held = run(&mut s, &cmd, &mut out);
            }
            if stop {
                break;
            }
        }
    }
    out
}

/// A command that prints itself; returns what a seed dialect holds.
fn run(s: &mut S<'_>, cmd: &[u8], out: &mut Vec<u8>) -> Vec<u8> {
    let ending = Ending::Exited(1);
    if s.is_native() {
        let mut data = cmd;
        while !data.is_empty() {
            let n = s.handle_child_output(Stream::Stderr, data).unwrap();
            data = &data[n..];
            flush(s, out);
        }
        s.handle_child_exit(ending, false, Held::NONE).unwrap();
        return Vec::new();
    }
    let held = Held {
        len: cmd.len() as u64,
        md5: Digest::of(cmd),
    };
    s.handle_child_exit(ending, false, held).unwrap();
    cmd.to_vec()
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let flavor = [Flavor::Exec, Flavor::Len, Flavor::Ack, Flavor::Exec][usize::from(first & 3)];
    let token = first & 4 != 0;
    let chunk = usize::from(first >> 3) + 1;
    let split = drive(flavor, token, input, chunk);
    // The native dialect reads frames, so how they were cut cannot
    // matter; the seed dialects take each read as one command.
    if flavor == Flavor::Exec && input.get(..4).is_some_and(|p| p.contains(&0)) && chunk >= 4 {
        assert_eq!(split, drive(flavor, token, input, input.len().max(1)));
    }
});
