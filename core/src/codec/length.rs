//! Incremental decoder for the seeds' first sticky-packet fix: a 4-byte
//! `struct.pack('i', n)` length, then `n` bytes of message. The message is
//! streamed as borrowed slices; only the prefix is buffered.
//!
//! ```
//! use wirekit_core::codec::length::{LengthDecoder, LengthEvent};
//! let mut dec = LengthDecoder::new(1024);
//! let (n, ev) = dec.decode(b"\x02\x00\x00\x00hi").unwrap();
//! assert_eq!((n, ev), (4, Some(LengthEvent::Start { len: 2 })));
//! assert_eq!(dec.decode(b"hi").unwrap(), (2, Some(LengthEvent::Body(b"hi"))));
//! assert_eq!(dec.decode(b"").unwrap(), (0, Some(LengthEvent::End)));
//! ```

use super::prefix::PrefixReader;
use crate::wire::PrefixError;

/// A step of a length-prefixed stream.
#[derive(Debug, PartialEq, Eq)]
pub enum LengthEvent<'a> {
    /// A message of `len` bytes starts.
    Start {
        /// Its length.
        len: u32,
    },
    /// The next part of the message, borrowed from the input.
    Body(&'a [u8]),
    /// The message is complete.
    End,
}

/// Why a length-prefixed stream is invalid. All errors are fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthError {
    /// The prefix is negative or above the limit.
    Prefix(PrefixError),
    /// The stream ended inside a message; `missing` bytes were expected.
    Truncated {
        /// Bytes still expected (prefix or body).
        missing: u64,
    },
}

impl core::fmt::Display for LengthError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Prefix(e) => write!(f, "{e}"),
            Self::Truncated { missing } => {
                write!(f, "stream ended inside a message ({missing} bytes missing)")
            }
        }
    }
}

impl core::error::Error for LengthError {}

#[derive(Debug, Clone, Copy)]
enum State {
    Prefix,
    Body { remaining: u32 },
    Failed(LengthError),
}

/// Incremental decoder for length-prefixed messages.
#[derive(Debug, Clone)]
pub struct LengthDecoder {
    state: State,
    prefix: PrefixReader,
    max_len: u32,
}

impl LengthDecoder {
    /// A decoder refusing messages longer than `max_len` bytes.
    pub fn new(max_len: u32) -> Self {
        LengthDecoder {
            state: State::Prefix,
            prefix: PrefixReader::default(),
            max_len,
        }
    }

    /// Decodes from `input`: bytes consumed and the next event; `None`
    /// means all input was consumed and more is needed.
    pub fn decode<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<LengthEvent<'a>>), LengthError> {
        match self.state {
            State::Failed(e) => Err(e),
            State::Prefix if input.is_empty() => Ok((0, None)),
            State::Prefix => match self.prefix.feed(input, self.max_len) {
                (used, None) => Ok((used, None)),
                (used, Some(Ok(len))) => {
                    self.state = State::Body { remaining: len };
                    Ok((used, Some(LengthEvent::Start { len })))
                }
                (_, Some(Err(e))) => {
                    self.state = State::Failed(LengthError::Prefix(e));
                    Err(LengthError::Prefix(e))
                }
            },
            State::Body { remaining: 0 } => {
                self.state = State::Prefix;
                Ok((0, Some(LengthEvent::End)))
            }
            State::Body { remaining } => {
                let take = (remaining as usize).min(input.len());
                if take == 0 {
                    return Ok((0, None));
                }
                self.state = State::Body {
                    remaining: remaining - take as u32,
                };
                Ok((take, Some(LengthEvent::Body(&input[..take]))))
            }
        }
    }

    /// Checks the stream may end here (between messages).
    pub fn finish(&self) -> Result<(), LengthError> {
        match self.state {
            State::Failed(e) => Err(e),
            State::Prefix if self.prefix.pending() == 0 => Ok(()),
            State::Prefix => Err(LengthError::Truncated {
                missing: 4 - self.prefix.pending() as u64,
            }),
            State::Body { remaining: 0 } => Ok(()),
            State::Body { remaining } => Err(LengthError::Truncated {
                missing: u64::from(remaining),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn run(dec: &mut LengthDecoder, chunks: &[&[u8]]) -> Result<Vec<Vec<u8>>, LengthError> {
        let mut msgs = Vec::new();
        let mut cur: Option<Vec<u8>> = None;
        for chunk in chunks {
            let mut input = *chunk;
            loop {
                let (used, ev) = dec.decode(input)?;
                input = &input[used..];
                match ev {
                    None => break,
                    Some(LengthEvent::Start { len }) => {
                        cur = Some(Vec::with_capacity(len as usize))
                    }
                    Some(LengthEvent::Body(b)) => cur.as_mut().unwrap().extend_from_slice(b),
                    Some(LengthEvent::End) => msgs.push(cur.take().unwrap()),
                }
            }
        }
        Ok(msgs)
    }

    fn encode(msgs: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in msgs {
            out.extend_from_slice(&(m.len() as i32).to_le_bytes());
            out.extend_from_slice(m);
        }
        out
    }

    #[test]
    fn rejects_negative_and_oversized() {
        let mut dec = LengthDecoder::new(10);
        assert_eq!(
            dec.decode(&11u32.to_le_bytes()).err(),
            Some(LengthError::Prefix(PrefixError::TooLarge {
                len: 11,
                limit: 10
            }))
        );
        assert!(dec.decode(b"x").is_err(), "errors are sticky");
        let mut dec = LengthDecoder::new(10);
        assert_eq!(
            dec.decode(&(-1i32).to_le_bytes()).err(),
            Some(LengthError::Prefix(PrefixError::Negative { value: -1 }))
        );
    }

    #[test]
    fn truncation_is_reported() {
        let mut dec = LengthDecoder::new(100);
        run(&mut dec, &[b"\x05\x00\x00\x00ab"]).unwrap();
        assert_eq!(dec.finish(), Err(LengthError::Truncated { missing: 3 }));
    }

    proptest! {
        /// Oracle: random messages, encoded, cut into random chunks,
        /// decode back to exactly those messages.
        #[test]
        fn any_chunking_gives_back_the_messages(
            msgs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..100), 0..6),
            cuts in crate::codec::chunking::cuts(),
        ) {
            let stream = encode(&msgs);
            let mut dec = LengthDecoder::new(1000);
            let chunks = crate::codec::chunking::split(&stream, &cuts);
            prop_assert_eq!(run(&mut dec, &chunks).unwrap(), msgs.clone());
            prop_assert_eq!(dec.finish(), Ok(()));
            let bytes: Vec<&[u8]> = stream.chunks(1).collect();
            let mut dec = LengthDecoder::new(1000);
            prop_assert_eq!(run(&mut dec, &bytes).unwrap(), msgs);
            prop_assert_eq!(dec.finish(), Ok(()));
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let mut dec = LengthDecoder::new(64);
            let _ = run(&mut dec, &[&bytes]);
            let _ = dec.finish();
        }
    }
}
