//! Decoder throughput (results and commands in docs/BENCHMARKS.md):
//! - `large_body`: one 16 MiB frame with an md5 header, fed in 64 KiB
//!   chunks, against raw `md-5` (what the decoder uses) over the same
//!   bytes — the decoder should add almost nothing to hashing.
//! - `small_frames`: a stream of frames with a ~60-byte header and a
//!   16-byte body, decoded whole; reported as frames per second.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use md5::{Digest as _, Md5};
use wirekit_core::codec::frame::{Event, FrameDecoder};
use wirekit_core::wire::{emit_frame_header, short_string, Digest, Header};

fn frame(header: &Header, body: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 1024];
    let n = emit_frame_header(header, &mut buf).unwrap();
    buf.truncate(n);
    buf.extend_from_slice(body);
    buf
}

fn decode_all(dec: &mut FrameDecoder, chunks: std::slice::Chunks<'_, u8>) -> u64 {
    let mut bytes = 0u64;
    for chunk in chunks {
        let mut input = chunk;
        loop {
            let (used, ev) = dec.decode(input).unwrap();
            input = &input[used..];
            match ev {
                Some(Event::Body(b)) => bytes += b.len() as u64,
                Some(_) => {}
                None => break,
            }
        }
    }
    bytes
}

fn large_body(c: &mut Criterion) {
    let body: Vec<u8> = (0..16u32 << 20)
        .map(|i| (i * 2_654_435_761) as u8)
        .collect();
    let header = Header {
        md5: Some(Digest::of(&body)),
        total_size: body.len() as u64,
        filename: short_string("big.bin"),
        ..Header::default()
    };
    let stream = frame(&header, &body);
    let mut g = c.benchmark_group("large_body");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.sample_size(20);
    g.bench_function("raw_md5", |b| {
        b.iter(|| {
            let mut h = Md5::new();
            for chunk in body.chunks(64 * 1024) {
                h.update(chunk);
            }
            black_box(h.finalize())
        })
    });
    g.bench_function("decoder_md5", |b| {
        b.iter(|| {
            let mut dec: FrameDecoder = FrameDecoder::new();
            black_box(decode_all(&mut dec, stream.chunks(64 * 1024)))
        })
    });
    g.finish();
}

fn small_frames(c: &mut Criterion) {
    const N: usize = 10_000;
    let header = Header {
        op: short_string("stdout"),
        total_size: 16,
        filename: short_string("session-0001.log"),
        exit_code: Some(0),
        ..Header::default()
    };
    let one = frame(&header, b"0123456789abcdef");
    let stream: Vec<u8> = one.iter().copied().cycle().take(one.len() * N).collect();
    let mut g = c.benchmark_group("small_frames");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function(format!("header_{}B_body_16B", one.len() - 4 - 16), |b| {
        b.iter(|| {
            let mut dec: FrameDecoder = FrameDecoder::new();
            black_box(decode_all(&mut dec, stream.chunks(64 * 1024)))
        })
    });
    g.finish();
}

criterion_group!(benches, large_body, small_frames);
criterion_main!(benches);
