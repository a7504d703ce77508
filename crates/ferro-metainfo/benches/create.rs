//! Making a torrent: reading and hashing 32 MiB (from the page cache) with
//! one thread and with all cores.
//!
//! `cargo bench -p ferro-metainfo --bench create -- --warm-up-time 1 --measurement-time 3`
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferro_metainfo::TorrentBuilder;

const SIZE: usize = 32 << 20;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.bin");
    let data: Vec<u8> = (0..SIZE)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3])
        .collect();
    std::fs::write(&file, data).unwrap();

    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut g = c.benchmark_group("metainfo_create");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.sample_size(10);
    for threads in [1, cores] {
        g.bench_function(format!("hash_32MiB_256KiB_pieces_{threads}_threads"), |b| {
            b.iter(|| {
                TorrentBuilder::new(&file)
                    .piece_length(256 << 10)
                    .threads(threads)
                    .build()
                    .unwrap()
                    .metainfo
                    .info_hash()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
