//! Accumulates a 4-byte length prefix across arbitrary chunk boundaries;
//! shared by the frame and length-prefixed decoders.

use crate::wire::{Prefix, PrefixError, PREFIX_LEN};

#[derive(Debug, Clone, Default)]
pub(crate) struct PrefixReader {
    bytes: [u8; PREFIX_LEN],
    have: usize,
}

impl PrefixReader {
    /// Feeds bytes; returns how many were consumed and, once four bytes are
    /// in, the checked length. The reader resets itself after a result.
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        limit: u32,
    ) -> (usize, Option<Result<u32, PrefixError>>) {
        if self.have == 0 && input.len() >= PREFIX_LEN {
            // Fast path: the whole prefix is in this chunk, no copy.
            return (PREFIX_LEN, Some(check(&input[..PREFIX_LEN], limit)));
        }
        let take = (PREFIX_LEN - self.have).min(input.len());
        let dst = self.bytes.get_mut(self.have..self.have + take);
        if let (Some(dst), Some(src)) = (dst, input.get(..take)) {
            dst.copy_from_slice(src);
        }
        self.have += take;
        if self.have < PREFIX_LEN {
            return (take, None);
        }
        self.have = 0;
        (take, Some(check(&self.bytes, limit)))
    }

    /// Bytes of a prefix received so far.
    pub(crate) fn pending(&self) -> usize {
        self.have
    }
}

fn check(bytes: &[u8], limit: u32) -> Result<u32, PrefixError> {
    Prefix::new_checked(bytes)?.len_checked(limit)
}
