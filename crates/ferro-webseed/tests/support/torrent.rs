//! Test torrents made with ferro_metainfo::TorrentBuilder from generated files.

#![allow(dead_code)]

use std::path::Path;

use ferro_metainfo::{Info, TorrentBuilder};
use tempfile::TempDir;

/// Deterministic pseudo-random bytes (xorshift), different per `seed`.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A torrent named `name` over `files` (relative path, size) written under a
/// temp dir; returns the dir (the web root), the info and the torrent's data
/// (padding as zeros), in torrent order.
pub fn make(
    name: &str,
    files: &[(&str, usize)],
    piece_length: u64,
    pad: bool,
    web_seed: Option<&str>,
) -> (TempDir, Info, Vec<u8>, Vec<u8>) {
    let root = tempfile::tempdir().unwrap();
    let top = root.path().join(name);
    for (i, (path, size)) in files.iter().enumerate() {
        let p = top.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes(*size, i as u64 + 1)).unwrap();
    }
    let mut b = TorrentBuilder::new(&top)
        .piece_length(piece_length)
        .pad_files(pad)
        .threads(1);
    if let Some(url) = web_seed {
        b = b.web_seed(url);
    }
    let made = b.build().unwrap();
    let info = made.metainfo.info.clone();
    let data = data_of(root.path(), &info);
    (root, info, data, made.bytes)
}

/// The torrent's data read back from `root` (padding as zeros).
pub fn data_of(root: &Path, info: &Info) -> Vec<u8> {
    let mut data = Vec::new();
    for f in info.files() {
        if f.is_padding() {
            data.extend(std::iter::repeat_n(0u8, f.length as usize));
        } else {
            data.extend(std::fs::read(root.join(&f.path)).unwrap());
        }
    }
    assert_eq!(data.len() as u64, info.total_length());
    data
}

/// The usual multi-file layout: pieces cross file boundaries (without
/// padding), an empty file, nested dirs, names that need percent-encoding.
pub const FILES: &[(&str, usize)] = &[
    ("a.bin", 100_000),
    ("empty", 0),
    ("sub dir/b #1.bin", 50_000),
    ("sub dir/deeper/c.bin", 16_384),
    ("d.bin", 300_001),
    ("z", 7),
];
