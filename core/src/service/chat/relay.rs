//! What a said line may carry to other users' terminals. A chat line is
//! shown raw by the seed's client (and by `nc`, `telnet`…), so escape
//! sequences in it would act on every reader's terminal: clear the screen
//! (`ESC [2J`), retitle the window (`ESC ]0;…BEL`), move the cursor to forge
//! a server notice. By default the server strips every C0 control except
//! tab, DEL and every C1 control (also as raw bytes 0x80–0x9F that are not
//! part of a UTF-8 character, which 8-bit terminals take as C1) before
//! relaying; [`Relay::Raw`] keeps the seed's byte-for-byte relay.

/// How the server relays said lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Relay {
    /// Control characters other than tab are removed (the default).
    #[default]
    Strip,
    /// Bytes are relayed as received, like the seed (`--chat-raw`).
    Raw,
}

/// Whether `c` is removed from said lines: C0 except tab, DEL, C1.
fn stripped(c: char) -> bool {
    c.is_control() && c != '\t'
}

impl Relay {
    /// Calls `emit` with each run of `line`'s bytes that is relayed, in
    /// order (for [`Relay::Raw`], once with the whole line). Empty runs
    /// may be emitted. Stops at the first error.
    pub fn for_each_run<E>(
        self,
        line: &[u8],
        mut emit: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if self == Relay::Raw {
            return emit(line);
        }
        for chunk in line.utf8_chunks() {
            let valid = chunk.valid();
            let mut start = 0;
            for (i, c) in valid.char_indices() {
                if stripped(c) {
                    emit(valid.as_bytes().get(start..i).unwrap_or_default())?;
                    start = i + c.len_utf8();
                }
            }
            emit(valid.as_bytes().get(start..).unwrap_or_default())?;
            // Bytes of a broken UTF-8 sequence are relayed (readers show
            // them as they can), except those an 8-bit terminal reads as C1.
            for b in chunk.invalid() {
                if !(0x80..=0x9f).contains(b) {
                    emit(core::slice::from_ref(b))?;
                }
            }
        }
        Ok(())
    }

    /// Whether `line`, as relayed, holds nothing but ASCII whitespace
    /// (such a line is not said at all).
    pub fn is_blank(self, line: &[u8]) -> bool {
        self.for_each_run(line, |run| match run.trim_ascii().is_empty() {
            true => Ok(()),
            false => Err(()),
        })
        .is_ok()
    }
}
