//! Web seed hot paths: planning a piece's requests, and downloading a 64 MiB
//! multi-file torrent piece by piece (hash-checked) from the in-process
//! HTTP/1.1 test server on 127.0.0.1.
//!
//! `cargo bench -p ferro-webseed --features tokio -- --warm-up-time 1 --measurement-time 3`

#![allow(missing_docs)]

#[path = "../tests/support/server.rs"]
mod server;
#[path = "../tests/support/torrent.rs"]
mod torrent;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferro_webseed::{
    ClientConfig, HealthConfig, WebSeedClient, WebSeedWorker, WebSeeds, plan_range, verify_piece,
};

fn bench(c: &mut Criterion) {
    // 64 MiB in 4 files of uneven size, 256 KiB pieces (pieces cross files).
    let mb = 1024 * 1024;
    let files = [
        ("a.bin", 20 * mb + 12_345),
        ("b/b.bin", 10 * mb),
        ("c.bin", 30 * mb - 12_345),
        ("d.bin", 4 * mb),
    ];
    let (root, info, _, _) = torrent::make("bench", &files, 256 * 1024, false, None);
    let total = info.total_length();

    let mut g = c.benchmark_group("plan");
    g.bench_function("plan_range_piece_across_files", |b| {
        let off = 20 * mb as u64 - 1000;
        b.iter(|| {
            plan_range(
                black_box(&info),
                "http://127.0.0.1:1/seed/",
                off,
                256 * 1024,
            )
        })
    });
    let piece = torrent::data_of(root.path(), &info)[..256 * 1024].to_vec();
    g.throughput(Throughput::Bytes(piece.len() as u64));
    g.bench_function("verify_piece_256k", |b| {
        b.iter(|| assert!(verify_piece(&info, 0, black_box(&piece))))
    });
    g.finish();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let srv = rt.block_on(server::start(
        root.path().to_path_buf(),
        server::Behaviour::default(),
    ));
    let client = WebSeedClient::new(ClientConfig::default()).unwrap();
    let mut g = c.benchmark_group("download");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Bytes(total));
    g.bench_function("64MiB_piece_by_piece_verified", |b| {
        b.iter(|| {
            rt.block_on(async {
                let seeds = WebSeeds::with_urls(HealthConfig::default(), [&srv.base]);
                let mut w = WebSeedWorker::new(client.clone(), seeds);
                for p in 0..info.piece_count() {
                    black_box(w.fetch_piece(&info, p).await.unwrap());
                }
            })
        })
    });
    g.bench_function("64MiB_in_8MiB_runs_verified", |b| {
        b.iter(|| {
            rt.block_on(async {
                let seeds = WebSeeds::with_urls(HealthConfig::default(), [&srv.base]);
                let mut w = WebSeedWorker::new(client.clone(), seeds);
                let n = info.piece_count();
                let mut p = 0;
                while p < n {
                    let end = (p + 32).min(n);
                    for (_, r) in w.fetch_pieces(&info, p..end).await.unwrap() {
                        black_box(r.unwrap());
                    }
                    p = end;
                }
            })
        })
    });
    g.finish();
    drop(srv);
}

criterion_group!(benches, bench);
criterion_main!(benches);
