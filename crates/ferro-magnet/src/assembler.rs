//! Fetching the info dictionary from peers (BEP 9), sans-IO.
//!
//! Peers announce `metadata_size` in their extension handshake; the assembler
//! asks peers that announced the same size for 16 KiB pieces, several peers at
//! once, re-asks a piece elsewhere when a request times out or is rejected, and
//! verifies the SHA-1 of the whole against the info-hash. When the hash does
//! not match and several peers contributed, the next attempt takes every piece
//! from one peer, so that a liar can be told from honest peers and banned.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use ferro_core::InfoHash;
use sha1::{Digest, Sha1};

use crate::Error;
use crate::message::{METADATA_PIECE_SIZE, MetadataMessage};

/// The caller's name for a peer connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerKey(pub u64);

/// Limits and timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssemblerConfig {
    /// Largest metadata accepted, in bytes. Default 16 MiB.
    pub max_metadata_size: u64,
    /// How long a piece request may go unanswered before it is asked elsewhere. Default 10 s.
    pub request_timeout: Duration,
    /// Requests outstanding per peer at once. Default 2.
    pub max_requests_per_peer: usize,
}

impl Default for AssemblerConfig {
    fn default() -> Self {
        AssemblerConfig {
            max_metadata_size: 16 * 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            max_requests_per_peer: 2,
        }
    }
}

/// What the assembler wants the caller to do or know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssemblerEvent {
    /// Send a ut_metadata request for `piece` to `peer`.
    Request {
        /// Whom to ask.
        peer: PeerKey,
        /// The metadata piece.
        piece: u32,
    },
    /// `peer` sent data that cannot be right; stop asking it (the caller may disconnect it).
    Misbehaved {
        /// The peer.
        peer: PeerKey,
        /// Why, for logs.
        reason: String,
    },
    /// The verified info dictionary: its SHA-1 equals the info-hash.
    Complete(Vec<u8>),
}

#[derive(Debug, Default)]
struct PeerState {
    size: u64,
    outstanding: usize,
    banned: bool,
    /// The peer rejected a request: it has no metadata to give.
    rejected: bool,
    timeouts: u32,
}

#[derive(Debug, Default, Clone)]
struct Piece {
    data: Option<Vec<u8>>,
    from: Option<PeerKey>,
    requested: Option<(PeerKey, Instant)>,
}

/// Assembles one torrent's metadata from ut_metadata pieces.
#[derive(Debug)]
pub struct MetadataAssembler {
    info_hash: InfoHash,
    config: AssemblerConfig,
    peers: BTreeMap<PeerKey, PeerState>,
    size: Option<u64>,
    pieces: Vec<Piece>,
    /// After a hash failure with several contributors: take all pieces from this one peer.
    single_source: bool,
    source: Option<PeerKey>,
    events: VecDeque<AssemblerEvent>,
    done: bool,
}

impl MetadataAssembler {
    /// An assembler for the metadata of `info_hash`.
    pub fn new(info_hash: InfoHash, config: AssemblerConfig) -> Self {
        MetadataAssembler {
            info_hash,
            config,
            peers: BTreeMap::new(),
            size: None,
            pieces: Vec::new(),
            single_source: false,
            source: None,
            events: VecDeque::new(),
            done: false,
        }
    }

    /// True once the verified metadata has been handed out.
    pub fn is_complete(&self) -> bool {
        self.done
    }

    /// The size being fetched, once a peer has announced one.
    pub fn metadata_size(&self) -> Option<u64> {
        self.size
    }

    /// A peer that supports ut_metadata announced `metadata_size`.
    pub fn add_peer(&mut self, peer: PeerKey, metadata_size: u64) -> Result<(), Error> {
        if metadata_size == 0 || metadata_size > self.config.max_metadata_size {
            return Err(Error::MetadataSize {
                size: metadata_size,
                limit: self.config.max_metadata_size,
            });
        }
        self.peers.insert(
            peer,
            PeerState {
                size: metadata_size,
                ..PeerState::default()
            },
        );
        self.choose_size();
        Ok(())
    }

    /// The connection to `peer` is gone: its requests go back to the pool.
    pub fn remove_peer(&mut self, peer: PeerKey) {
        self.peers.remove(&peer);
        self.release_requests(peer);
        if self.source == Some(peer) {
            self.source = None;
        }
        self.choose_size();
    }

    /// Feeds a ut_metadata message received from `peer`.
    pub fn on_message(&mut self, peer: PeerKey, msg: MetadataMessage<'_>) {
        if self.done {
            return;
        }
        match msg {
            MetadataMessage::Request { .. } => {} // served by `serve_request`, not here
            MetadataMessage::Reject { piece } => {
                if self.requested_from(piece, peer) {
                    self.clear_request(piece as usize);
                }
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.rejected = true;
                }
                if self.source == Some(peer) {
                    self.source = None;
                }
            }
            MetadataMessage::Data {
                piece,
                total_size,
                data,
            } => {
                if !self.requested_from(piece, peer) {
                    return; // unsolicited or late: ignore
                }
                let Some(size) = self.size else { return };
                let expected = piece_len(size, piece as usize);
                if total_size != size || Some(data.len()) != expected {
                    self.clear_request(piece as usize);
                    self.ban(peer, format!(
                        "ut_metadata piece {piece}: {} bytes of total {total_size}, expected {expected:?} of {size}",
                        data.len()
                    ));
                    return;
                }
                self.clear_request(piece as usize);
                if let Some(slot) = self.pieces.get_mut(piece as usize) {
                    slot.data = Some(data.to_vec());
                    slot.from = Some(peer);
                }
                if self.pieces.iter().all(|p| p.data.is_some()) {
                    self.verify();
                }
            }
        }
    }

    /// Issues requests for pieces nobody is fetching; call after any change.
    pub fn poll_requests(&mut self, now: Instant) {
        if self.done || self.size.is_none() {
            return;
        }
        let size = self.size.unwrap_or_default();
        if self.single_source && self.source.is_none() {
            let first = self.usable_peers(size).next();
            self.source = first;
        }
        for i in 0..self.pieces.len() {
            let busy = self
                .pieces
                .get(i)
                .is_none_or(|p| p.data.is_some() || p.requested.is_some());
            if busy {
                continue;
            }
            let peer = if self.single_source {
                self.source.filter(|s| self.has_capacity(*s))
            } else {
                // The usable peer with the fewest outstanding requests, then the fewest timeouts.
                self.usable_peers(size)
                    .filter(|k| self.has_capacity(*k))
                    .min_by_key(|k| self.peers.get(k).map(|p| (p.outstanding, p.timeouts)))
            };
            let Some(peer) = peer else { break };
            if let Some(p) = self.peers.get_mut(&peer) {
                p.outstanding += 1;
            }
            if let Some(slot) = self.pieces.get_mut(i) {
                slot.requested = Some((peer, now));
            }
            self.events.push_back(AssemblerEvent::Request {
                peer,
                piece: i as u32,
            });
        }
    }

    /// The next deadline at which [`handle_timeout`](Self::handle_timeout) has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pieces
            .iter()
            .filter_map(|p| p.requested.map(|(_, at)| at + self.config.request_timeout))
            .min()
    }

    /// Gives up on requests older than the timeout, so they can go to other peers.
    pub fn handle_timeout(&mut self, now: Instant) {
        let timeout = self.config.request_timeout;
        for i in 0..self.pieces.len() {
            let Some((peer, at)) = self.pieces.get(i).and_then(|p| p.requested) else {
                continue;
            };
            if now.saturating_duration_since(at) >= timeout {
                self.clear_request(i);
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.timeouts += 1;
                }
                if self.source == Some(peer) {
                    self.source = None;
                }
            }
        }
        self.poll_requests(now);
    }

    /// The next thing for the caller to do.
    pub fn poll_event(&mut self) -> Option<AssemblerEvent> {
        self.events.pop_front()
    }

    fn usable_peers(&self, size: u64) -> impl Iterator<Item = PeerKey> + '_ {
        self.peers
            .iter()
            .filter(move |(_, p)| p.size == size && !p.banned && !p.rejected)
            .map(|(k, _)| *k)
    }

    fn has_capacity(&self, peer: PeerKey) -> bool {
        self.peers
            .get(&peer)
            .is_some_and(|p| p.outstanding < self.config.max_requests_per_peer)
    }

    fn requested_from(&self, piece: u32, peer: PeerKey) -> bool {
        self.pieces
            .get(piece as usize)
            .and_then(|p| p.requested)
            .is_some_and(|(k, _)| k == peer)
    }

    fn clear_request(&mut self, piece: usize) {
        if let Some((peer, _)) = self.pieces.get_mut(piece).and_then(|p| p.requested.take())
            && let Some(p) = self.peers.get_mut(&peer)
        {
            p.outstanding = p.outstanding.saturating_sub(1);
        }
    }

    fn release_requests(&mut self, peer: PeerKey) {
        for i in 0..self.pieces.len() {
            if self
                .pieces
                .get(i)
                .and_then(|p| p.requested)
                .is_some_and(|(k, _)| k == peer)
            {
                self.clear_request(i);
            }
        }
    }

    fn ban(&mut self, peer: PeerKey, reason: String) {
        self.release_requests(peer);
        if let Some(p) = self.peers.get_mut(&peer) {
            p.banned = true;
        }
        if self.source == Some(peer) {
            self.source = None;
        }
        self.events
            .push_back(AssemblerEvent::Misbehaved { peer, reason });
        self.choose_size();
    }

    /// Fetches the size most usable peers agree on; switching size starts over.
    fn choose_size(&mut self) {
        if self.done {
            return;
        }
        let current_ok = self
            .size
            .is_some_and(|s| self.usable_peers(s).next().is_some());
        if current_ok {
            return;
        }
        let mut votes: HashMap<u64, usize> = HashMap::new();
        for p in self.peers.values().filter(|p| !p.banned && !p.rejected) {
            *votes.entry(p.size).or_default() += 1;
        }
        let best = votes
            .into_iter()
            .max_by_key(|(size, n)| (*n, std::cmp::Reverse(*size)))
            .map(|(s, _)| s);
        if best != self.size {
            self.size = best;
            let count = best.map_or(0, |s| s.div_ceil(METADATA_PIECE_SIZE as u64) as usize);
            for i in 0..self.pieces.len() {
                self.clear_request(i);
            }
            self.pieces = vec![Piece::default(); count];
        }
    }

    fn verify(&mut self) {
        let mut whole = Vec::with_capacity(self.size.unwrap_or_default() as usize);
        for p in &self.pieces {
            whole.extend_from_slice(p.data.as_deref().unwrap_or_default());
        }
        let hash: [u8; 20] = Sha1::digest(&whole).into();
        if hash == self.info_hash.0 {
            self.done = true;
            self.pieces.clear();
            self.events.push_back(AssemblerEvent::Complete(whole));
            return;
        }
        let contributors: BTreeSet<PeerKey> = self.pieces.iter().filter_map(|p| p.from).collect();
        for p in &mut self.pieces {
            *p = Piece::default();
        }
        match contributors.iter().next() {
            Some(&only) if contributors.len() == 1 => {
                self.ban(only, "metadata does not match the info-hash".into());
            }
            _ => {
                // Several peers contributed: fetch everything from one peer at a time.
                self.single_source = true;
                self.source = None;
            }
        }
    }
}

/// The length of metadata piece `index` for metadata of `size` bytes.
fn piece_len(size: u64, index: usize) -> Option<usize> {
    let start = (index as u64).checked_mul(METADATA_PIECE_SIZE as u64)?;
    if start >= size {
        return None;
    }
    Some((size - start).min(METADATA_PIECE_SIZE as u64) as usize)
}
