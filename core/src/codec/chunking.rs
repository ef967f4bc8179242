//! Test support: cuts a stream into random chunks, so every decoder's
//! oracle test feeds the same kinds of splits (empty chunks included).

extern crate std;
use proptest::prelude::*;
use std::vec::Vec;

/// Up to 12 cut points, as raw numbers reduced modulo the stream length.
pub(crate) fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(any::<usize>(), 0..12)
}

/// `stream` split at `cuts` (each taken modulo `len + 1`, then sorted).
pub(crate) fn split<'a>(stream: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    points.sort_unstable();
    let mut chunks = Vec::with_capacity(points.len() + 1);
    let mut last = 0;
    for p in points {
        chunks.push(&stream[last..p]);
        last = p;
    }
    chunks.push(&stream[last..]);
    chunks
}
