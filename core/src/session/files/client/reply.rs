//! Reading the server's replies: a get's transfer (segmented or plain,
//! with the fallback between them), a listing, and the bodiless answers
//! of the token exchange, a put, and a stat.

use heapless::String;

use super::{
    frames, ClientError, ClientEvent, FileInfo, FilesClient, Reply, State, Step, UNKNOWN_OP,
};
use crate::codec::frame::Event as FrameEvent;
use crate::service::file::access::{self, ReplyError};
use crate::service::file::native::{self, Transfer, TransferEvent};
use crate::session::files::SHUTTING_DOWN;
use crate::wire::Header;

/// A refusal's words as an error.
fn refused(m: &str) -> ClientError {
    if m == SHUTTING_DOWN {
        return ClientError::ShuttingDown;
    }
    let mut s = String::new();
    // Longer texts are cut at a character boundary.
    for c in m.chars() {
        if s.push(c).is_err() {
            break;
        }
    }
    ClientError::Refused(s)
}

fn exchange_error(e: ReplyError<'_>) -> ClientError {
    match e {
        ReplyError::Refused(m) => refused(m),
        ReplyError::UnexpectedOp => {
            ClientError::BadReply("unexpected answer to the token exchange")
        }
        ReplyError::BadNonce => ClientError::BadReply("the server's challenge has no valid nonce"),
    }
}

/// What a get's decoder found, owned.
enum Found {
    Nothing,
    Header {
        size: u64,
        offset: Option<u64>,
        mtime: Option<u64>,
        body: u64,
    },
    Data(usize),
    End(crate::wire::Digest),
    Refused {
        unknown_op: bool,
        error: ClientError,
    },
}

impl<const O: usize> FilesClient<O> {
    /// A get's reply and bytes.
    pub(super) fn transfer(&mut self, input: &[u8]) -> Result<(usize, Step), ClientError> {
        let mut used = 0;
        // The decoders may take a step without consuming or reporting (a
        // segment's end): only a second such step in a row means they
        // need more bytes.
        let mut still = false;
        loop {
            let (n, found) = self.decode_transfer(&input[used..])?;
            let start = used;
            used += n;
            let State::Get {
                offset,
                segmented,
                started,
            } = self.state
            else {
                return Err(ClientError::OutOfOrder("transfer"));
            };
            match found {
                Found::Nothing if n == 0 && still => return Ok((used, Step::None)),
                Found::Nothing => still = n == 0,
                Found::Header {
                    size,
                    offset: got,
                    mtime,
                    body,
                } => {
                    if got.unwrap_or(0) != offset {
                        return Err(ClientError::Offset { asked: offset, got });
                    }
                    // A plain get's body is the rest of the file, exactly.
                    if !segmented && Some(body) != size.checked_sub(offset) {
                        return Err(ClientError::BadReply(
                            "the get body is not the rest of the file",
                        ));
                    }
                    self.state = State::Get {
                        offset,
                        segmented,
                        started: true,
                    };
                    let ev = ClientEvent::Started {
                        size,
                        offset,
                        mtime,
                    };
                    return Ok((used, Step::Event(ev)));
                }
                Found::Data(len) => return Ok((used, Step::Data(start..start + len))),
                Found::End(md5) => {
                    self.state = State::Verify { md5 };
                    self.reply = frames(0);
                    return Ok((used, Step::Event(ClientEvent::Received { md5 })));
                }
                Found::Refused { unknown_op, .. } if unknown_op && segmented && !started => {
                    // An older server: ask again, for the whole body.
                    let mut h = Header::with_op("get");
                    h.filename = Some(self.name.clone());
                    h.offset = (offset > 0).then_some(offset);
                    self.out.push_header(&h)?;
                    self.reply = Reply::Whole(Transfer::new("get", u64::MAX));
                    self.state = State::Get {
                        offset,
                        segmented: false,
                        started: false,
                    };
                    return Ok((used, Step::None));
                }
                Found::Refused { error, .. } => return Err(error),
            }
        }
    }

    fn decode_transfer(&mut self, input: &[u8]) -> Result<(usize, Found), ClientError> {
        let (n, ev) = match &mut self.reply {
            Reply::Segments(s) => s.decode(input).map_err(ClientError::Segment)?,
            Reply::Whole(t) => t.decode(input).map_err(ClientError::Transfer)?,
            Reply::Frames(_) => return Err(ClientError::OutOfOrder("transfer")),
        };
        let found = match ev {
            None | Some(TransferEvent::BodyEnd | TransferEvent::Segment) => Found::Nothing,
            Some(TransferEvent::Header(h)) => Found::Header {
                size: h.size.unwrap_or(0),
                offset: h.offset,
                mtime: h.mtime,
                body: h.total_size,
            },
            Some(TransferEvent::Data(b)) => Found::Data(b.len()),
            Some(TransferEvent::End(md5)) => Found::End(md5),
            Some(TransferEvent::Refused(m)) => Found::Refused {
                unknown_op: m.starts_with(UNKNOWN_OP),
                error: refused(m),
            },
        };
        Ok((n, found))
    }

    /// A listing: its header, body, end.
    pub(super) fn listing(&mut self, input: &[u8]) -> Result<(usize, Step), ClientError> {
        let Reply::Frames(dec) = &mut self.reply else {
            return Err(ClientError::OutOfOrder("listing"));
        };
        let (n, ev) = dec.decode(input).map_err(ClientError::Frame)?;
        let step = match ev {
            None => Step::None,
            Some(FrameEvent::Header(h)) => {
                if let Some(m) = native::refusal(h) {
                    return Err(refused(m));
                }
                let ev = ClientEvent::Listing {
                    len: h.total_size,
                    truncated: h.truncated == Some(true),
                };
                Step::Event(ev)
            }
            Some(FrameEvent::Body(b)) => Step::ListData(0..b.len()),
            Some(FrameEvent::End(_)) => {
                self.state = State::Idle;
                Step::Event(ClientEvent::ListEnd)
            }
        };
        Ok((n, step))
    }

    /// Replies without a body: decoded whole, then acted on.
    pub(super) fn bodiless(&mut self, input: &[u8]) -> Result<(usize, Step), ClientError> {
        let Reply::Frames(dec) = &mut self.reply else {
            return Err(ClientError::OutOfOrder("reply"));
        };
        let mut used = 0;
        loop {
            let (n, ev) = dec.decode(&input[used..]).map_err(ClientError::Frame)?;
            used += n;
            match ev {
                None => return Ok((used, Step::None)),
                Some(FrameEvent::End(_)) => break,
                Some(_) => {}
            }
        }
        let h = dec.header().clone();
        let step = self.answer(&h)?;
        Ok((used, step))
    }

    /// What a whole bodiless reply means where the session stands.
    fn answer(&mut self, h: &Header) -> Result<Step, ClientError> {
        let (next, ev) = match self.state {
            State::Challenging => {
                let nonce = access::parse_challenge(h).map_err(exchange_error)?;
                let mut n = String::new();
                // The header's nonce has the same capacity.
                let _ = n.push_str(nonce);
                (State::Challenged(n), ClientEvent::Challenge)
            }
            State::Authing => {
                access::parse_auth_reply(h).map_err(exchange_error)?;
                (State::Idle, ClientEvent::Authenticated)
            }
            State::PutAsked { size } => {
                if let Some(m) = native::refusal(h) {
                    return Err(refused(m));
                }
                let offered = h.offset.unwrap_or(0);
                if offered > size {
                    return Err(ClientError::BadReply(
                        "the server kept more than the file's size",
                    ));
                }
                let ev = ClientEvent::Ready {
                    offset: offered,
                    prefix: h.md5,
                };
                (State::PutReady { size, offered }, ev)
            }
            State::PutEnd { md5 } => {
                if let Some(m) = native::refusal(h) {
                    return Err(refused(m));
                }
                if h.md5 != Some(md5) {
                    return Err(ClientError::StoredDifferent(h.md5));
                }
                let ev = ClientEvent::Stored { size: h.size, md5 };
                (State::Idle, ev)
            }
            State::Stat => {
                if let Some(m) = native::refusal(h) {
                    return Err(refused(m));
                }
                let (Some(size), Some(md5)) = (h.size, h.md5) else {
                    return Err(ClientError::BadReply("stat without size or md5"));
                };
                let info = FileInfo {
                    size,
                    mtime: h.mtime,
                    md5,
                };
                (State::Idle, ClientEvent::Stat(info))
            }
            // A put's body is being sent: only a refusal can come.
            _ => {
                return Err(match native::refusal(h) {
                    Some(m) => refused(m),
                    None => ClientError::BadReply("a reply while nothing was asked"),
                })
            }
        };
        self.state = next;
        self.reply = frames(0);
        Ok(Step::Event(ev))
    }
}
