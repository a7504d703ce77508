//! Picker hot path: picking a pipeline's worth of blocks and taking them back.
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

criterion_group!(benches, pick_and_receive);
criterion_main!(benches);
