//! Parsing .torrent files: a typical single-file torrent and a generated
//! 20,000-file one; and mapping every piece of the latter to file spans.
//!
//! `cargo bench -p ferro-metainfo --bench parse -- --warm-up-time 1 --measurement-time 3`
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferro_bencode::OwnedValue;
use ferro_metainfo::Metainfo;

fn dict(entries: Vec<(&str, OwnedValue)>) -> OwnedValue {
    OwnedValue::Dict(
        entries
            .into_iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// A torrent of `files` files of varied sizes, pieces of 256 KiB (hashes are zeros).
fn many_files(files: usize) -> Vec<u8> {
    let piece_length = 256 * 1024u64;
    let mut total = 0u64;
    let list = (0..files)
        .map(|i| {
            let len = 1000 + (i as u64 * 7919) % 200_000;
            total += len;
            dict(vec![
                ("length", OwnedValue::Int(len as i64)),
                (
                    "path",
                    OwnedValue::List(vec![
                        OwnedValue::from(format!("dir{:03}", i / 100).as_str()),
                        OwnedValue::from(format!("file-{i:05}.dat").as_str()),
                    ]),
                ),
            ])
        })
        .collect();
    let pieces = vec![0u8; 20 * total.div_ceil(piece_length) as usize];
    let info = dict(vec![
        ("files", OwnedValue::List(list)),
        ("name", OwnedValue::from("many")),
        ("piece length", OwnedValue::Int(piece_length as i64)),
        ("pieces", OwnedValue::Bytes(pieces)),
    ]);
    dict(vec![
        (
            "announce",
            OwnedValue::from("http://127.0.0.1:6969/announce"),
        ),
        ("info", info),
    ])
    .encode()
}

/// A 4 GiB single-file torrent with 4 MiB pieces.
fn single_file() -> Vec<u8> {
    let piece_length = 4u64 << 20;
    let total = 4u64 << 30;
    let info = dict(vec![
        ("length", OwnedValue::Int(total as i64)),
        ("name", OwnedValue::from("debian.iso")),
        ("piece length", OwnedValue::Int(piece_length as i64)),
        (
            "pieces",
            OwnedValue::Bytes(vec![0u8; 20 * (total / piece_length) as usize]),
        ),
    ]);
    dict(vec![
        (
            "announce",
            OwnedValue::from("http://127.0.0.1:6969/announce"),
        ),
        ("comment", OwnedValue::from("a typical single-file torrent")),
        ("creation date", OwnedValue::Int(1_700_000_000)),
        ("info", info),
    ])
    .encode()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("metainfo_parse");
    let single = single_file();
    g.throughput(Throughput::Bytes(single.len() as u64));
    g.bench_function("single_file", |b| {
        b.iter(|| Metainfo::from_bytes(black_box(&single)).map(|m| m.info.piece_count()))
    });
    let many = many_files(20_000);
    g.throughput(Throughput::Bytes(many.len() as u64));
    g.bench_function("files_20000", |b| {
        b.iter(|| Metainfo::from_bytes(black_box(&many)).map(|m| m.info.files().len()))
    });
    g.finish();

    let parsed = Metainfo::from_bytes(&many).unwrap();
    let mut g = c.benchmark_group("metainfo_file_spans");
    g.throughput(Throughput::Elements(u64::from(parsed.info.piece_count())));
    g.bench_function("all_pieces_20000_files", |b| {
        b.iter(|| {
            (0..parsed.info.piece_count())
                .map(|p| parsed.info.file_spans(p).count())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
