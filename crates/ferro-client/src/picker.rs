//! The piece picker: which blocks to ask which peer for (sans-IO).
//!
//! Pieces are fetched in 16 KiB blocks (BEP 3 practice). The order follows
//! the usual policy of BitTorrent clients:
//! - partial pieces first, so pieces complete and can be shared sooner;
//! - the first few pieces at random, so a new peer has something to trade;
//! - then rarest first by availability (how many connected peers have the
//!   piece), ties broken at random so peers spread over the rare pieces;
//! - end-game: once every missing block is requested, blocks already
//!   requested from another peer may be requested again (the caller cancels
//!   the duplicates when the first copy arrives).
//!
//! Each piece has a priority (0: not wanted; see [`crate::FilePriority`] for
//! how file priorities give it): pieces of priority 0 are never picked,
//! higher priorities come before the order above, and completion, `left()`
//! and end-game count wanted pieces only, while [`PiecePicker::have`] keeps
//! every verified piece for seeding. In sequential mode (for streaming) new
//! pieces are taken in index order, lowest first, within each priority, and
//! the random first pieces and rarest-first are off: order is what the user
//! asked for, and peers still spread over the next pieces because each one
//! takes the lowest piece nobody has started.
//!
//! Web seeds (BEP 19) are peers with every piece that fetch whole pieces:
//! [`PiecePicker::reserve_web_seed_run`] hands one a run of untouched pieces
//! that peers then never pick (outside end-game).
//!
//! The picker knows nothing of sockets or time: peers are [`PeerKey`]s, the
//! caller reports what arrived, and randomness comes from the caller's RNG.

use std::collections::HashMap;

use ferro_wire::{Bitfield, BlockRequest};
use rand::Rng;

/// The block size Ferro requests (16 KiB, what every client serves).
pub const BLOCK_LEN: u32 = 16 * 1024;

/// How many pieces are picked at random before rarest-first starts.
pub const RANDOM_FIRST_PIECES: usize = 4;

/// How many peers may be asked for the same block in end-game.
const MAX_DUPLICATES: usize = 3;

/// The priority of every piece of a new picker ([`crate::FilePriority::Normal`]).
pub const DEFAULT_PRIORITY: u8 = 4;

/// Identifies a peer connection to the picker.
pub type PeerKey = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockState {
    Missing,
    Requested,
    Received,
}

#[derive(Debug, Clone)]
struct Partial {
    state: Vec<BlockState>,
    /// Who was asked for each block (several in end-game).
    requested_by: Vec<Vec<PeerKey>>,
    received: u32,
}

impl Partial {
    fn new(blocks: u32) -> Self {
        Partial {
            state: vec![BlockState::Missing; blocks as usize],
            requested_by: vec![Vec::new(); blocks as usize],
            received: 0,
        }
    }

    fn has_missing(&self) -> bool {
        self.state.contains(&BlockState::Missing)
    }
}

/// What [`PiecePicker::block_received`] made of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockOutcome {
    /// A block we still needed. `others` were also asked for it (end-game)
    /// and should get a `cancel`; `piece_complete` means every block of the
    /// piece is in and it can be hashed.
    New {
        /// Other peers asked for the same block.
        others: Vec<PeerKey>,
        /// Every block of the piece has arrived.
        piece_complete: bool,
    },
    /// A block we already have, or of a piece not being downloaded.
    Unneeded,
}

/// Block-level download state of one torrent.
#[derive(Debug, Clone)]
pub struct PiecePicker {
    piece_length: u64,
    total_length: u64,
    have: Bitfield,
    availability: Vec<u32>,
    partial: HashMap<u32, Partial>,
    /// Wanted pieces neither had nor partial.
    untouched: usize,
    /// Priority of each piece (0: not wanted).
    priority: Vec<u8>,
    /// Pieces whose priority is above 0.
    wanted: Bitfield,
    /// Wanted pieces not yet verified.
    wanted_missing: usize,
    /// Pick new pieces in index order (streaming).
    sequential: bool,
}

impl PiecePicker {
    /// A picker for a torrent of `total_length` bytes in pieces of `piece_length`.
    pub fn new(piece_length: u64, total_length: u64) -> Self {
        let piece_length = piece_length.max(1);
        let count = total_length.div_ceil(piece_length) as usize;
        PiecePicker {
            piece_length,
            total_length,
            have: Bitfield::new(count),
            availability: vec![0; count],
            partial: HashMap::new(),
            untouched: count,
            priority: vec![DEFAULT_PRIORITY; count],
            wanted: Bitfield::full(count),
            wanted_missing: count,
            sequential: false,
        }
    }

    /// Number of pieces.
    pub fn piece_count(&self) -> u32 {
        self.availability.len() as u32
    }

    /// Size of piece `piece` in bytes (0 when out of range).
    pub fn piece_size(&self, piece: u32) -> u64 {
        let start = u64::from(piece) * self.piece_length;
        if piece >= self.piece_count() {
            return 0;
        }
        self.piece_length.min(self.total_length - start)
    }

    /// Number of blocks of piece `piece`.
    pub fn block_count(&self, piece: u32) -> u32 {
        self.piece_size(piece).div_ceil(u64::from(BLOCK_LEN)) as u32
    }

    /// The request for block `block` of piece `piece`.
    pub fn block_request(&self, piece: u32, block: u32) -> BlockRequest {
        let begin = block * BLOCK_LEN;
        let size = self.piece_size(piece);
        let length = (size.saturating_sub(u64::from(begin))).min(u64::from(BLOCK_LEN)) as u32;
        BlockRequest {
            index: piece,
            begin,
            length,
        }
    }

    /// Whether `req` is a whole, aligned block of a real piece, as Ferro
    /// requests them.
    pub fn is_valid_block(&self, req: &BlockRequest) -> bool {
        req.index < self.piece_count()
            && req.begin.is_multiple_of(BLOCK_LEN)
            && req.length > 0
            && *req == self.block_request(req.index, req.begin / BLOCK_LEN)
    }

    /// Verified pieces, wanted or not (what we can serve).
    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    /// Whether every wanted piece is verified (see [`has_all`](Self::has_all)
    /// for every piece).
    pub fn is_complete(&self) -> bool {
        self.wanted_missing == 0
    }

    /// Bytes of wanted pieces not yet verified.
    pub fn left(&self) -> u64 {
        self.wanted
            .iter_ones()
            .filter(|&p| !self.have.get(p))
            .map(|p| self.piece_size(p))
            .sum()
    }

    /// Marks the pieces of `have` as verified (e.g. from a recheck).
    pub fn set_have(&mut self, have: &Bitfield) {
        for piece in have.iter_ones() {
            if piece < self.piece_count() && !self.have.get(piece) {
                self.piece_verified(piece);
            }
        }
    }

    /// A peer has every piece in `pieces` (its bitfield, or all for have-all).
    pub fn add_availability(&mut self, pieces: &Bitfield) {
        for p in pieces.iter_ones() {
            if let Some(a) = self.availability.get_mut(p as usize) {
                *a = a.saturating_add(1);
            }
        }
    }

    /// A peer that had `pieces` left.
    pub fn remove_availability(&mut self, pieces: &Bitfield) {
        for p in pieces.iter_ones() {
            if let Some(a) = self.availability.get_mut(p as usize) {
                *a = a.saturating_sub(1);
            }
        }
    }

    /// A peer announced `piece` with `have`.
    pub fn add_piece_availability(&mut self, piece: u32) {
        if let Some(a) = self.availability.get_mut(piece as usize) {
            *a = a.saturating_add(1);
        }
    }

    /// How many connected peers have `piece`.
    pub fn availability(&self, piece: u32) -> u32 {
        self.availability.get(piece as usize).copied().unwrap_or(0)
    }

    /// Whether a peer with `pieces` has a wanted piece we lack.
    pub fn is_interesting(&self, pieces: &Bitfield) -> bool {
        pieces
            .as_bytes()
            .iter()
            .zip(self.have.as_bytes())
            .zip(self.wanted.as_bytes())
            .any(|((theirs, ours), wanted)| theirs & wanted & !ours != 0)
    }

    /// Whether every wanted block not yet received has been requested (end-game).
    pub fn in_end_game(&self) -> bool {
        self.untouched == 0
            && !self
                .partial
                .iter()
                .any(|(p, part)| self.wanted.get(*p) && part.has_missing())
    }

    /// Up to `max` new block requests for `peer`, which has `pieces`.
    /// `outstanding` are the peer's requests already in flight (never repeated).
    pub fn pick<R: Rng + ?Sized>(
        &mut self,
        peer: PeerKey,
        pieces: &Bitfield,
        max: usize,
        rng: &mut R,
    ) -> Vec<BlockRequest> {
        let mut out = Vec::new();
        if max == 0 {
            return out;
        }
        // 1. Wanted partial pieces the peer has: highest priority, then most
        // advanced (sequential: lowest index) first.
        let mut partials: Vec<(u8, usize, u32)> = self
            .partial
            .iter()
            .filter(|(p, part)| pieces.get(**p) && self.wanted.get(**p) && part.has_missing())
            .map(|(p, part)| {
                let done = part
                    .state
                    .iter()
                    .filter(|s| **s != BlockState::Missing)
                    .count();
                let rank = if self.sequential {
                    0
                } else {
                    usize::MAX - done
                };
                (u8::MAX - self.piece_priority(*p), rank, *p)
            })
            .collect();
        partials.sort_unstable();
        for (_, _, piece) in partials {
            self.take_missing(peer, piece, max, &mut out);
            if out.len() >= max {
                return out;
            }
        }
        // 2. New wanted pieces, highest priority first: random at first, then
        // rarest first (sequential: lowest index first).
        if self.untouched > 0 {
            let random_first = self.have.count_ones() < RANDOM_FIRST_PIECES;
            let sequential = self.sequential;
            let mut candidates: Vec<(u8, u32, u32, u32)> = self
                .wanted
                .iter_ones()
                .filter(|&p| pieces.get(p) && !self.have.get(p) && !self.partial.contains_key(&p))
                .map(|p| {
                    let prio = u8::MAX - self.piece_priority(p);
                    if sequential {
                        return (prio, 0, 0, p);
                    }
                    let rarity = if random_first {
                        0
                    } else {
                        self.availability(p)
                    };
                    (prio, rarity, rng.random::<u32>(), p)
                })
                .collect();
            // Only the best few pieces can be used: partial selection, O(n).
            let per_piece = (self.piece_length / u64::from(BLOCK_LEN)).max(1) as usize;
            let wanted = (max - out.len()).div_ceil(per_piece) + 1;
            if candidates.len() > wanted {
                candidates.select_nth_unstable(wanted);
                candidates.truncate(wanted);
            }
            candidates.sort_unstable();
            for (_, _, _, piece) in candidates {
                self.partial
                    .insert(piece, Partial::new(self.block_count(piece)));
                self.untouched -= 1;
                self.take_missing(peer, piece, max, &mut out);
                if out.len() >= max {
                    return out;
                }
            }
        }
        // 3. End-game: blocks requested from others, not yet from this peer.
        if out.is_empty() && self.in_end_game() {
            let mut dupes: Vec<(usize, u32, u32, u32)> = Vec::new();
            for (&piece, part) in &self.partial {
                if !pieces.get(piece) || !self.wanted.get(piece) {
                    continue;
                }
                for (b, (state, by)) in part.state.iter().zip(&part.requested_by).enumerate() {
                    if *state == BlockState::Requested
                        && by.len() < MAX_DUPLICATES
                        && !by.contains(&peer)
                    {
                        dupes.push((by.len(), rng.random::<u32>(), piece, b as u32));
                    }
                }
            }
            dupes.sort_unstable();
            for (_, _, piece, block) in dupes.into_iter().take(max) {
                if let Some(part) = self.partial.get_mut(&piece)
                    && let Some(by) = part.requested_by.get_mut(block as usize)
                {
                    by.push(peer);
                    out.push(self.block_request(piece, block));
                }
            }
        }
        out
    }

    fn take_missing(&mut self, peer: PeerKey, piece: u32, max: usize, out: &mut Vec<BlockRequest>) {
        let blocks = self.block_count(piece);
        let Some(part) = self.partial.get_mut(&piece) else {
            return;
        };
        for b in 0..blocks {
            if out.len() >= max {
                return;
            }
            if let (Some(state), Some(by)) = (
                part.state.get_mut(b as usize),
                part.requested_by.get_mut(b as usize),
            ) && *state == BlockState::Missing
            {
                *state = BlockState::Requested;
                by.push(peer);
                let begin = b * BLOCK_LEN;
                let size = self
                    .piece_length
                    .min(self.total_length - u64::from(piece) * self.piece_length);
                let length = (size - u64::from(begin)).min(u64::from(BLOCK_LEN)) as u32;
                out.push(BlockRequest {
                    index: piece,
                    begin,
                    length,
                });
            }
        }
    }

    /// `peer` no longer waits for `req` (choked, rejected, timed out or gone):
    /// the block becomes missing again unless someone else was asked too.
    pub fn cancel(&mut self, peer: PeerKey, req: &BlockRequest) {
        let Some(part) = self.partial.get_mut(&req.index) else {
            return;
        };
        let b = (req.begin / BLOCK_LEN) as usize;
        if let (Some(state), Some(by)) = (part.state.get_mut(b), part.requested_by.get_mut(b)) {
            by.retain(|p| *p != peer);
            if by.is_empty() && *state == BlockState::Requested {
                *state = BlockState::Missing;
            }
        }
    }

    /// A block arrived from `peer`.
    pub fn block_received(&mut self, peer: PeerKey, req: &BlockRequest) -> BlockOutcome {
        if !self.is_valid_block(req) || self.have.get(req.index) {
            return BlockOutcome::Unneeded;
        }
        let Some(part) = self.partial.get_mut(&req.index) else {
            return BlockOutcome::Unneeded;
        };
        let b = (req.begin / BLOCK_LEN) as usize;
        let (Some(state), Some(by)) = (part.state.get_mut(b), part.requested_by.get_mut(b)) else {
            return BlockOutcome::Unneeded;
        };
        if *state == BlockState::Received {
            by.retain(|p| *p != peer);
            return BlockOutcome::Unneeded;
        }
        *state = BlockState::Received;
        let others: Vec<PeerKey> = by.drain(..).filter(|p| *p != peer).collect();
        part.received += 1;
        BlockOutcome::New {
            others,
            piece_complete: part.received as usize == part.state.len(),
        }
    }

    /// Piece `piece` passed its hash check and is on disk.
    pub fn piece_verified(&mut self, piece: u32) {
        if piece >= self.piece_count() || self.have.get(piece) {
            return;
        }
        let wanted = self.wanted.get(piece);
        if self.partial.remove(&piece).is_none() && wanted {
            self.untouched = self.untouched.saturating_sub(1);
        }
        if wanted {
            self.wanted_missing = self.wanted_missing.saturating_sub(1);
        }
        self.have.set(piece, true);
    }

    /// Piece `piece` failed its hash check: download it again from scratch.
    pub fn piece_failed(&mut self, piece: u32) {
        if self.partial.remove(&piece).is_some() && self.wanted.get(piece) {
            self.untouched += 1;
        }
    }

    /// Pieces being downloaded (some block requested or received).
    pub fn partial_pieces(&self) -> usize {
        self.partial.len()
    }
}

mod web_seed;

mod priority;

#[cfg(test)]
mod tests;
