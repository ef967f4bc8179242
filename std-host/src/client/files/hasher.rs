//! MD5 on a second thread, so a transfer costs max(hash, I/O) rather than
//! their sum: the I/O thread copies each chunk into one of a few pooled
//! buffers and moves on. At most [`IN_FLIGHT`] buffers exist, so memory
//! stays bounded whatever the file size.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use md5::{Digest as _, Md5};
use wirekit_core::wire::Digest;

/// Buffers queued to or held by the hashing thread at most.
const IN_FLIGHT: usize = 4;

/// An MD5 computed on a background thread.
pub struct BgHasher {
    to_hash: Option<SyncSender<Vec<u8>>>,
    returned: Receiver<Vec<u8>>,
    worker: Option<JoinHandle<Md5>>,
    created: usize,
}

impl BgHasher {
    /// Continues hashing from `state` (e.g. a resumed file's prefix).
    pub fn new(state: Md5) -> BgHasher {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (back_tx, back_rx) = mpsc::channel();
        let worker = std::thread::spawn(move || {
            let mut md5 = state;
            for buf in rx {
                md5.update(&buf);
                // The I/O side may have finished; then the buffer just drops.
                let _ = back_tx.send(buf);
            }
            md5
        });
        BgHasher {
            to_hash: Some(tx),
            returned: back_rx,
            worker: Some(worker),
            created: 0,
        }
    }

    /// Queues `b` for hashing (copied; blocks only when the hashing thread
    /// is [`IN_FLIGHT`] buffers behind).
    pub fn update(&mut self, b: &[u8]) {
        let mut buf = match self.returned.try_recv() {
            Ok(buf) => buf,
            Err(_) if self.created < IN_FLIGHT => {
                self.created += 1;
                Vec::with_capacity(b.len())
            }
            Err(_) => self.returned.recv().unwrap_or_default(),
        };
        buf.clear();
        buf.extend_from_slice(b);
        if let Some(tx) = &self.to_hash {
            // A send fails only if the worker died; finish() reports it.
            let _ = tx.send(buf);
        }
    }

    /// Waits for the hashing thread and returns the digest.
    pub fn finish(mut self) -> anyhow::Result<Digest> {
        self.to_hash = None;
        let worker = self
            .worker
            .take()
            .ok_or_else(|| anyhow::anyhow!("hasher already finished"))?;
        let md5 = worker
            .join()
            .map_err(|_| anyhow::anyhow!("md5 thread panicked"))?;
        Ok(Digest(md5.finalize().into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_digest_as_inline() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
        let mut h = BgHasher::new(Md5::new());
        for c in data.chunks(70_001) {
            h.update(c);
        }
        assert_eq!(h.finish().unwrap(), Digest::of(&data));
        let mut prefix = Md5::new();
        prefix.update(&data[..10]);
        let mut h = BgHasher::new(prefix);
        h.update(&data[10..]);
        assert_eq!(h.finish().unwrap(), Digest::of(&data));
    }
}
