//! The picker's side of file selection: per-piece priorities (0: not
//! wanted), sequential mode, and the byte counts that tell wanted pieces
//! from every piece.

use super::PiecePicker;

impl PiecePicker {
    /// Sets the priority of every piece (`priorities[i]` for piece `i`; 0:
    /// don't download, higher first; missing entries: 0). Pieces already in
    /// progress keep their blocks; a piece no longer wanted is simply not
    /// continued, and blocks of it still in flight are accepted.
    pub fn set_piece_priorities(&mut self, priorities: &[u8]) {
        let n = self.piece_count();
        for p in 0..n {
            let level = priorities.get(p as usize).copied().unwrap_or(0);
            if let Some(slot) = self.priority.get_mut(p as usize) {
                *slot = level;
            }
            self.wanted.set(p, level > 0);
        }
        let missing: Vec<u32> = self
            .wanted
            .iter_ones()
            .filter(|&p| !self.have.get(p))
            .collect();
        self.wanted_missing = missing.len();
        self.untouched = missing
            .iter()
            .filter(|p| !self.partial.contains_key(p))
            .count();
    }

    /// The priority of piece `piece` (0: not wanted, or out of range).
    pub fn piece_priority(&self, piece: u32) -> u8 {
        self.priority.get(piece as usize).copied().unwrap_or(0)
    }

    /// Whether piece `piece` is to be downloaded.
    pub fn is_wanted(&self, piece: u32) -> bool {
        self.wanted.get(piece)
    }

    /// Picks new pieces in index order (for streaming) instead of rarest first.
    pub fn set_sequential(&mut self, sequential: bool) {
        self.sequential = sequential;
    }

    /// Whether new pieces are picked in index order.
    pub fn is_sequential(&self) -> bool {
        self.sequential
    }

    /// Whether every piece, wanted or not, is verified (a full seed).
    pub fn has_all(&self) -> bool {
        self.have.all()
    }

    /// Bytes of the wanted pieces.
    pub fn wanted_length(&self) -> u64 {
        self.wanted.iter_ones().map(|p| self.piece_size(p)).sum()
    }

    /// Bytes of verified pieces, wanted or not.
    pub fn verified_bytes(&self) -> u64 {
        self.have.iter_ones().map(|p| self.piece_size(p)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BLOCK_LEN, BlockOutcome, PeerKey};
    use super::*;
    use ferro_wire::{Bitfield, BlockRequest};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn picker(pieces: u32) -> PiecePicker {
        PiecePicker::new(
            u64::from(BLOCK_LEN),
            u64::from(pieces) * u64::from(BLOCK_LEN),
        )
    }

    /// Receives and verifies every block of `reqs`.
    fn deliver(p: &mut PiecePicker, peer: PeerKey, reqs: &[BlockRequest]) {
        for r in reqs {
            if let BlockOutcome::New {
                piece_complete: true,
                ..
            } = p.block_received(peer, r)
            {
                p.piece_verified(r.index);
            }
        }
    }

    #[test]
    fn skipped_pieces_are_never_picked_and_do_not_count() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut p = picker(6);
        p.set_piece_priorities(&[0, 4, 0, 4, 0, 0]);
        assert_eq!(p.left(), 2 * u64::from(BLOCK_LEN));
        assert_eq!(p.wanted_length(), 2 * u64::from(BLOCK_LEN));
        let all = Bitfield::full(6);
        let reqs = p.pick(1, &all, 100, &mut rng);
        let mut got: Vec<u32> = reqs.iter().map(|r| r.index).collect();
        got.sort_unstable();
        assert_eq!(got, [1, 3]);
        // End-game duplicates stay within wanted pieces too.
        assert!(p.in_end_game());
        assert!(
            p.pick(2, &all, 100, &mut rng)
                .iter()
                .all(|r| p.is_wanted(r.index))
        );
        deliver(&mut p, 1, &reqs);
        assert!(p.is_complete());
        assert!(!p.has_all());
        assert_eq!(p.left(), 0);
        assert_eq!(p.verified_bytes(), 2 * u64::from(BLOCK_LEN));
        // A peer with only unwanted pieces is not interesting.
        let mut skipped = Bitfield::new(6);
        skipped.set(0, true);
        assert!(!p.is_interesting(&skipped));
        assert!(p.pick(3, &skipped, 10, &mut rng).is_empty());
        // Raising a priority makes the torrent incomplete and the peer useful.
        p.set_piece_priorities(&[1, 4, 0, 4, 0, 0]);
        assert!(!p.is_complete());
        assert!(p.is_interesting(&skipped));
        assert_eq!(p.pick(3, &skipped, 10, &mut rng)[0].index, 0);
    }

    #[test]
    fn higher_priority_pieces_come_first() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut p = picker(8);
        p.set_have(&Bitfield::new(8));
        p.set_piece_priorities(&[1, 1, 4, 4, 7, 1, 4, 1]);
        let all = Bitfield::full(8);
        let order: Vec<u32> = (0..8)
            .map(|_| {
                let r = p.pick(1, &all, 1, &mut rng);
                r[0].index
            })
            .collect();
        assert_eq!(order[0], 4);
        let mut mid = order[1..4].to_vec();
        mid.sort_unstable();
        assert_eq!(mid, [2, 3, 6]);
        let mut low = order[4..].to_vec();
        low.sort_unstable();
        assert_eq!(low, [0, 1, 5, 7]);
    }

    #[test]
    fn sequential_mode_picks_in_index_order() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut p = PiecePicker::new(2 * u64::from(BLOCK_LEN), 20 * u64::from(BLOCK_LEN));
        p.set_sequential(true);
        assert!(p.is_sequential());
        p.set_piece_priorities(&[4, 4, 0, 4, 4, 4, 4, 4, 4, 4]);
        // Availability would say "piece 9 first" without sequential mode.
        let mut rare = Bitfield::full(10);
        rare.set(9, false);
        for _ in 0..5 {
            p.add_availability(&rare);
        }
        let all = Bitfield::full(10);
        // Two peers, one block at a time: pieces are started in order and a
        // started piece is finished before the next one is begun.
        let mut started = Vec::new();
        for i in 0..18u64 {
            for r in p.pick(i % 2, &all, 1, &mut rng) {
                if started.last() != Some(&r.index) {
                    started.push(r.index);
                }
                deliver(&mut p, i % 2, &[r]);
            }
        }
        assert_eq!(started, [0, 1, 3, 4, 5, 6, 7, 8, 9]);
        assert!(p.is_complete());
    }

    #[test]
    fn lowering_a_priority_mid_piece_stops_that_piece() {
        let mut rng = StdRng::seed_from_u64(4);
        let mut p = PiecePicker::new(4 * u64::from(BLOCK_LEN), 8 * u64::from(BLOCK_LEN));
        let all = Bitfield::full(2);
        let first = p.pick(1, &all, 1, &mut rng);
        let piece = first[0].index;
        let mut prio = [4, 4];
        prio[piece as usize] = 0;
        p.set_piece_priorities(&prio);
        // The other piece is picked; the started one is not continued.
        let next = p.pick(1, &all, 10, &mut rng);
        assert_eq!(next.len(), 4);
        assert!(next.iter().all(|r| r.index != piece));
        // The block in flight is still accepted.
        assert!(matches!(
            p.block_received(1, &first[0]),
            BlockOutcome::New { .. }
        ));
        deliver(&mut p, 1, &next);
        assert!(p.is_complete());
        // Wanted again: the started piece continues where it was.
        p.set_piece_priorities(&[4, 4]);
        assert!(!p.is_complete());
        let rest = p.pick(1, &all, 10, &mut rng);
        assert_eq!(rest.len(), 3);
        assert!(rest.iter().all(|r| r.index == piece && r.begin > 0));
    }

    proptest::proptest! {
        /// Whatever the priorities, peers and losses, pick() never returns a
        /// piece of priority 0, and every wanted piece completes.
        #[test]
        fn pick_never_returns_an_unwanted_piece(
            pieces in 1u32..40,
            prios in proptest::collection::vec(0u8..8, 40),
            changes in proptest::collection::vec(proptest::collection::vec(0u8..8, 40), 0..3),
            sequential in proptest::bool::ANY,
            seed in 0u64..1000,
            steps in proptest::collection::vec((0u64..3, 1usize..6, proptest::bool::weighted(0.2)), 1..200),
        ) {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut p = PiecePicker::new(2 * u64::from(BLOCK_LEN), u64::from(pieces) * 2 * u64::from(BLOCK_LEN));
            let n = p.piece_count();
            let all = Bitfield::full(n as usize);
            p.add_availability(&all);
            p.set_sequential(sequential);
            p.set_piece_priorities(&prios);
            let mut changes = changes.into_iter();
            let mut outstanding: Vec<(PeerKey, BlockRequest)> = Vec::new();
            for (i, (peer, max, drop)) in steps.into_iter().enumerate() {
                if i % 50 == 49 && let Some(c) = changes.next() {
                    p.set_piece_priorities(&c);
                }
                for r in p.pick(peer, &all, max, &mut rng) {
                    proptest::prop_assert!(p.piece_priority(r.index) > 0, "piece {} unwanted", r.index);
                    outstanding.push((peer, r));
                }
                if let Some((who, r)) = outstanding.pop() {
                    if drop { p.cancel(who, &r) } else { deliver(&mut p, who, &[r]) }
                }
            }
            // Every wanted piece completes, bounded.
            for (who, r) in std::mem::take(&mut outstanding) { p.cancel(who, &r); }
            for _ in 0..10_000 {
                if p.is_complete() { break; }
                let reqs = p.pick(9, &all, 8, &mut rng);
                for r in &reqs { proptest::prop_assert!(p.is_wanted(r.index)); }
                deliver(&mut p, 9, &reqs);
            }
            proptest::prop_assert!(p.is_complete());
            proptest::prop_assert_eq!(p.left(), 0);
            for piece in 0..n {
                proptest::prop_assert!(!p.is_wanted(piece) || p.have().get(piece));
            }
        }
    }
}
