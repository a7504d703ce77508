use super::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn full(n: u32) -> Bitfield {
    Bitfield::full(n as usize)
}

fn only(n: u32, pieces: &[u32]) -> Bitfield {
    let mut b = Bitfield::new(n as usize);
    for &p in pieces {
        b.set(p, true);
    }
    b
}

#[test]
fn blocks_cover_pieces_and_last_block_is_short() {
    let p = PiecePicker::new(40_000, 100_000);
    assert_eq!(p.piece_count(), 3);
    assert_eq!(p.block_count(0), 3);
    assert_eq!(p.block_request(0, 2).length, 40_000 - 2 * BLOCK_LEN);
    assert_eq!(p.piece_size(2), 20_000);
    assert_eq!(p.block_count(2), 2);
    assert!(p.is_valid_block(&p.block_request(2, 1)));
    assert!(!p.is_valid_block(&BlockRequest {
        index: 2,
        begin: 16384,
        length: 16384
    }));
    assert!(!p.is_valid_block(&BlockRequest {
        index: 3,
        begin: 0,
        length: 16384
    }));
    assert!(!p.is_valid_block(&BlockRequest {
        index: 0,
        begin: 1,
        length: 16384
    }));
}

#[test]
fn partial_pieces_come_first() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut p = PiecePicker::new(4 * BLOCK_LEN as u64, 40 * BLOCK_LEN as u64);
    let first = p.pick(1, &full(10), 2, &mut rng);
    assert_eq!(first.len(), 2);
    let piece = first[0].index;
    assert!(first.iter().all(|r| r.index == piece));
    // Another peer continues that piece before starting a new one.
    let second = p.pick(2, &full(10), 2, &mut rng);
    assert!(second.iter().all(|r| r.index == piece));
    assert_eq!(second[0].begin, 2 * BLOCK_LEN);
}

#[test]
fn rarest_first_after_random_start() {
    let mut rng = StdRng::seed_from_u64(7);
    let n = 20;
    let mut p = PiecePicker::new(u64::from(BLOCK_LEN), u64::from(n) * u64::from(BLOCK_LEN));
    p.set_have(&only(n, &[0, 1, 2, 3]));
    // Everyone has everything; piece 17 is only on one peer.
    for _ in 0..3 {
        p.add_availability(&only(n, &(0..n).filter(|&x| x != 17).collect::<Vec<_>>()));
    }
    p.add_availability(&full(n));
    let pick = p.pick(9, &full(n), 1, &mut rng);
    assert_eq!(pick[0].index, 17);
}

#[test]
fn ties_are_broken_at_random() {
    let n = 64;
    let mut firsts = std::collections::HashSet::new();
    for seed in 0..20 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut p = PiecePicker::new(u64::from(BLOCK_LEN), u64::from(n) * u64::from(BLOCK_LEN));
        p.set_have(&only(n, &[0, 1, 2, 3, 4]));
        p.add_availability(&full(n));
        firsts.insert(p.pick(1, &full(n), 1, &mut rng)[0].index);
    }
    assert!(firsts.len() > 5, "{firsts:?}");
}

#[test]
fn end_game_duplicates_then_cancels() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut p = PiecePicker::new(2 * u64::from(BLOCK_LEN), 2 * u64::from(BLOCK_LEN));
    let a = p.pick(1, &full(1), 10, &mut rng);
    assert_eq!(a.len(), 2);
    assert!(p.in_end_game());
    // Peer 2 gets the same blocks as duplicates; peer 1 gets nothing more.
    let b = p.pick(2, &full(1), 10, &mut rng);
    assert_eq!(b.len(), 2);
    assert!(p.pick(1, &full(1), 10, &mut rng).is_empty());
    match p.block_received(2, &a[0]) {
        BlockOutcome::New {
            others,
            piece_complete,
        } => {
            assert_eq!(others, vec![1]);
            assert!(!piece_complete);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.block_received(1, &a[0]), BlockOutcome::Unneeded);
    assert!(matches!(
        p.block_received(1, &a[1]),
        BlockOutcome::New {
            piece_complete: true,
            ..
        }
    ));
    p.piece_verified(0);
    assert!(p.is_complete());
    assert_eq!(p.left(), 0);
}

#[test]
fn failed_piece_is_downloaded_again() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut p = PiecePicker::new(u64::from(BLOCK_LEN), 2 * u64::from(BLOCK_LEN));
    let r = p.pick(1, &only(2, &[1]), 5, &mut rng);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].index, 1);
    assert!(matches!(
        p.block_received(1, &r[0]),
        BlockOutcome::New {
            piece_complete: true,
            ..
        }
    ));
    p.piece_failed(1);
    assert_eq!(p.pick(2, &only(2, &[1]), 5, &mut rng), r);
}

#[test]
fn cancelled_request_is_picked_again() {
    let mut rng = StdRng::seed_from_u64(4);
    let mut p = PiecePicker::new(u64::from(BLOCK_LEN), u64::from(BLOCK_LEN));
    let r = p.pick(1, &full(1), 5, &mut rng);
    p.cancel(1, &r[0]);
    assert_eq!(p.pick(2, &full(1), 5, &mut rng), r);
}

#[test]
fn interest_follows_what_we_lack() {
    let mut p = PiecePicker::new(10, 30);
    assert!(p.is_interesting(&only(3, &[2])));
    p.piece_verified(2);
    assert!(!p.is_interesting(&only(3, &[2])));
    assert!(!p.is_interesting(&Bitfield::new(3)));
}

proptest::proptest! {
    /// Any interleaving of peers, picks, losses and arrivals downloads every
    /// piece exactly once, never asks one peer twice for a block and never
    /// asks a peer for a piece it lacks.
    #[test]
    fn swarm_simulation_completes(
        piece_blocks in 1u64..5,
        pieces in 1u32..30,
        tail in 0u64..16384,
        peers in proptest::collection::vec(proptest::collection::vec(proptest::bool::ANY, 30), 1..5),
        seed in 0u64..1000,
        steps in proptest::collection::vec((0usize..5, 1usize..8, proptest::bool::weighted(0.1)), 1..400),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let piece_len = piece_blocks * u64::from(BLOCK_LEN);
        let total = (u64::from(pieces) - 1) * piece_len + tail.max(1);
        let mut p = PiecePicker::new(piece_len, total);
        let n = p.piece_count();
        // The last peer is a seed so completion is always possible.
        let mut haves: Vec<Bitfield> = peers.iter().map(|bits| {
            let mut b = Bitfield::new(n as usize);
            for (i, on) in bits.iter().enumerate().take(n as usize) { b.set(i as u32, *on); }
            b
        }).collect();
        haves.push(Bitfield::full(n as usize));
        for h in &haves { p.add_availability(h); }
        let mut outstanding: Vec<Vec<BlockRequest>> = vec![Vec::new(); haves.len()];
        let mut received = std::collections::HashSet::new();
        let mut drive = |p: &mut PiecePicker, who: usize, max: usize, drop: bool, outstanding: &mut Vec<Vec<BlockRequest>>| {
            let key = who as PeerKey;
            let new = p.pick(key, &haves[who], max, &mut rng);
            for r in &new {
                proptest::prop_assert!(haves[who].get(r.index));
                proptest::prop_assert!(!outstanding[who].contains(r));
            }
            outstanding[who].extend(new);
            if let Some(r) = outstanding[who].pop() {
                if drop {
                    p.cancel(key, &r);
                } else if let BlockOutcome::New { piece_complete, .. } = p.block_received(key, &r) {
                    proptest::prop_assert!(received.insert(r));
                    if piece_complete { p.piece_verified(r.index); }
                }
            }
            Ok(())
        };
        for (who, max, drop) in steps {
            let who = who % haves.len();
            drive(&mut p, who, max, drop, &mut outstanding)?;
        }
        // Then the seed alone finishes, bounded.
        let seed_peer = haves.len() - 1;
        for _ in 0..10_000 {
            if p.is_complete() { break; }
            for (who, out) in outstanding.iter_mut().enumerate().take(seed_peer) {
                for r in std::mem::take(out) { p.cancel(who as PeerKey, &r); }
            }
            drive(&mut p, seed_peer, 8, false, &mut outstanding)?;
        }
        proptest::prop_assert!(p.is_complete());
        let blocks: u32 = (0..n).map(|i| p.block_count(i)).sum();
        proptest::prop_assert_eq!(received.len() as u32, blocks);
    }
}
