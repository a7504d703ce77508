//! Picker hot paths: picking a pipeline's worth of blocks and taking them
//! back, and reserving a web seed's run of whole pieces (BEP 19).
use criterion::{Criterion, criterion_group, criterion_main};
use ferro_client::picker::{BLOCK_LEN, BlockOutcome, PiecePicker};
use ferro_wire::Bitfield;
use rand::SeedableRng;

fn pick_and_receive(c: &mut Criterion) {
    // 1 GiB in 256 KiB pieces: 4096 pieces of 16 blocks.
    let pieces = 4096u32;
    let piece_len = 16 * u64::from(BLOCK_LEN);
    let all = Bitfield::full(pieces as usize);
    c.bench_function("pick 64 blocks + receive (4096 pieces)", |b| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut picker = PiecePicker::new(piece_len, u64::from(pieces) * piece_len);
        picker.add_availability(&all);
        b.iter(|| {
            let reqs = picker.pick(1, &all, 64, &mut rng);
            if reqs.is_empty() {
                picker = PiecePicker::new(piece_len, u64::from(pieces) * piece_len);
                picker.add_availability(&all);
            }
            for r in reqs {
                if let BlockOutcome::New {
                    piece_complete: true,
                    ..
                } = picker.block_received(1, &r)
                {
                    picker.piece_verified(r.index);
                }
            }
        })
    });
}

fn web_seed_run(c: &mut Criterion) {
    // 1 GiB in 256 KiB pieces; half the pieces on peers, a run of 8 at a time
    // (2 MiB), every piece delivered and verified: a scan per run.
    let pieces = 4096u32;
    let piece_len = 16 * u64::from(BLOCK_LEN);
    let mut half = Bitfield::new(pieces as usize);
    for p in (0..pieces).step_by(2) {
        half.set(p, true);
    }
    let fresh = || {
        let mut picker = PiecePicker::new(piece_len, u64::from(pieces) * piece_len);
        picker.add_availability(&half);
        picker
    };
    c.bench_function(
        "web seed: reserve a run of 8 + deliver (4096 pieces)",
        |b| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(2);
            let mut picker = fresh();
            b.iter(|| {
                let Some(run) = picker.reserve_web_seed_run(1, 8, |_| true, &mut rng) else {
                    picker = fresh();
                    return;
                };
                for p in run {
                    if let BlockOutcome::New { .. } = picker.web_seed_piece_received(1, p) {
                        picker.piece_verified(p);
                    }
                }
            })
        },
    );
}

criterion_group!(benches, pick_and_receive, web_seed_run);
criterion_main!(benches);
