//! Decoding speed of ferro-bencode against the other Rust bencode crates.
//!
//! Each crate decodes the whole input into its own generic, navigable value
//! type (what a caller needs to read an arbitrary torrent or KRPC message):
//! ferro's tape `Document`, serde_bencode's `Value`, bendy's `Value`,
//! bt_bencode's `Value` and librqbit-bencode's `BencodeValueBorrowed`.
//! `ferro (serde OwnedValue)` is shown too: ferro's allocating path.
//!
//! Run: `cargo bench -p ferro-bencode --bench decode`
#![allow(missing_docs)]

use std::hint::black_box;

use bendy::decoding::{Decoder, FromBencode};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferro_bencode::Encoder;

/// A typical single-file torrent: ~350 MiB in 256 KiB pieces, tiers, comment.
fn single_file_torrent() -> Vec<u8> {
    let mut e = Encoder::new(Vec::new());
    e.begin_dict();
    e.str("announce");
    e.str("http://tracker.example.org:6969/announce");
    e.str("announce-list");
    e.begin_list();
    for t in [
        "http://tracker.example.org:6969/announce",
        "udp://tracker.example.net:1337/announce",
    ] {
        e.begin_list();
        e.str(t);
        e.end();
    }
    e.end();
    e.str("comment");
    e.str("A Linux distribution image, for benchmarking");
    e.str("created by");
    e.str("mktorrent 1.1");
    e.str("creation date");
    e.int(1_700_000_000);
    e.str("info");
    e.begin_dict();
    e.str("length");
    e.int(367_001_600);
    e.str("name");
    e.str("distro-24.04-desktop-amd64.iso");
    e.str("piece length");
    e.int(262_144);
    e.str("pieces");
    let pieces: Vec<u8> = (0..1400 * 20).map(|i| (i * 31 % 251) as u8).collect();
    e.bytes(&pieces);
    e.end();
    e.end();
    e.into_inner()
}

/// A generated torrent of 20,000 files in 200 directories.
fn many_files_torrent() -> Vec<u8> {
    let mut e = Encoder::new(Vec::new());
    e.begin_dict();
    e.str("announce");
    e.str("http://tracker.example.org/announce");
    e.str("info");
    e.begin_dict();
    e.str("files");
    e.begin_list();
    for i in 0..20_000u32 {
        e.begin_dict();
        e.str("length");
        e.int(i64::from(i) * 977 + 13);
        e.str("path");
        e.begin_list();
        e.str(&format!("directory-{:03}", i / 100));
        e.str(&format!("file-{i:05}.dat"));
        e.end();
        e.end();
    }
    e.end();
    e.str("name");
    e.str("many-files");
    e.str("piece length");
    e.int(4_194_304);
    e.str("pieces");
    e.bytes(&vec![0xab; 20 * 48]);
    e.end();
    e.end();
    e.into_inner()
}

/// A DHT get_peers response with 8 nodes, a token and 50 peers (BEP 5).
fn get_peers_response() -> Vec<u8> {
    let mut e = Encoder::new(Vec::new());
    e.begin_dict();
    e.str("ip");
    e.bytes(&[127, 0, 0, 1, 0x1a, 0xe1]);
    e.str("r");
    e.begin_dict();
    e.str("id");
    e.bytes(&[0x42; 20]);
    e.str("nodes");
    e.bytes(&(0..26 * 8).map(|i| i as u8).collect::<Vec<_>>());
    e.str("token");
    e.bytes(b"\x01\x02\x03\x04\x05\x06\x07\x08");
    e.str("values");
    e.begin_list();
    for i in 0..50u8 {
        e.bytes(&[10, 0, i, 1, 0x1a, i]);
    }
    e.end();
    e.end();
    e.str("t");
    e.str("aa");
    e.str("v");
    e.str("LT\x01\x02");
    e.str("y");
    e.str("r");
    e.end();
    e.into_inner()
}

/// bendy's `Value::from_bencode` allows a nesting depth of 0 (it rejects any
/// torrent), so drive its decoder with the same depth limit as ours.
fn bendy_decode(input: &[u8]) -> bool {
    let mut d = Decoder::new(input).with_max_depth(128);
    match d.next_object() {
        Ok(Some(obj)) => bendy::value::Value::decode_bencode_object(obj).is_ok(),
        _ => false,
    }
}

fn bench(c: &mut Criterion) {
    let inputs = [
        ("single_file_torrent", single_file_torrent()),
        ("20000_file_torrent", many_files_torrent()),
        ("dht_get_peers_response", get_peers_response()),
    ];
    for (name, input) in &inputs {
        // Every crate must accept the input, or the comparison means nothing.
        assert!(ferro_bencode::decode(input).is_ok());
        assert!(serde_bencode::from_bytes::<serde_bencode::value::Value>(input).is_ok());
        assert!(bendy_decode(input));
        assert!(bt_bencode::from_slice::<bt_bencode::Value>(input).is_ok());
        assert!(
            librqbit_bencode::from_bytes::<librqbit_bencode::BencodeValueBorrowed<'_>>(input)
                .is_ok()
        );

        let mut g = c.benchmark_group(format!("decode/{name}"));
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_with_input(BenchmarkId::new("ferro", input.len()), input, |b, i| {
            b.iter(|| ferro_bencode::decode(black_box(i)).map(|d| d.len()))
        });
        g.bench_with_input(
            BenchmarkId::new("ferro (serde OwnedValue)", input.len()),
            input,
            |b, i| {
                b.iter(|| {
                    ferro_bencode::from_bytes::<ferro_bencode::OwnedValue>(black_box(i)).is_ok()
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("serde_bencode", input.len()),
            input,
            |b, i| {
                b.iter(|| {
                    serde_bencode::from_bytes::<serde_bencode::value::Value>(black_box(i)).is_ok()
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("bendy", input.len()), input, |b, i| {
            b.iter(|| bendy_decode(black_box(i)))
        });
        g.bench_with_input(
            BenchmarkId::new("bt_bencode", input.len()),
            input,
            |b, i| b.iter(|| bt_bencode::from_slice::<bt_bencode::Value>(black_box(i)).is_ok()),
        );
        g.bench_with_input(
            BenchmarkId::new("librqbit-bencode", input.len()),
            input,
            |b, i| {
                b.iter(|| {
                    librqbit_bencode::from_bytes::<librqbit_bencode::BencodeValueBorrowed<'_>>(
                        black_box(i),
                    )
                    .is_ok()
                })
            },
        );
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
