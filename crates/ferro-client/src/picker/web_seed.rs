//! The picker's side of web seeds (BEP 19): a web seed is a "peer with every
//! piece" that fetches whole pieces, a contiguous run at a time, with one
//! HTTP Range request per file.
//!
//! A reserved piece is held as a partial piece whose every block is
//! requested by the web seed's [`PeerKey`]. So the peers' picker never
//! chooses it (no block is missing) and the web seed never takes a piece a
//! peer has started, until end-game: for peers, the usual end-game of
//! duplicate block requests; for a web seed, once no piece is untouched, it
//! may fetch a piece peers are still working on, and the peers' requests for
//! it are cancelled when its copy arrives.

use std::cmp::Reverse;
use std::ops::Range;

use rand::Rng;

use super::{BlockOutcome, BlockState, Partial, PeerKey, PiecePicker};

impl PiecePicker {
    /// Reserves up to `max_pieces` consecutive whole pieces for the web seed
    /// `seed` and returns them, or `None` when there is nothing it may fetch.
    ///
    /// `can_serve(piece)` says whether the seed may be asked for the piece
    /// (it lacks none of its files). Only wanted pieces are taken, highest
    /// priority first; then runs of pieces no connected peer has, then runs
    /// as long as possible (up to `max_pieces`), then the rarest; ties are
    /// broken at random so several seeds spread out. In sequential mode the
    /// lowest run of the highest priority is taken instead. Only
    /// pieces nobody has started are taken, except in end-game (no untouched
    /// piece left): then one started piece that this seed is not already
    /// fetching, the one with the fewest blocks received.
    pub fn reserve_web_seed_run<R: Rng + ?Sized>(
        &mut self,
        seed: PeerKey,
        max_pieces: u32,
        can_serve: impl Fn(u32) -> bool,
        rng: &mut R,
    ) -> Option<Range<u32>> {
        let max = max_pieces.max(1);
        if let Some(run) = self.best_free_run(max, &can_serve, rng) {
            for piece in run.clone() {
                let mut part = Partial::new(self.block_count(piece));
                part.state.fill(BlockState::Requested);
                for by in &mut part.requested_by {
                    by.push(seed);
                }
                self.partial.insert(piece, part);
                self.untouched = self.untouched.saturating_sub(1);
            }
            return Some(run);
        }
        if self.untouched > 0 {
            return None;
        }
        // End-game: duplicate the least advanced piece still in progress.
        let piece = self
            .partial
            .iter()
            .filter(|(p, part)| {
                !self.have.get(**p)
                    && self.is_wanted(**p)
                    && can_serve(**p)
                    && part.received < part.state.len() as u32
                    && !part.requested_by.iter().any(|by| by.contains(&seed))
            })
            .map(|(p, part)| (part.received, rng.random::<u32>(), *p))
            .min()
            .map(|(_, _, p)| p)?;
        let part = self.partial.get_mut(&piece)?;
        for (state, by) in part.state.iter_mut().zip(&mut part.requested_by) {
            if *state != BlockState::Received {
                *state = BlockState::Requested;
                by.push(seed);
            }
        }
        Some(piece..piece + 1)
    }

    /// The best run of untouched wanted pieces `can_serve` allows, at most
    /// `max` long, all of one priority.
    fn best_free_run<R: Rng + ?Sized>(
        &self,
        max: u32,
        can_serve: &impl Fn(u32) -> bool,
        rng: &mut R,
    ) -> Option<Range<u32>> {
        let n = self.piece_count();
        let free = |p: u32| {
            self.is_wanted(p) && !self.have.get(p) && !self.partial.contains_key(&p) && can_serve(p)
        };
        // Sequential mode (streaming): the lowest run of the highest priority.
        // Otherwise: highest priority, pieces no peer has, longer, rarer, random.
        type Key = (Reverse<u8>, bool, Reverse<u32>, u64, u32);
        let mut best: Option<(Key, Range<u32>)> = None;
        let mut p = 0;
        // Each pass consumes at least one piece: bounded by the piece count.
        while p < n {
            if !free(p) {
                p += 1;
                continue;
            }
            let peers_have = self.availability(p) > 0;
            let prio = self.piece_priority(p);
            let start = p;
            let mut avail = 0u64;
            while p < n
                && p - start < max
                && free(p)
                && (self.availability(p) > 0) == peers_have
                && self.piece_priority(p) == prio
            {
                avail += u64::from(self.availability(p));
                p += 1;
            }
            let len = p - start;
            let key = if self.is_sequential() {
                (Reverse(prio), false, Reverse(0), 0, start)
            } else {
                (
                    Reverse(prio),
                    peers_have,
                    Reverse(len),
                    avail * 1000 / u64::from(len),
                    rng.random::<u32>(),
                )
            };
            if best.as_ref().is_none_or(|(k, _)| key < *k) {
                best = Some((key, start..p));
            }
        }
        best.map(|(_, run)| run)
    }

    /// The web seed `seed` delivered all of piece `piece`. Like
    /// [`block_received`](Self::block_received) for every block at once:
    /// `others` are the peers that were also asked for some block of it (they
    /// get `cancel`s); `piece_complete` is always true for a new piece.
    /// [`BlockOutcome::Unneeded`] when the piece is had, not in progress, or
    /// every block of it already arrived from peers.
    pub fn web_seed_piece_received(&mut self, seed: PeerKey, piece: u32) -> BlockOutcome {
        if self.have.get(piece) {
            return BlockOutcome::Unneeded;
        }
        let Some(part) = self.partial.get_mut(&piece) else {
            return BlockOutcome::Unneeded;
        };
        if part.received as usize == part.state.len() {
            for by in &mut part.requested_by {
                by.retain(|p| *p != seed);
            }
            return BlockOutcome::Unneeded;
        }
        let mut others = Vec::new();
        for (state, by) in part.state.iter_mut().zip(&mut part.requested_by) {
            others.extend(by.drain(..).filter(|p| *p != seed));
            *state = BlockState::Received;
        }
        part.received = part.state.len() as u32;
        others.sort_unstable();
        others.dedup();
        BlockOutcome::New {
            others,
            piece_complete: true,
        }
    }

    /// The web seed `seed` will not deliver `piece` (an HTTP error, a
    /// timeout, the task stopping): its reservation is released. A piece
    /// nobody else is working on becomes untouched again, so peers and other
    /// seeds may pick it.
    pub fn release_web_seed_piece(&mut self, seed: PeerKey, piece: u32) {
        let Some(part) = self.partial.get_mut(&piece) else {
            return;
        };
        for (state, by) in part.state.iter_mut().zip(&mut part.requested_by) {
            by.retain(|p| *p != seed);
            if by.is_empty() && *state == BlockState::Requested {
                *state = BlockState::Missing;
            }
        }
        if part.state.iter().all(|s| *s == BlockState::Missing) {
            self.partial.remove(&piece);
            if self.is_wanted(piece) {
                self.untouched += 1;
            }
        }
    }

    /// Whether the web seed `seed` holds a reservation on `piece`.
    pub fn is_reserved_for(&self, seed: PeerKey, piece: u32) -> bool {
        self.partial
            .get(&piece)
            .is_some_and(|part| part.requested_by.iter().any(|by| by.contains(&seed)))
    }
}
