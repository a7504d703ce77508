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

// ---- Web seeds (BEP 19): a peer with every piece, fetching whole pieces ----

/// The web seed's key in these tests (peers use small numbers).
const WS: PeerKey = 1000;

fn reserved(p: &PiecePicker, seed: PeerKey) -> Vec<u32> {
    (0..p.piece_count())
        .filter(|&i| p.is_reserved_for(seed, i))
        .collect()
}

#[test]
fn web_seed_reserves_a_contiguous_run_peers_never_pick() {
    let mut rng = StdRng::seed_from_u64(11);
    let n = 12;
    let mut p = PiecePicker::new(
        2 * u64::from(BLOCK_LEN),
        u64::from(n) * 2 * u64::from(BLOCK_LEN),
    );
    let run = p.reserve_web_seed_run(WS, 5, |_| true, &mut rng).unwrap();
    assert_eq!(run.len(), 5);
    assert_eq!(reserved(&p, WS), run.clone().collect::<Vec<_>>());
    assert!(!p.in_end_game());
    // A peer with every piece takes everything else, never a reserved block.
    let mut got = std::collections::HashSet::new();
    for _ in 0..20 {
        if p.in_end_game() {
            break;
        }
        for r in p.pick(1, &full(n), 4, &mut rng) {
            assert!(
                !run.contains(&r.index),
                "peer got reserved piece {}",
                r.index
            );
            got.insert(r.index);
        }
    }
    assert_eq!(got.len(), (n - 5) as usize);
    // Peers now in end-game may duplicate the web seed's blocks.
    assert!(p.in_end_game());
    let dup = p.pick(2, &full(n), 100, &mut rng);
    assert!(dup.iter().any(|r| run.contains(&r.index)));
}

#[test]
fn web_seed_never_takes_pieces_peers_started() {
    let mut rng = StdRng::seed_from_u64(12);
    let n = 10;
    let mut p = PiecePicker::new(
        4 * u64::from(BLOCK_LEN),
        u64::from(n) * 4 * u64::from(BLOCK_LEN),
    );
    // Peers start pieces 0..4 (one block each, most blocks still missing).
    let started: Vec<u32> = (1..=4)
        .map(|k| p.pick(k, &only(n, &[k as u32 - 1]), 1, &mut rng)[0].index)
        .collect();
    assert_eq!(started, [0, 1, 2, 3]);
    let mut taken = Vec::new();
    for _ in 0..2 {
        taken.extend(p.reserve_web_seed_run(WS, 3, |_| true, &mut rng).unwrap());
    }
    taken.sort_unstable();
    assert_eq!(taken, [4, 5, 6, 7, 8, 9]);
    // Peers are not in end-game (pieces 0..4 have missing blocks) and get
    // none of the web seed's pieces.
    assert!(!p.in_end_game());
    let more = p.pick(1, &full(n), 100, &mut rng);
    assert!(!more.is_empty());
    assert!(more.iter().all(|r| r.index < 4), "{more:?}");
    // Every piece is started: the web seed's end-game may now take one of
    // the peers' pieces, one at a time, never one it already holds.
    let dup = p.reserve_web_seed_run(WS, 3, |_| true, &mut rng).unwrap();
    assert_eq!(dup.len(), 1);
    assert!(dup.start < 4);
}

#[test]
fn web_seed_prefers_pieces_peers_lack_then_long_runs_then_rarest() {
    let mut rng = StdRng::seed_from_u64(13);
    let n = 20;
    let mut p = PiecePicker::new(u64::from(BLOCK_LEN), u64::from(n) * u64::from(BLOCK_LEN));
    // Peers have 0..15; nobody has 15..20.
    p.add_availability(&only(n, &(0..15).collect::<Vec<_>>()));
    let run = p.reserve_web_seed_run(WS, 8, |_| true, &mut rng).unwrap();
    assert_eq!(run, 15..20, "pieces peers lack come first");

    // Among pieces peers have: the longer free run wins over a rarer short one.
    let mut p = PiecePicker::new(u64::from(BLOCK_LEN), u64::from(n) * u64::from(BLOCK_LEN));
    p.add_availability(&full(n));
    p.add_availability(&only(n, &(3..20).collect::<Vec<_>>()));
    // Have 1 and 2 and 8: free runs are [0], [3..8), [9..20).
    p.set_have(&only(n, &[1, 2, 8]));
    let run = p.reserve_web_seed_run(WS, 4, |_| true, &mut rng).unwrap();
    assert_eq!(run.len(), 4, "{run:?}");
    // With runs of one piece, the rarest (piece 0: on one peer) wins.
    let one = p
        .reserve_web_seed_run(WS + 1, 1, |_| true, &mut rng)
        .unwrap();
    assert_eq!(one, 0..1);
}

#[test]
fn web_seed_runs_respect_what_the_seed_can_serve() {
    let mut rng = StdRng::seed_from_u64(14);
    let n = 10;
    let mut p = PiecePicker::new(u64::from(BLOCK_LEN), u64::from(n) * u64::from(BLOCK_LEN));
    // The seed answers 404 for the file holding pieces 4..6.
    let serves = |i: u32| !(4..6).contains(&i);
    let mut taken = Vec::new();
    while let Some(run) = p.reserve_web_seed_run(WS, 10, serves, &mut rng) {
        assert!(run.clone().all(serves));
        taken.extend(run);
        assert!(taken.len() <= 8);
    }
    assert_eq!(taken.len(), 8);
    // Pieces 4 and 5 are left to peers.
    let mut rest: Vec<u32> = p
        .pick(1, &full(n), 10, &mut rng)
        .iter()
        .map(|r| r.index)
        .collect();
    rest.sort_unstable();
    assert_eq!(rest, [4, 5]);
}

#[test]
fn released_reservation_goes_back_to_everyone() {
    let mut rng = StdRng::seed_from_u64(15);
    let n = 3;
    let mut p = PiecePicker::new(u64::from(BLOCK_LEN), u64::from(n) * u64::from(BLOCK_LEN));
    let run = p.reserve_web_seed_run(WS, 3, |_| true, &mut rng).unwrap();
    assert_eq!(run, 0..3);
    assert!(p.reserve_web_seed_run(WS, 3, |_| true, &mut rng).is_none());
    assert_eq!(p.partial_pieces(), 3);
    for i in run {
        p.release_web_seed_piece(WS, i);
    }
    assert_eq!(p.partial_pieces(), 0);
    assert!(reserved(&p, WS).is_empty());
    assert!(!p.in_end_game());
    assert_eq!(p.pick(1, &full(n), 10, &mut rng).len(), 3);
}

#[test]
fn web_seed_piece_completes_and_cancels_end_game_duplicates() {
    let mut rng = StdRng::seed_from_u64(16);
    let mut p = PiecePicker::new(2 * u64::from(BLOCK_LEN), 2 * 2 * u64::from(BLOCK_LEN));
    let run = p.reserve_web_seed_run(WS, 2, |_| true, &mut rng).unwrap();
    assert_eq!(run, 0..2);
    // End-game: a peer duplicates one block of piece 1.
    let dup = p.pick(7, &only(2, &[1]), 1, &mut rng);
    assert_eq!(dup.len(), 1);
    assert_eq!(
        p.web_seed_piece_received(WS, 0),
        BlockOutcome::New {
            others: vec![],
            piece_complete: true
        }
    );
    assert_eq!(
        p.web_seed_piece_received(WS, 1),
        BlockOutcome::New {
            others: vec![7],
            piece_complete: true
        }
    );
    // The peer's late copy and a second web copy are not needed.
    assert_eq!(p.block_received(7, &dup[0]), BlockOutcome::Unneeded);
    assert_eq!(p.web_seed_piece_received(WS, 1), BlockOutcome::Unneeded);
    p.piece_verified(0);
    p.piece_verified(1);
    assert!(p.is_complete());
    assert_eq!(p.web_seed_piece_received(WS, 1), BlockOutcome::Unneeded);
}

#[test]
fn web_seed_in_end_game_duplicates_the_least_advanced_piece() {
    let mut rng = StdRng::seed_from_u64(17);
    let mut p = PiecePicker::new(2 * u64::from(BLOCK_LEN), 2 * 2 * u64::from(BLOCK_LEN));
    // A slow peer holds both pieces; one block of piece 0 has arrived.
    let reqs = p.pick(1, &full(2), 10, &mut rng);
    assert_eq!(reqs.len(), 4);
    let first0 = reqs.iter().find(|r| r.index == 0 && r.begin == 0).unwrap();
    assert!(matches!(
        p.block_received(1, first0),
        BlockOutcome::New { .. }
    ));
    let run = p.reserve_web_seed_run(WS, 4, |_| true, &mut rng).unwrap();
    assert_eq!(run, 1..2, "fewest blocks received");
    let run = p.reserve_web_seed_run(WS, 4, |_| true, &mut rng).unwrap();
    assert_eq!(run, 0..1);
    assert!(p.reserve_web_seed_run(WS, 4, |_| true, &mut rng).is_none());
    // The web copy of piece 0 completes it; the slow peer's request is cancelled.
    assert_eq!(
        p.web_seed_piece_received(WS, 0),
        BlockOutcome::New {
            others: vec![1],
            piece_complete: true
        }
    );
    // Releasing piece 1 leaves the slow peer's requests in place.
    p.release_web_seed_piece(WS, 1);
    assert!(!p.is_reserved_for(WS, 1));
    assert_eq!(p.partial_pieces(), 2);
    assert!(p.pick(2, &full(2), 10, &mut rng).len() <= 2);
}

proptest::proptest! {
    /// Web seeds and peers together: outside end-game no block is ever asked
    /// of both a web seed and a peer, and the torrent completes.
    #[test]
    fn web_seeds_and_peers_never_overlap_outside_end_game(
        pieces in 1u32..40,
        seed in 0u64..1000,
        steps in proptest::collection::vec((0usize..4, 1u32..6, proptest::bool::weighted(0.15)), 1..300),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut p = PiecePicker::new(2 * u64::from(BLOCK_LEN), u64::from(pieces) * 2 * u64::from(BLOCK_LEN));
        let n = p.piece_count();
        p.add_availability(&full(n));
        let mut peer_out: Vec<BlockRequest> = Vec::new();
        let mut web_out: Vec<Vec<u32>> = vec![Vec::new(); 2];
        for (who, k, fail) in steps {
            if p.is_complete() { break; }
            match who {
                0 | 1 => {
                    let end_game = p.untouched == 0;
                    if let Some(run) = p.reserve_web_seed_run(WS + who as u64, k, |_| true, &mut rng) {
                        for i in run.clone() {
                            if !end_game {
                                proptest::prop_assert!(!peer_out.iter().any(|r| r.index == i));
                            }
                        }
                        web_out[who].extend(run);
                    }
                    if let Some(i) = web_out[who].pop() {
                        if fail {
                            p.release_web_seed_piece(WS + who as u64, i);
                        } else if let BlockOutcome::New { others, .. } = p.web_seed_piece_received(WS + who as u64, i) {
                            if others.contains(&1) { peer_out.retain(|r| r.index != i); }
                            p.piece_verified(i);
                        }
                    }
                }
                _ => {
                    let end_game = p.in_end_game();
                    for r in p.pick(1, &full(n), k as usize, &mut rng) {
                        if !end_game {
                            proptest::prop_assert!(!web_out.iter().flatten().any(|&i| i == r.index));
                        }
                        peer_out.push(r);
                    }
                    if let Some(r) = peer_out.pop() {
                        if fail {
                            p.cancel(1, &r);
                        } else if let BlockOutcome::New { piece_complete: true, .. } = p.block_received(1, &r) {
                            p.piece_verified(r.index);
                        }
                    }
                }
            }
        }
        // Then the web seed 0 alone finishes (the others give up), bounded.
        for i in std::mem::take(&mut web_out[1]) { p.release_web_seed_piece(WS + 1, i); }
        for r in std::mem::take(&mut peer_out) { p.cancel(1, &r); }
        for _ in 0..10_000 {
            if p.is_complete() { break; }
            if let Some(run) = p.reserve_web_seed_run(WS, 3, |_| true, &mut rng) {
                web_out[0].extend(run);
            }
            if let Some(i) = web_out[0].pop()
                && let BlockOutcome::New { .. } = p.web_seed_piece_received(WS, i)
            {
                p.piece_verified(i);
            }
        }
        proptest::prop_assert!(p.is_complete());
    }
}
