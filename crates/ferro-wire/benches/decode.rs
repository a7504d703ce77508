//! Decoder (and encoder) throughput: a stream of mixed small messages, and a stream of
//! 16 KiB `piece` messages. The read buffer is filled outside the timed part
//! (that copy is the socket read's); the timed part is framing and parsing only,
//! so the piece stream's per-message cost shows the block is never copied.
//!
//! Run: `CARGO_TARGET_DIR=/work/targets/wire cargo bench -p ferro-wire --bench decode -- --warm-up-time 1 --measurement-time 3`
#![allow(missing_docs)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ferro_wire::{Block, BlockRequest, Message, MessageDecoder};

const MIXED: usize = 10_000;
const PIECES: usize = 1_000;

fn mixed_stream() -> Bytes {
    let mut b = BytesMut::new();
    for i in 0..MIXED as u32 {
        let r = BlockRequest {
            index: i % 997,
            begin: (i % 16) * 16384,
            length: 16384,
        };
        let m = match i % 10 {
            0 => Message::KeepAlive,
            1 => Message::Unchoke,
            2 => Message::Interested,
            3 | 4 => Message::Have(i),
            5 | 6 => Message::Request(r),
            7 => Message::Cancel(r),
            8 => Message::AllowedFast(i % 997),
            _ => Message::RejectRequest(r),
        };
        m.encode(&mut b);
    }
    b.freeze()
}

fn piece_stream() -> Bytes {
    let mut b = BytesMut::new();
    let block = Bytes::from(vec![0x5a; 16384]);
    for i in 0..PIECES as u32 {
        Message::Piece(Block {
            index: i / 16,
            begin: (i % 16) * 16384,
            data: block.clone(),
        })
        .encode(&mut b);
    }
    b.freeze()
}

fn decode_all(buf: &mut BytesMut) -> usize {
    let mut dec = MessageDecoder::default();
    let mut n = 0;
    while let Ok(Some(m)) = dec.decode(buf) {
        black_box(&m);
        n += 1;
    }
    n
}

fn bench_stream(c: &mut Criterion, name: &str, wire: Bytes, count: usize) {
    let mut g = c.benchmark_group(name);
    for (label, tp) in [
        ("messages", Throughput::Elements(count as u64)),
        ("bytes", Throughput::Bytes(wire.len() as u64)),
    ] {
        g.throughput(tp);
        g.bench_function(label, |bch| {
            bch.iter_batched_ref(
                || BytesMut::from(&wire[..]),
                |buf| assert_eq!(decode_all(buf), count),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// Encoding the same streams into one write buffer (the piece path copies
/// each block once, into the buffer; `Block::header` avoids even that).
fn bench_encode(c: &mut Criterion, name: &str, wire: Bytes, count: usize) {
    let mut dec = MessageDecoder::default();
    let mut buf = BytesMut::from(&wire[..]);
    let mut msgs = Vec::with_capacity(count);
    while let Ok(Some(m)) = dec.decode(&mut buf) {
        msgs.push(m);
    }
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(count as u64));
    g.bench_function("messages", |bch| {
        let mut out = BytesMut::with_capacity(wire.len());
        bch.iter(|| {
            out.clear();
            for m in &msgs {
                m.encode(&mut out);
            }
            black_box(out.len())
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_stream(c, "decode_mixed_small", mixed_stream(), MIXED);
    bench_stream(c, "decode_piece_16k", piece_stream(), PIECES);
    bench_encode(c, "encode_mixed_small", mixed_stream(), MIXED);
    bench_encode(c, "encode_piece_16k", piece_stream(), PIECES);
}

criterion_group!(decode, benches);
criterion_main!(decode);
