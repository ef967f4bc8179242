use super::*;
extern crate std;
use crate::codec::frame::{Event, FrameDecoder, Limits};
use crate::service::exec::auth::{nonce_hex, proof_in, verify_in, NONCE_LEN};
use crate::service::file::native::{parse_request, Request, RequestError, HEADER_CAP};
use crate::wire::emit_frame_header;
use proptest::prelude::*;
use std::vec::Vec;

const TOKEN: &[u8] = b"correct horse battery staple";

fn policy(token: bool, writable: bool, loopback: bool) -> Policy {
    Policy {
        token,
        writable,
        loopback,
    }
}

#[test]
fn the_table_of_the_module_doc() {
    let yes = Uploader::Native {
        authenticated: true,
    };
    let no = Uploader::Native {
        authenticated: false,
    };
    for (w, l) in [(false, false), (false, true), (true, false), (true, true)] {
        let p = policy(true, w, l);
        assert_eq!(may_upload(p, yes), Ok(()));
        assert_eq!(may_upload(p, no), Err(Refusal::TokenRequired));
        assert_eq!(
            may_upload(p, Uploader::Seed),
            Err(Refusal::SeedCannotAuthenticate)
        );
    }
    for who in [yes, no, Uploader::Seed] {
        assert_eq!(may_upload(policy(false, false, true), who), Ok(()));
        assert_eq!(may_upload(policy(false, true, false), who), Ok(()));
        assert_eq!(
            may_upload(policy(false, false, false), who),
            Err(Refusal::ReadOnly)
        );
    }
}

#[test]
fn refusals_fit_an_error_field_whole() {
    for r in [
        Refusal::TokenRequired,
        Refusal::SeedCannotAuthenticate,
        Refusal::ReadOnly,
    ] {
        let text = std::format!("{r}");
        assert!(text.len() <= crate::wire::TEXT_CAP, "{text}");
        let h = super::super::native::error_reply("put", &text);
        assert_eq!(h.error, Some(text.as_str()));
    }
}

fn decode_one(bytes: &[u8]) -> Header {
    let mut d: FrameDecoder<HEADER_CAP> = FrameDecoder::with_limits(Limits::default());
    let (_, ev) = d.decode(bytes).unwrap();
    match ev {
        Some(Event::Header(h)) => h.clone(),
        other => panic!("{other:?}"),
    }
}

fn wire<'a>(h: impl Into<Fields<'a>>) -> Vec<u8> {
    let mut buf = [0u8; HEADER_CAP];
    let n = emit_frame_header(h, &mut buf).unwrap();
    buf[..n].to_vec()
}

#[test]
fn a_whole_exchange_over_the_wire() {
    let req = decode_one(&wire(&challenge_request()));
    assert_eq!(parse_request(&req), Ok(Request::Challenge));
    let nonce = nonce_hex(&[0x5a; NONCE_LEN]);
    let nonce = core::str::from_utf8(&nonce).unwrap();
    let reply = decode_one(&wire(challenge_reply(nonce)));
    let n = parse_challenge(&reply).unwrap();
    assert_eq!(n, nonce);
    let binding = [9u8; 32];
    let p = proof_in(DOMAIN, TOKEN, n, &binding);
    let p = core::str::from_utf8(&p).unwrap();
    let auth = decode_one(&wire(&auth_request(p)));
    let Ok(Request::Auth { proof }) = parse_request(&auth) else {
        panic!("{auth:?}");
    };
    assert!(verify_in(DOMAIN, TOKEN, nonce, &binding, proof));
    assert!(!verify_in(DOMAIN, TOKEN, nonce, &[8u8; 32], proof));
    assert_eq!(parse_auth_reply(&decode_one(&wire(auth_ok()))), Ok(()));
}

#[test]
fn bad_answers_are_named() {
    let refused = super::super::native::error_reply("challenge", "no token here");
    assert_eq!(
        parse_challenge(&refused.to_header()),
        Err(ReplyError::Refused("no token here"))
    );
    assert_eq!(
        parse_challenge(&challenge_reply("abc").to_header()),
        Err(ReplyError::BadNonce)
    );
    assert_eq!(
        parse_challenge(&auth_ok().to_header()),
        Err(ReplyError::UnexpectedOp)
    );
    assert_eq!(
        parse_auth_reply(&challenge_request()),
        Err(ReplyError::UnexpectedOp)
    );
    let bare = Header::with_op("auth");
    assert_eq!(parse_request(&bare), Err(RequestError::NoProof));
}

proptest! {
    /// Any header bytes: the exchange's parsers answer, never panic, and
    /// a proof checked against random text never verifies.
    #[test]
    fn random_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300),
                                 step in 1usize..40) {
        let mut d: FrameDecoder<HEADER_CAP> = FrameDecoder::with_limits(Limits::default());
        for chunk in bytes.chunks(step) {
            let mut input = chunk;
            while let Ok((used, ev)) = d.decode(input) {
                input = &input[used..];
                let Some(ev) = ev else { break };
                if let Event::Header(h) = ev {
                    let _ = parse_challenge(h);
                    let _ = parse_auth_reply(h);
                    if let Ok(Request::Auth { proof }) = parse_request(h) {
                        prop_assert!(!verify_in(DOMAIN, TOKEN, "00", b"", proof));
                    }
                }
            }
        }
    }

    /// However the reply is cut into reads, the client gets the same nonce.
    #[test]
    fn any_chunking_gives_the_same_nonce(seed in any::<[u8; NONCE_LEN]>(), step in 1usize..64) {
        let nonce = nonce_hex(&seed);
        let nonce = core::str::from_utf8(&nonce).unwrap();
        let bytes = wire(challenge_reply(nonce));
        let mut d: FrameDecoder<HEADER_CAP> = FrameDecoder::with_limits(Limits::default());
        let mut got = None;
        for chunk in bytes.chunks(step) {
            let mut input = chunk;
            while !input.is_empty() {
                let (used, ev) = d.decode(input).unwrap();
                input = &input[used..];
                if let Some(Event::Header(h)) = ev {
                    got = Some(std::string::String::from(parse_challenge(h).unwrap()));
                }
            }
        }
        prop_assert_eq!(got.as_deref(), Some(nonce));
    }

    /// A proof verifies for exactly its own token, nonce and binding.
    #[test]
    fn proofs_are_bound(tok in proptest::collection::vec(any::<u8>(), 16..40),
                        other in proptest::collection::vec(any::<u8>(), 16..40),
                        b1 in any::<[u8; 32]>(), b2 in any::<[u8; 32]>()) {
        let p = proof_in(DOMAIN, &tok, "ab", &b1);
        let p = core::str::from_utf8(&p).unwrap();
        prop_assert!(verify_in(DOMAIN, &tok, "ab", &b1, p));
        prop_assert_eq!(verify_in(DOMAIN, &other, "ab", &b1, p), tok == other);
        prop_assert_eq!(verify_in(DOMAIN, &tok, "ab", &b2, p), b1 == b2);
    }
}
