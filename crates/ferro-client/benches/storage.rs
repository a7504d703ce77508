//! The verify-and-write path of a downloaded piece: SHA-1 of a 1 MiB piece
//! (`Storage::piece_matches`) and writing it (`Storage::write_piece`, direct
//! I/O where the file system allows), with a buffered `pwrite` of the same
//! bytes as the reference. The loops rewrite 64 MiB over and over, so the
//! buffered reference overwrites pages already cached: its best case (a
//! download writes fresh pages, see docs/benchmarks.md). Files live in a
//! temporary directory (`TMPDIR`).
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferro_client::storage::Storage;
use ferro_metainfo::TorrentBuilder;

const PIECE: usize = 1 << 20;
const PIECES: usize = 64;

fn verify_and_write(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let payload: Vec<u8> = (0..PIECE * PIECES)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1])
        .collect();
    std::fs::write(src.join("payload.bin"), &payload).unwrap();
    let made = TorrentBuilder::new(src.join("payload.bin"))
        .piece_length(PIECE as u64)
        .build()
        .unwrap();
    let info = Arc::new(made.metainfo.info.clone());
    let storage = Storage::open(info, &tmp.path().join("out")).unwrap();
    let piece = |i: usize| &payload[i * PIECE..(i + 1) * PIECE];

    let mut g = c.benchmark_group("piece 1 MiB");
    g.throughput(Throughput::Bytes(PIECE as u64));
    g.bench_function("sha1 verify", |b| {
        let mut i = 0;
        b.iter(|| {
            assert!(storage.piece_matches(i as u32, piece(i)));
            i = (i + 1) % PIECES;
        })
    });
    g.bench_function("write_piece (direct I/O)", |b| {
        let mut i = 0;
        b.iter(|| {
            storage.write_piece(i as u32, piece(i)).unwrap();
            i = (i + 1) % PIECES;
        })
    });
    let reference = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp.path().join("buffered.bin"))
        .unwrap();
    g.bench_function("buffered pwrite (reference)", |b| {
        let mut i = 0;
        b.iter(|| {
            reference
                .write_all_at(piece(i), (i * PIECE) as u64)
                .unwrap();
            i = (i + 1) % PIECES;
        })
    });
    g.finish();
}

criterion_group!(benches, verify_and_write);
criterion_main!(benches);
