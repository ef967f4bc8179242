//! Upper-echo: the seeds' first service. Every byte comes back with ASCII
//! letters upper-cased, exactly Python's `bytes.upper()`: non-ASCII bytes
//! (UTF-8 such as Chinese) pass through unchanged, so a multi-byte
//! character split across reads is never damaged.

/// Upper-cases ASCII letters in place, as Python's `bytes.upper()`.
///
/// ```
/// let mut b = *b"hello, \xe4\xbd\xa0 world";
/// wirekit_core::service::echo::upper_in_place(&mut b);
/// assert_eq!(&b, b"HELLO, \xe4\xbd\xa0 WORLD");
/// ```
pub fn upper_in_place(bytes: &mut [u8]) {
    bytes.make_ascii_uppercase();
}

/// Writes the upper-case of `input` into `out` and returns the written
/// prefix of `out`; copies `min(input.len(), out.len())` bytes.
pub fn upper_into<'o>(input: &[u8], out: &'o mut [u8]) -> &'o [u8] {
    let n = input.len().min(out.len());
    out[..n].copy_from_slice(&input[..n]);
    upper_in_place(&mut out[..n]);
    &out[..n]
}

/// The largest UDP payload over IPv4 (65,535 − 20 IP − 8 UDP header bytes):
/// the most a `udp-echo` datagram can carry.
pub const MAX_UDP_PAYLOAD: usize = 65_507;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ascii_letters_change() {
        let mut all: [u8; 256] = core::array::from_fn(|i| i as u8);
        upper_in_place(&mut all);
        for (i, b) in all.iter().enumerate() {
            let expect = if (97..=122).contains(&i) {
                i as u8 - 32
            } else {
                i as u8
            };
            assert_eq!(*b, expect, "byte {i}");
        }
    }

    #[test]
    fn upper_into_truncates_to_out() {
        let mut out = [0u8; 3];
        assert_eq!(upper_into(b"abcdef", &mut out), b"ABC");
    }
}
