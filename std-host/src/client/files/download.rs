//! The native `get`, driven through the core's files client session: it
//! asks for segments (`get-segmented`, see
//! `wirekit_core::service::file::native::segments`), so a server that
//! shuts down mid-file can say so and the partial is kept for `--resume`;
//! a server too old to know segments refuses the op, and the session asks
//! for the file as one body by itself.

use anyhow::{anyhow, bail};
use wirekit_core::blocking::Flow;
use wirekit_core::session::files::client::{ClientEvent, FilesClient};
use wirekit_core::wire::Digest;

use super::{request, ClientDialect, LocalPartial};
use crate::client::conn::Link;

/// Checks the md5 of the bytes written against the server's: the
/// session's verdict.
/// A mismatch is a [`ClientError::Md5Mismatch`] (boxed in the error).
pub type Check = Box<dyn FnOnce(Digest) -> anyhow::Result<Digest>>;

/// Downloads `remote` into `part` from its offset; returns the check of
/// the written bytes' md5 against the server's.
pub fn get_native(
    conn: &mut Link,
    remote: &str,
    part: &mut LocalPartial,
    label: &str,
) -> anyhow::Result<Option<Check>> {
    let mut session: Box<FilesClient> = Box::default();
    session
        .get(remote, part.offset)
        .map_err(|e| anyhow!("{remote}: {e}"))?;
    request(conn, &mut *session, ClientDialect::Native)?;
    let mut received = false;
    let stopped = conn.drive(&mut *session, |ev| {
        match ev {
            ClientEvent::Started { size, .. } => part.show_progress(label, size),
            ClientEvent::Data(b) => part.write(b)?,
            ClientEvent::Received { .. } => {
                received = true;
                return Ok(Flow::Stop);
            }
            _ => {}
        }
        Ok(Flow::Continue)
    })?;
    if !stopped || !received {
        bail!("server closed the connection mid-transfer");
    }
    Ok(Some(Box::new(
        move |actual| Ok(session.finish_get(actual)?),
    )))
}
