//! The native `get`: asked for in segments (`get-segmented`, see
//! `wirekit_core::service::file::native::segments`), so a server that
//! shuts down mid-file can say so and the partial is kept for `--resume`;
//! a server too old to know segments refuses the op, and the file is then
//! asked for as one body.

use anyhow::{anyhow, bail};
use wirekit_core::service::file::native::segments::{self, Segments};
use wirekit_core::service::file::native::{self, SegmentError, Transfer, TransferEvent};
use wirekit_core::wire::Digest;

use super::{request, wire_err, ClientDialect, LocalPartial};
use crate::services::files::conn::Conn;
use crate::services::files::frames::SHUTTING_DOWN;

/// What an old server answers for an op it does not know.
const UNKNOWN_OP: &str = "unknown operation";

/// Either decoder, one interface.
enum Decoder {
    Segments(Segments),
    Whole(Transfer),
}

impl Decoder {
    fn decode<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> anyhow::Result<(usize, Option<TransferEvent<'a>>)> {
        match self {
            Decoder::Segments(s) => s.decode(input).map_err(|e: SegmentError| wire_err(e)),
            Decoder::Whole(t) => t.decode(input).map_err(wire_err),
        }
    }
}

/// Downloads `remote` into `part` from its offset; the server's md5.
pub fn get_native(
    conn: &mut Conn,
    remote: &str,
    part: &mut LocalPartial,
    label: &str,
) -> anyhow::Result<Option<Digest>> {
    match receive(conn, remote, part, label, true)? {
        Some(d) => Ok(Some(d)),
        None => receive(conn, remote, part, label, false),
    }
}

/// One request and its transfer; `None` when a segmented request was
/// refused as unknown (an older server), so the caller asks again.
fn receive(
    conn: &mut Conn,
    remote: &str,
    part: &mut LocalPartial,
    label: &str,
    segmented: bool,
) -> anyhow::Result<Option<Digest>> {
    let op = if segmented { segments::OP } else { "get" };
    let mut h = native::request(op, remote).map_err(|e| anyhow!("{remote}: {e}"))?;
    h.offset = (part.offset > 0).then_some(part.offset);
    request(conn, &h, ClientDialect::Native)?;
    let mut dec = match segmented {
        true => Decoder::Segments(Segments::new()),
        false => Decoder::Whole(Transfer::new("get", u64::MAX)),
    };
    let mut started = false;
    loop {
        if !conn.fill_if_drained()? {
            bail!("server closed the connection mid-transfer");
        }
        let (used, ev) = dec.decode(&conn.buf[conn.lo..conn.hi])?;
        conn.lo += used;
        match ev {
            None | Some(TransferEvent::BodyEnd) => {}
            Some(TransferEvent::Header(h)) => {
                if h.offset.unwrap_or(0) != part.offset {
                    bail!(
                        "server answered for offset {:?}, asked {}",
                        h.offset,
                        part.offset
                    );
                }
                started = true;
                part.show_progress(label, h.size.unwrap_or(0));
            }
            Some(TransferEvent::Data(b)) => part.write(b)?,
            Some(TransferEvent::End(d)) => return Ok(Some(d)),
            Some(TransferEvent::Refused(m))
                if segmented && !started && m.starts_with(UNKNOWN_OP) =>
            {
                return Ok(None)
            }
            Some(TransferEvent::Refused(m)) if m == SHUTTING_DOWN => {
                bail!("the server is shutting down")
            }
            Some(TransferEvent::Refused(m)) => bail!("server refused: {m}"),
        }
    }
}
