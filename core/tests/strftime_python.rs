//! Cross-checks `strftime` and `Tm::from_unix` against the real Python 3.11
//! `time.strftime` / `time.gmtime` (glibc 2.36).
//!
//! `strftime_vectors.py` prints, for a table of instants, the broken-down
//! fields and `time.strftime(fmt, t)` for about 4000 formats (every
//! conversion with flags, widths and modifiers, unknown conversions, a
//! trailing `%`, and random combinations). Its output is checked in
//! (`tests/vectors/strftime.tsv`, and `case.tsv` from its `case` mode), so
//! `cargo test` needs no Python; `scripts/golden-vectors` reruns the script
//! and compares where Python 3.11 on glibc is at hand.

use wirekit_core::strftime::{strftime, Tm};

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn python_vectors(args: &[&str]) -> String {
    let name = if args == ["case"] {
        "case.tsv"
    } else {
        "strftime.tsv"
    };
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn check_version(fields: &[&str]) {
    assert_eq!(
        &fields[1..3],
        &["3.11", "glibc"],
        "the vectors are only meaningful from Python 3.11 on glibc"
    );
}

/// Parses a `T` line, checks `Tm::from_unix` against Python's fields.
fn instant(fields: &[&str]) -> Tm {
    let num = |i: usize| -> i64 { fields[i].parse().expect("number") };
    let zone = String::from_utf8(unhex(fields[3])).expect("zone utf-8");
    let tm = Tm::from_unix(num(1), num(2) as i32, &zone);
    let got = (
        i64::from(tm.year),
        i64::from(tm.month),
        i64::from(tm.day),
        i64::from(tm.hour),
        i64::from(tm.minute),
        i64::from(tm.second),
        i64::from(tm.weekday),
        i64::from(tm.yday),
    );
    let want = (
        num(4),
        num(5),
        num(6),
        num(7),
        num(8),
        num(9),
        num(10),
        num(11),
    );
    assert_eq!(
        got, want,
        "Tm::from_unix({}, {}) vs time.gmtime",
        fields[1], fields[2]
    );
    tm
}

#[test]
fn strftime_matches_python() {
    let text = python_vectors(&[]);
    let mut current: Option<Tm> = None;
    let (mut instants, mut formats, mut failures) = (0, 0, Vec::new());
    let mut buf = vec![0u8; 1 << 16];
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields[0] {
            "V" => check_version(&fields),
            "T" => {
                current = Some(instant(&fields));
                instants += 1;
            }
            "F" => {
                let tm = current.as_ref().expect("F line before any T line");
                let fmt = unhex(fields[1]);
                let want = unhex(fields[2]);
                formats += 1;
                let got = strftime(&fmt, tm, &mut buf).map(|n| buf[..n].to_vec());
                if got.as_deref() != Ok(&want[..]) {
                    failures.push(format!(
                        "{}-{:02}-{:02} {:02}:{:02} off={} fmt={:?}: python {:?}, ours {:?}",
                        tm.year,
                        tm.month,
                        tm.day,
                        tm.hour,
                        tm.minute,
                        tm.utc_offset,
                        String::from_utf8_lossy(&fmt),
                        String::from_utf8_lossy(&want),
                        got.map(|g| String::from_utf8_lossy(&g).into_owned()),
                    ));
                }
            }
            other => panic!("unexpected line kind {other:?}"),
        }
    }
    assert!(
        instants > 2000 && formats > 50_000,
        "too few vectors: {instants} instants, {formats} formats"
    );
    assert!(
        failures.is_empty(),
        "{} of {formats} mismatches, first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(400)].join("\n")
    );
}

/// Case flags map every character exactly as glibc's `towupper` /
/// `towlower` do (through `%^<c>` and `%#Z`).
#[test]
fn case_mapping_matches_glibc_for_every_character() {
    let mut table = std::collections::HashMap::new();
    for line in python_vectors(&["case"]).lines() {
        let f: Vec<u32> = line
            .split('\t')
            .skip(1)
            .map(|h| u32::from_str_radix(h, 16).expect("hex code point"))
            .collect();
        table.insert(f[0], (f[1], f[2]));
    }
    assert!(table.len() > 2000, "too few case pairs: {}", table.len());
    let tm = Tm::from_unix(0, 0, "UTC");
    let mut buf = [0u8; 16];
    let mut failures = Vec::new();
    for c in (1..=0x10FFFF).filter_map(char::from_u32) {
        let cp = u32::from(c);
        let (up, low) = table.get(&cp).copied().unwrap_or((cp, cp));
        if cp >= 0x80 {
            let fmt = format!("%^{c}");
            let n = strftime(fmt.as_bytes(), &tm, &mut buf).expect("fits");
            let want = format!("%^{}", char::from_u32(up).expect("char"));
            if buf[..n] != *want.as_bytes() {
                failures.push(format!("upper {cp:x}: python {up:x}"));
            }
        }
        let zoned = Tm::from_unix(0, 0, c.encode_utf8(&mut [0u8; 4]));
        let n = strftime(b"%#Z", &zoned, &mut buf).expect("fits");
        let want = char::from_u32(low).expect("char").to_string();
        if buf[..n] != *want.as_bytes() {
            failures.push(format!("lower {cp:x}: python {low:x}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches: {:?}",
        failures.len(),
        &failures[..failures.len().min(50)]
    );
}
