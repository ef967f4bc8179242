//! Unit and property tests of the exec dialect detection, command rules
//! and native messages.

use super::*;
use proptest::prelude::*;

#[test]
fn detects_native_frames_and_command_text() {
    let mut frame = [0u8; 64];
    let n = crate::wire::emit_frame_header(&native::ClientMsg::Hello.header(), &mut frame).unwrap();
    assert_eq!(detect(&frame[..n]), Dialect::Native);
    assert_eq!(
        detect(&frame[..3]),
        Dialect::Native,
        "a cut prefix still has a NUL"
    );
    for text in [&b"ls"[..], b"l", b"dir /w", "ls 你好".as_bytes(), b""] {
        assert_eq!(detect(text), Dialect::Text, "{text:?}");
    }
}

#[test]
fn commands_are_checked() {
    assert_eq!(check_command(b"ls -l", 10), Ok(()));
    assert_eq!(check_command(b" \n", 10), Err(CommandError::Empty));
    assert_eq!(check_command(b"a\0b", 10), Err(CommandError::Nul));
    assert_eq!(
        check_command(&[b'a'; 11], 10),
        Err(CommandError::TooLong { len: 11, limit: 10 })
    );
    assert_eq!(check_command(b"\xff\xfe", 10), Ok(()), "any encoding");
}

#[test]
fn cap_cuts_and_stays_cut() {
    let mut c = OutputCap::new(10);
    assert_eq!(c.admit(4), 4);
    assert!(!c.truncated());
    assert_eq!(c.admit(6), 6);
    assert!(!c.truncated(), "exactly at the cap is not truncated");
    assert_eq!(c.admit(1), 0);
    assert!(c.truncated());
    let mut c = OutputCap::new(10);
    assert_eq!(c.admit(15), 10);
    assert_eq!((c.used(), c.truncated()), (10, true));
}

#[test]
fn endings_give_codes_and_markers() {
    assert_eq!(Ending::Exited(3).exit_code(), 3);
    assert_eq!(Ending::Signaled(15).exit_code(), 143);
    assert_eq!(Ending::TimedOut { secs: 2 }.exit_code(), EXIT_TIMEOUT);
    assert_eq!(Ending::Exited(0).marker(), None);
    let m = Ending::TimedOut { secs: 2 }.marker().unwrap();
    assert!(m.contains("timed out after 2 s"), "{m}");
    let m = Ending::Capped { cap: u64::MAX }.marker().unwrap();
    assert!(m.contains("truncated at 18446744073709551615 bytes"), "{m}");
}

#[test]
fn seed_reply_header_is_what_the_seed_clients_read() {
    let h = seed_reply_header(3, Digest::of(b"hi\n"), 0, false, None);
    let mut buf = [0u8; 256];
    let n = h.emit(&mut buf).unwrap();
    assert_eq!(
        &buf[..n],
        &br#"{"total_size":3,"md5":"764efa883dda1e11db47671c4a3bbd9e","exit_code":0}"#[..]
    );
    let h = seed_reply_header(0, Digest::of(b""), 124, true, Some("x"));
    assert_eq!((h.truncated, h.error.as_deref()), (Some(true), Some("x")));
}

proptest! {
    #[test]
    fn cap_never_exceeds(cap in 0u64..5000, chunks in prop::collection::vec(0usize..2000, 0..20)) {
        let mut c = OutputCap::new(cap);
        let mut kept = 0u64;
        let mut offered = 0u64;
        for n in chunks {
            let k = c.admit(n);
            prop_assert!(k <= n);
            kept += k as u64;
            offered += n as u64;
        }
        prop_assert!(kept <= cap);
        prop_assert_eq!(kept, offered.min(cap));
        prop_assert_eq!(c.truncated(), offered > cap);
    }

    #[test]
    fn text_without_nul_is_never_native(text in prop::collection::vec(1u8..=255, 0..64)) {
        prop_assert_eq!(detect(&text), Dialect::Text);
    }
}
