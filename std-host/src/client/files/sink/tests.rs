use std::fs::OpenOptions;
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;

use super::*;

fn scratch(dir: &Path, tag: &str) -> PathBuf {
    dir.join(format!("wirekit-sink-{tag}-{}", std::process::id()))
}

fn open(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap()
}

fn supports_direct(dir: &Path) -> bool {
    let probe = scratch(dir, "probe");
    std::fs::write(&probe, b"").unwrap();
    let yes = open_direct(&probe).is_some();
    std::fs::remove_file(&probe).unwrap();
    yes
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

/// Writes `data` after `prefix` in uneven chunks; checks file and digest.
fn round_trip(dir: &Path, tag: &str, prefix: &[u8], data: &[u8]) -> bool {
    let path = scratch(dir, tag);
    std::fs::write(&path, prefix).unwrap();
    let file = open(&path);
    let mut md5 = Md5::new();
    md5.update(prefix);
    let mut sink = Sink::new(&path, &file, prefix.len() as u64, md5).unwrap();
    let direct = sink.is_direct();
    let mut rest = data;
    let mut step = 1;
    while !rest.is_empty() {
        let n = step.min(rest.len());
        sink.write(&rest[..n]).unwrap();
        rest = &rest[n..];
        step = step * 7 % 300_007 + 1;
    }
    let digest = sink.finish().unwrap();
    let total = (prefix.len() + data.len()) as u64;
    file.set_len(total).unwrap();
    let mut whole = prefix.to_vec();
    whole.extend_from_slice(data);
    assert_eq!(digest, Digest::of(&whole), "{tag}");
    assert_eq!(std::fs::read(&path).unwrap(), whole, "{tag}");
    std::fs::remove_file(&path).unwrap();
    direct
}

#[test]
fn any_chunking_lands_on_disk_with_its_md5() {
    let dir = std::env::temp_dir();
    let data = pattern(3 * BUF + BUF / 2 + 123, 1);
    // Direct wherever the filesystem takes O_DIRECT (a disk-backed /tmp).
    assert_eq!(round_trip(&dir, "plain", b"", &data), supports_direct(&dir));
    // Exactly whole buffers, and less than one block.
    round_trip(&dir, "whole", b"", &pattern(2 * BUF, 2));
    round_trip(&dir, "tiny", b"", b"x");
    round_trip(&dir, "empty", b"", b"");
}

#[test]
fn a_resume_at_an_unaligned_offset_goes_buffered_and_is_right() {
    let dir = std::env::temp_dir();
    let prefix = pattern(5000, 3);
    let direct = round_trip(&dir, "resume-odd", &prefix, &pattern(BUF + 77, 4));
    assert!(!direct, "an unaligned start cannot use O_DIRECT");
    round_trip(
        &dir,
        "resume-even",
        &pattern(8192, 5),
        &pattern(BUF + 77, 6),
    );
}

#[test]
fn zero_buffers_become_holes() {
    let dir = std::env::temp_dir();
    let path = scratch(&dir, "holes");
    let file = open(&path);
    file.set_len(0).unwrap();
    let mut sink = Sink::new(&path, &file, 0, Md5::new()).unwrap();
    let zeros = vec![0u8; 8 * BUF];
    sink.write(&zeros).unwrap();
    sink.write(b"end").unwrap();
    let digest = sink.finish().unwrap();
    let size = zeros.len() as u64 + 3;
    file.set_len(size).unwrap();
    let mut whole = zeros.clone();
    whole.extend_from_slice(b"end");
    assert_eq!(digest, Digest::of(&whole));
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), size);
    assert!(meta.blocks() * 512 < size / 2, "{} blocks", meta.blocks());
    assert_eq!(std::fs::read(&path).unwrap(), whole);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn an_abandoned_download_keeps_every_received_byte() {
    let dir = std::env::temp_dir();
    let path = scratch(&dir, "abandon");
    let file = open(&path);
    file.set_len(0).unwrap();
    let data = pattern(2 * BUF + 999, 7);
    let mut sink = Sink::new(&path, &file, 0, Md5::new()).unwrap();
    sink.write(&data).unwrap();
    drop(sink);
    assert_eq!(std::fs::read(&path).unwrap(), data);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn the_buffered_fallback_works_where_o_direct_does_not() {
    // tmpfs refuses O_DIRECT opens; if /dev/shm is there, use it.
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        return;
    }
    let direct = round_trip(shm, "shm", b"", &pattern(BUF + 4097, 8));
    assert_eq!(direct, supports_direct(shm));
}
