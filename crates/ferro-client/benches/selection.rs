//! Picker hot path with file selection: picking a pipeline's worth of blocks
//! when half the pieces are skipped, with mixed priorities, and in
//! sequential mode; and setting the piece priorities of a large torrent.
use criterion::{Criterion, criterion_group, criterion_main};
use ferro_client::picker::{BLOCK_LEN, BlockOutcome, PiecePicker};
use ferro_wire::Bitfield;
use rand::SeedableRng;

/// 1 GiB in 256 KiB pieces: 4096 pieces of 16 blocks.
const PIECES: u32 = 4096;

/// Every other run of 64 pieces skipped, the rest low, normal or high.
fn priorities() -> Vec<u8> {
    (0..PIECES)
        .map(|p| match (p / 64) % 4 {
            0 | 2 => 0,
            1 => 1,
            _ => 7,
        })
        .collect()
}

fn picker(sequential: bool) -> PiecePicker {
    let piece_len = 16 * u64::from(BLOCK_LEN);
    let mut p = PiecePicker::new(piece_len, u64::from(PIECES) * piece_len);
    p.add_availability(&Bitfield::full(PIECES as usize));
    p.set_piece_priorities(&priorities());
    p.set_sequential(sequential);
    p
}

fn pick_with_selection(c: &mut Criterion) {
    let all = Bitfield::full(PIECES as usize);
    for (name, sequential) in [
        (
            "pick 64 blocks + receive, half skipped (4096 pieces)",
            false,
        ),
        ("pick 64 blocks + receive, sequential (4096 pieces)", true),
    ] {
        c.bench_function(name, |b| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(1);
            let mut p = picker(sequential);
            b.iter(|| {
                let reqs = p.pick(1, &all, 64, &mut rng);
                if reqs.is_empty() {
                    p = picker(sequential);
                }
                for r in reqs {
                    if let BlockOutcome::New {
                        piece_complete: true,
                        ..
                    } = p.block_received(1, &r)
                    {
                        p.piece_verified(r.index);
                    }
                }
            })
        });
    }
    let prios = priorities();
    c.bench_function("set_piece_priorities (4096 pieces)", |b| {
        let mut p = picker(false);
        b.iter(|| p.set_piece_priorities(std::hint::black_box(&prios)))
    });
}

criterion_group!(benches, pick_with_selection);
criterion_main!(benches);
