//! TorrentBuilder: create → parse → same info-hash, files, and every piece verifies.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use ferro_metainfo::{Error, Metainfo, TorrentBuilder, auto_piece_length, safe_join};
use sha1::{Digest, Sha1};

/// Deterministic pseudo-random bytes.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Checks every piece of `m` against the files under `download_dir`, reading
/// through `file_spans` (padding bytes are zeros).
fn verify(m: &Metainfo, download_dir: &Path) {
    let info = &m.info;
    for piece in 0..info.piece_count() {
        let start = info.piece_offset(piece).unwrap();
        let mut buf = vec![0u8; info.piece_size(piece).unwrap() as usize];
        for span in info.file_spans(piece) {
            let file = &info.files()[span.file_index];
            let bytes = fs::read(safe_join(download_dir, &file.path).unwrap()).unwrap();
            let at = (file.offset + span.file_offset - start) as usize;
            let from = span.file_offset as usize;
            buf[at..at + span.len as usize].copy_from_slice(&bytes[from..from + span.len as usize]);
        }
        let hash: [u8; 20] = Sha1::digest(&buf).into();
        assert_eq!(&hash, info.piece_hash(piece).unwrap(), "piece {piece}");
    }
}

/// A directory tree with nested dirs, empty files and sizes around piece boundaries.
fn make_tree(root: &Path) {
    fs::create_dir_all(root.join("sub/deeper")).unwrap();
    fs::create_dir_all(root.join("empty-dir")).unwrap();
    fs::write(root.join("b.bin"), data(40_000, 1)).unwrap();
    fs::write(root.join("a.txt"), b"hello").unwrap();
    fs::write(root.join("zero"), b"").unwrap();
    fs::write(root.join("sub/c.bin"), data(16_384, 2)).unwrap();
    fs::write(root.join("sub/deeper/d.bin"), data(100_001, 3)).unwrap();
    fs::write(root.join(".hidden"), b"kept").unwrap();
}

#[test]
fn directory_round_trip_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("tree");
    make_tree(&root);
    let made = TorrentBuilder::new(&root)
        .piece_length(16_384)
        .build()
        .unwrap();
    let m = Metainfo::from_bytes(&made.bytes).unwrap();
    assert_eq!(m.info_hash(), made.metainfo.info_hash());
    assert_eq!(m.info.name(), "tree");
    assert!(m.info.is_multi_file());
    let paths: Vec<_> = m
        .info
        .files()
        .iter()
        .map(|f| f.path.to_str().unwrap().to_owned())
        .collect();
    // Sorted component by component, byte order; empty dirs leave no trace.
    assert_eq!(
        paths,
        [
            "tree/.hidden",
            "tree/a.txt",
            "tree/b.bin",
            "tree/sub/c.bin",
            "tree/sub/deeper/d.bin",
            "tree/zero"
        ]
    );
    assert_eq!(m.info.total_length(), 4 + 5 + 40_000 + 16_384 + 100_001);
    verify(&m, tmp.path());
}

#[test]
fn single_file_round_trip_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("one.iso");
    fs::write(&file, data(1_000_000, 9)).unwrap();
    let made = TorrentBuilder::new(&file).build().unwrap();
    let m = made.metainfo;
    assert!(!m.info.is_multi_file());
    assert_eq!(m.info.name(), "one.iso");
    assert_eq!(m.info.piece_length(), 16_384);
    assert_eq!(m.info.piece_count(), 62);
    assert_eq!(m.info.last_piece_size(), 1_000_000 - 61 * 16_384);
    verify(&m, tmp.path());
}

#[test]
fn output_is_deterministic_whatever_the_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("tree");
    make_tree(&root);
    let one = TorrentBuilder::new(&root)
        .piece_length(16_384)
        .threads(1)
        .build()
        .unwrap();
    let four = TorrentBuilder::new(&root)
        .piece_length(16_384)
        .threads(4)
        .build()
        .unwrap();
    assert_eq!(one.bytes, four.bytes);
    let again = TorrentBuilder::new(&root)
        .piece_length(16_384)
        .build()
        .unwrap();
    assert_eq!(one.bytes, again.bytes);
}

#[test]
fn padding_aligns_every_file() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("tree");
    make_tree(&root);
    let made = TorrentBuilder::new(&root)
        .piece_length(16_384)
        .pad_files(true)
        .build()
        .unwrap();
    let m = Metainfo::from_bytes(&made.bytes).unwrap();
    let files = m.info.files();
    assert!(files.iter().any(|f| f.is_padding()));
    for f in files.iter().filter(|f| !f.is_padding() && f.length > 0) {
        assert_eq!(f.offset % 16_384, 0, "{}", f.path.display());
    }
    // No padding after the last file, and pads are named .pad/N (BEP 47).
    assert!(!files.last().unwrap().is_padding());
    for f in files.iter().filter(|f| f.is_padding()) {
        assert_eq!(f.path, Path::new("tree/.pad").join(f.length.to_string()));
    }
    // No piece mixes two files.
    for p in 0..m.info.piece_count() {
        assert!(m.info.file_spans(p).count() <= 1, "piece {p}");
    }
    verify(&m, tmp.path());
    assert_ne!(
        m.info_hash(),
        TorrentBuilder::new(&root)
            .piece_length(16_384)
            .build()
            .unwrap()
            .metainfo
            .info_hash()
    );
}

#[test]
fn metadata_options_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("f");
    fs::write(&file, data(50_000, 4)).unwrap();
    let made = TorrentBuilder::new(&file)
        .name("renamed.bin")
        .tracker("http://127.0.0.1:1/announce")
        .tracker_tier(vec!["udp://127.0.0.1:2".into(), "udp://127.0.0.1:3".into()])
        .web_seed("http://127.0.0.1:4/files/")
        .private(true)
        .comment("a comment")
        .created_by("ferro test")
        .creation_date(1_234_567_890)
        .build()
        .unwrap();
    let m = Metainfo::from_bytes(&made.bytes).unwrap();
    assert_eq!(m.info.name(), "renamed.bin");
    assert_eq!(m.announce.as_deref(), Some("http://127.0.0.1:1/announce"));
    assert_eq!(
        m.trackers,
        vec![
            vec!["http://127.0.0.1:1/announce".to_owned()],
            vec![
                "udp://127.0.0.1:2".to_owned(),
                "udp://127.0.0.1:3".to_owned()
            ]
        ]
    );
    assert_eq!(m.web_seeds, ["http://127.0.0.1:4/files/"]);
    assert!(m.info.is_private());
    assert_eq!(m.comment.as_deref(), Some("a comment"));
    assert_eq!(m.created_by.as_deref(), Some("ferro test"));
    assert_eq!(m.creation_date, Some(1_234_567_890));
    // Canonical: decoding in strict mode succeeds.
    ferro_bencode::decode_with(&made.bytes, &ferro_bencode::DecodeOptions::strict()).unwrap();
    // Without a date or trackers, nothing time-dependent or optional is written.
    let plain = TorrentBuilder::new(&file).build().unwrap();
    assert!(
        Metainfo::from_bytes(&plain.bytes)
            .unwrap()
            .creation_date
            .is_none()
    );
    assert!(plain.bytes.starts_with(b"d4:infod6:length"));
}

#[test]
fn progress_reaches_the_total() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("tree");
    make_tree(&root);
    let last = AtomicU64::new(0);
    let calls = AtomicU64::new(0);
    let made = TorrentBuilder::new(&root)
        .piece_length(16_384)
        .threads(2)
        .build_with_progress(&|done, total| {
            assert!(done <= total);
            last.fetch_max(done, Ordering::Relaxed);
            calls.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    assert_eq!(
        last.load(Ordering::Relaxed),
        made.metainfo.info.total_length()
    );
    assert_eq!(
        calls.load(Ordering::Relaxed),
        u64::from(made.metainfo.info.piece_count())
    );
}

#[test]
fn auto_piece_length_aims_at_1000_to_2000_pieces() {
    assert_eq!(auto_piece_length(1), 16 << 10);
    assert_eq!(auto_piece_length(2000 * 16384), 16 << 10);
    assert_eq!(auto_piece_length(2000 * 16384 + 1), 32 << 10);
    for shift in 25..=34 {
        let total = 1u64 << shift; // 32 MiB .. 16 GiB
        let len = auto_piece_length(total);
        let pieces = total.div_ceil(len);
        assert!(len.is_power_of_two());
        assert!(
            (1000..=2000).contains(&pieces),
            "{total}: {len} -> {pieces}"
        );
    }
    assert_eq!(auto_piece_length(1 << 50), 16 << 20);
}

#[test]
fn bad_inputs_are_named_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    assert!(matches!(
        TorrentBuilder::new(&empty).build(),
        Err(Error::NoData)
    ));
    fs::write(empty.join("z"), b"").unwrap();
    assert!(matches!(
        TorrentBuilder::new(&empty).build(),
        Err(Error::NoData)
    ));
    let file = tmp.path().join("f");
    fs::write(&file, b"x").unwrap();
    for bad in [0, 1000, 8192, 3 << 14, 512 << 20] {
        assert!(
            matches!(
                TorrentBuilder::new(&file).piece_length(bad).build(),
                Err(Error::InvalidOption(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        TorrentBuilder::new(tmp.path().join("missing")).build(),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        TorrentBuilder::new(&file).name("..").build(),
        Err(Error::PathTraversal(_))
    ));
}

#[cfg(unix)]
#[test]
fn symlinks_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("tree");
    fs::create_dir(&root).unwrap();
    fs::write(root.join("real"), b"data").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("link")).unwrap();
    let m = TorrentBuilder::new(&root).build().unwrap().metainfo;
    assert_eq!(m.info.files().len(), 1);
    assert_eq!(m.info.files()[0].path, Path::new("tree/real"));
}
