//! The time service's per-request work (results and commands in
//! docs/BENCHMARKS.md): `service::time::answer` for the seeds' default
//! format, for the `wirekit-bench udp --distinct` format
//! (`%Y-%m-%d %X #N`), and for a format using most conversions.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use wirekit_core::service::time::answer;
use wirekit_core::strftime::Tm;

fn time_answers(c: &mut Criterion) {
    let tm = Tm::from_unix(1_763_800_000, 3600, "CET");
    let mut out = [0u8; 2048];
    let mut g = c.benchmark_group("time_answer");
    for (name, fmt) in [
        ("default", &b""[..]),
        ("distinct", &b"%Y-%m-%d %X #17"[..]),
        (
            "many",
            &b"%a %A %b %B %c %d %H %I %j %m %M %p %S %U %w %W %x %X %y %Y %Z %%"[..],
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| answer(black_box(fmt), black_box(&tm), &mut out))
        });
    }
    g.finish();
}

criterion_group!(benches, time_answers);
criterion_main!(benches);
