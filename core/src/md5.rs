//! MD5 (RFC 1321), the digest every seed protocol puts in its headers and
//! that wirekit verifies on every body and file.
//!
//! Why not the `md-5` crate: hashing bounds a file transfer, and on the
//! x86-64 machine of `docs/BENCHMARKS.md` md-5 0.10 (soft and `asm`) and
//! 0.11 needed 1.6–1.8 s of CPU per GiB where coreutils' `md5sum` needs
//! 1.4–1.5 s. The cause is one instruction per step: LLVM folds each
//! round constant into the *last* addition, after the round function,
//! which lengthens every step's dependency chain. Here the constants
//! are read through [`core::hint::black_box`], so `a + M[k] + K[i]` is
//! computed off the chain, as C compilers do for gnulib's md5.c; G also
//! splits into two additions so only `b & d` waits for the previous step.
//! The result matches md5sum's speed. `md-5` remains the reference in
//! the tests (every length up to several blocks, random splits).
//!
//! ```
//! use wirekit_core::md5::Md5;
//! let mut h = Md5::new();
//! h.update(b"message ");
//! h.update(b"digest");
//! assert_eq!(h.finalize()[..4], [0xf9, 0x6b, 0x69, 0x7d]);
//! ```

/// The sine-derived constants, `floor(abs(sin(i + 1)) * 2^32)`.
const K: [u32; 64] = [
    0xd76a_a478,
    0xe8c7_b756,
    0x2420_70db,
    0xc1bd_ceee,
    0xf57c_0faf,
    0x4787_c62a,
    0xa830_4613,
    0xfd46_9501,
    0x6980_98d8,
    0x8b44_f7af,
    0xffff_5bb1,
    0x895c_d7be,
    0x6b90_1122,
    0xfd98_7193,
    0xa679_438e,
    0x49b4_0821,
    0xf61e_2562,
    0xc040_b340,
    0x265e_5a51,
    0xe9b6_c7aa,
    0xd62f_105d,
    0x0244_1453,
    0xd8a1_e681,
    0xe7d3_fbc8,
    0x21e1_cde6,
    0xc337_07d6,
    0xf4d5_0d87,
    0x455a_14ed,
    0xa9e3_e905,
    0xfcef_a3f8,
    0x676f_02d9,
    0x8d2a_4c8a,
    0xfffa_3942,
    0x8771_f681,
    0x6d9d_6122,
    0xfde5_380c,
    0xa4be_ea44,
    0x4bde_cfa9,
    0xf6bb_4b60,
    0xbebf_bc70,
    0x289b_7ec6,
    0xeaa1_27fa,
    0xd4ef_3085,
    0x0488_1d05,
    0xd9d4_d039,
    0xe6db_99e5,
    0x1fa2_7cf8,
    0xc4ac_5665,
    0xf429_2244,
    0x432a_ff97,
    0xab94_23a7,
    0xfc93_a039,
    0x655b_59c3,
    0x8f0c_cc92,
    0xffef_f47d,
    0x8584_5dd1,
    0x6fa8_7e4f,
    0xfe2c_e6e0,
    0xa301_4314,
    0x4e08_11a1,
    0xf753_7e82,
    0xbd3a_f235,
    0x2ad7_d2bb,
    0xeb86_d391,
];

/// Which message word each step of a round reads.
const WORD: [[usize; 16]; 4] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [1, 6, 11, 0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12],
    [5, 8, 11, 14, 1, 4, 7, 10, 13, 0, 3, 6, 9, 12, 15, 2],
    [0, 7, 14, 5, 12, 3, 10, 1, 8, 15, 6, 13, 4, 11, 2, 9],
];

/// Rotation of each step, by round.
const SHIFT: [[u32; 4]; 4] = [
    [7, 12, 17, 22],
    [5, 9, 14, 20],
    [4, 11, 16, 23],
    [6, 10, 15, 21],
];

/// The initial state.
const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// An incremental MD5 computation.
#[derive(Clone, Debug)]
pub struct Md5 {
    state: [u32; 4],
    block: [u8; 64],
    filled: usize,
    len: u64,
}

impl Default for Md5 {
    fn default() -> Self {
        Self::new()
    }
}

impl Md5 {
    /// A hash of nothing yet.
    pub const fn new() -> Md5 {
        Md5 {
            state: INIT,
            block: [0; 64],
            filled: 0,
            len: 0,
        }
    }

    /// Adds `data`; any split of the input gives the same digest.
    pub fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        if self.filled > 0 {
            let take = (64 - self.filled).min(data.len());
            let (head, rest) = data.split_at(take);
            self.block[self.filled..self.filled + take].copy_from_slice(head);
            self.filled += take;
            data = rest;
            if self.filled < 64 {
                return;
            }
            compress(&mut self.state, &self.block);
            self.filled = 0;
        }
        let mut blocks = data.chunks_exact(64);
        for block in blocks.by_ref() {
            compress(&mut self.state, block);
        }
        let rest = blocks.remainder();
        self.block[..rest.len()].copy_from_slice(rest);
        self.filled = rest.len();
    }

    /// The digest of everything added.
    pub fn finalize(mut self) -> [u8; 16] {
        let bits = self.len.wrapping_mul(8);
        // Padding: 0x80, zeros up to 56 mod 64, the bit length.
        let zeros = (55usize.wrapping_sub(self.filled)) % 64;
        let mut pad = [0u8; 72];
        pad[0] = 0x80;
        pad[1 + zeros..9 + zeros].copy_from_slice(&bits.to_le_bytes());
        self.update(&pad[..9 + zeros]);
        let mut out = [0u8; 16];
        for (o, s) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&s.to_le_bytes());
        }
        out
    }
}

#[inline(always)]
fn f(a: u32, b: u32, c: u32, d: u32, mk: u32, s: u32) -> u32 {
    let t = a.wrapping_add(mk).wrapping_add(((c ^ d) & b) ^ d);
    t.rotate_left(s).wrapping_add(b)
}

#[inline(always)]
fn g(a: u32, b: u32, c: u32, d: u32, mk: u32, s: u32) -> u32 {
    // (b & d) | (c & !d) has disjoint bits, so | is +, and c & !d does
    // not wait for b.
    let t = a.wrapping_add(mk).wrapping_add(c & !d).wrapping_add(b & d);
    t.rotate_left(s).wrapping_add(b)
}

#[inline(always)]
fn h(a: u32, b: u32, c: u32, d: u32, mk: u32, s: u32) -> u32 {
    let t = a.wrapping_add(mk).wrapping_add(b ^ (c ^ d));
    t.rotate_left(s).wrapping_add(b)
}

#[inline(always)]
fn i(a: u32, b: u32, c: u32, d: u32, mk: u32, s: u32) -> u32 {
    let t = a.wrapping_add(mk).wrapping_add(c ^ (b | !d));
    t.rotate_left(s).wrapping_add(b)
}

/// Sixteen steps of one round, four at a time with the registers rotating.
macro_rules! round {
    ($op:ident, $r:expr, $st:ident, $m:ident, $k:ident) => {
        let [mut a, mut b, mut c, mut d] = $st;
        let (w, s) = (&WORD[$r], &SHIFT[$r]);
        let mut j = 0;
        while j < 16 {
            let base = 16 * $r + j;
            a = $op(a, b, c, d, $m[w[j]].wrapping_add($k[base]), s[0]);
            d = $op(d, a, b, c, $m[w[j + 1]].wrapping_add($k[base + 1]), s[1]);
            c = $op(c, d, a, b, $m[w[j + 2]].wrapping_add($k[base + 2]), s[2]);
            b = $op(b, c, d, a, $m[w[j + 3]].wrapping_add($k[base + 3]), s[3]);
            j += 4;
        }
        $st = [a, b, c, d];
    };
}

/// One 64-byte block (`block` is always exactly 64 bytes long).
fn compress(state: &mut [u32; 4], block: &[u8]) {
    let mut m = [0u32; 16];
    for (w, b) in m.iter_mut().zip(block.chunks_exact(4)) {
        *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    // Opaque to the optimiser, so the constants stay early additions; see
    // the module documentation.
    let k = core::hint::black_box(&K);
    let mut st = *state;
    round!(f, 0, st, m, k);
    round!(g, 1, st, m, k);
    round!(h, 2, st, m, k);
    round!(i, 3, st, m, k);
    for (s, v) in state.iter_mut().zip(st) {
        *s = s.wrapping_add(v);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::Md5;
    use ::md5::Digest as _;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn reference(data: &[u8]) -> [u8; 16] {
        ::md5::Md5::digest(data).into()
    }

    #[test]
    fn rfc_1321_test_suite() {
        let suite: [(&[u8], &str); 7] = [
            (b"", "d41d8cd98f00b204e9800998ecf8427e"),
            (b"a", "0cc175b9c0f1b6a831c399e269772661"),
            (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
            (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                b"abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, hex) in suite {
            let mut h = Md5::new();
            h.update(input);
            let got = crate::wire::Digest(h.finalize());
            assert_eq!(std::format!("{got}"), hex);
        }
    }

    #[test]
    fn every_length_across_the_padding_boundaries() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for n in 0..data.len() {
            let mut h = Md5::new();
            h.update(&data[..n]);
            assert_eq!(h.finalize(), reference(&data[..n]), "length {n}");
        }
    }

    proptest! {
        #[test]
        fn any_split_matches_md_5(
            data in prop::collection::vec(any::<u8>(), 0..1000),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let mut at: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
            at.sort_unstable();
            let mut h = Md5::new();
            let mut from = 0;
            for to in at.into_iter().chain([data.len()]) {
                h.update(&data[from..to]);
                from = to;
            }
            prop_assert_eq!(h.finalize(), reference(&data));
        }
    }
}
