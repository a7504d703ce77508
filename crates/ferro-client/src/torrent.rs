//! One torrent's shared state and its background task: connecting to known
//! peers, choking, statistics, completion and resume data.
//!
//! Peer tasks and this task share [`TorrentShared`]; the state sits behind
//! one `std::sync::Mutex` that is only held for short, non-blocking updates
//! (never across an `.await`). Changes a peer must act on (a new verified
//! piece, a choke decision, a cancel, a ban) are written into the state and
//! the peer is woken through its `Notify`: no unbounded queues.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ferro_core::{InfoHash, PeerId};
use ferro_metainfo::Info;
use ferro_wire::BlockRequest;
use sha1::{Digest, Sha1};
use tokio::sync::{Notify, broadcast, watch};

use crate::choker::{ChokeCandidate, choose_unchoked};
use crate::event::{TorrentEvent, TorrentState, TorrentStats};
use crate::picker::{BLOCK_LEN, PeerKey, PiecePicker};
use crate::rate::{RateEstimate, RateLimiter};
use crate::storage::Storage;
use crate::{Config, Error};

/// Known addresses kept per torrent.
const MAX_KNOWN_PEERS: usize = 2000;

/// A piece being assembled in memory until it verifies.
#[derive(Debug)]
pub(crate) struct PieceBuffer {
    /// Page-aligned (written with `O_DIRECT` as it is) and reused.
    pub data: crate::storage::PieceData,
    /// Who sent each block (for banning on a hash failure).
    pub block_from: Vec<Option<SocketAddr>>,
}

/// Who sent each block of a piece, and the block's SHA-1.
pub(crate) type BlockHashes = Vec<(Option<SocketAddr>, [u8; 20])>;

/// The outcome of hashing a complete piece.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Good and written; the addresses sent bad blocks of an earlier copy.
    Passed(Vec<SocketAddr>),
    /// Bad: who sent each block and the block's SHA-1.
    Failed(BlockHashes),
}

/// Failed pieces whose block hashes are kept for the smart ban.
const MAX_FAILED_PIECES: usize = 256;

/// What a ban applies to: the whole IP address, except on loopback, where
/// every peer shares one address, so the ban is for that ip:port only.
pub(crate) fn ban_key(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_loopback() {
        addr
    } else {
        SocketAddr::new(addr.ip(), 0)
    }
}

/// Whether a ban on `key` covers `addr`.
pub(crate) fn is_banned_by(key: SocketAddr, addr: SocketAddr) -> bool {
    if key.port() == 0 {
        key.ip() == addr.ip()
    } else {
        key == addr
    }
}

impl State {
    /// Whether `addr` is banned.
    pub fn is_banned(&self, addr: SocketAddr) -> bool {
        self.banned.contains(&SocketAddr::new(addr.ip(), 0)) || self.banned.contains(&addr)
    }
}

/// What the torrent knows of one connected peer.
#[derive(Debug)]
pub(crate) struct PeerSlot {
    pub addr: SocketAddr,
    pub peer_id: PeerId,
    pub wake: Arc<Notify>,
    /// Whether we choke the peer (the choker's decision; the task sends it).
    pub choked: bool,
    /// Whether the peer is interested in our pieces.
    pub interested: bool,
    /// Whether the peer chokes us.
    pub peer_choking: bool,
    /// Payload rates as the peer task measured them.
    pub download_rate: u64,
    pub upload_rate: u64,
    /// No block in `snub_timeout` while requests were outstanding.
    pub snubbed: bool,
    pub is_seed: bool,
    /// Cancels the peer task should send (end-game duplicates that arrived elsewhere).
    pub cancels: Vec<BlockRequest>,
    pub disconnect: Option<String>,
    pub optimistic: bool,
    /// We dialled it (so it accepts connections: PEX `REACHABLE`).
    pub outgoing: bool,
    /// Where it accepts connections: the dialled address, or an incoming
    /// peer's address with the port of its extended handshake `p`.
    pub listen: Option<SocketAddr>,
    /// When the handshake completed (newcomers may replace idle peers).
    pub connected_at: Instant,
    /// Queue sizes as the peer task last reported them.
    pub queues: crate::peer::PeerQueues,
}

/// Mutable state of a torrent.
#[derive(Debug)]
pub(crate) struct State {
    pub picker: PiecePicker,
    pub buffers: HashMap<u32, PieceBuffer>,
    pub peers: HashMap<PeerKey, PeerSlot>,
    /// Verified pieces in order of verification: peers send `have` for the
    /// entries past their own cursor (bounded by the piece count).
    pub verified_log: Vec<u32>,
    /// Addresses to connect to, with the time of the last failed attempt.
    pub known: HashMap<SocketAddr, Option<Instant>>,
    /// Known addresses first learned from PEX (BEP 11), a subset of `known`.
    pub known_pex: HashSet<SocketAddr>,
    pub connecting: HashSet<SocketAddr>,
    /// Ban keys (see [`ban_key`]).
    pub banned: HashSet<SocketAddr>,
    pub hash_fails: HashMap<SocketAddr, u32>,
    /// Block hashes of failed pieces, for the smart ban.
    pub failed_blocks: HashMap<u32, BlockHashes>,
    pub hash_failures: u32,
    pub paused: bool,
    pub checking: bool,
    /// The startup check's result, once it is done.
    pub checked: Option<TorrentEvent>,
    pub error: Option<String>,
    /// The priority of each file (`info.files()` order).
    pub file_priorities: Vec<crate::FilePriority>,
    pub next_key: PeerKey,
    pub download_rate: RateEstimate,
    pub upload_rate: RateEstimate,
    /// Web seeds (BEP 19) and their health.
    pub web: crate::webseed::WebSeedState,
}

/// Everything peer tasks and the torrent task share.
#[derive(Debug)]
pub(crate) struct TorrentShared {
    pub info_hash: InfoHash,
    pub info: Arc<Info>,
    pub storage: Arc<Storage>,
    pub config: Arc<Config>,
    pub listen_port: u16,
    /// The session's DHT node (peers' `port` messages go to it).
    pub dht: Option<crate::dht::SessionDht>,
    pub state: Mutex<State>,
    pub events: broadcast::Sender<TorrentEvent>,
    pub downloaded: AtomicU64,
    pub uploaded: AtomicU64,
    /// Wakes the torrent task (new known peers, completion, ...).
    pub wake: Notify,
    /// `true` once every piece is verified.
    pub complete: watch::Sender<bool>,
    /// Set when the torrent is removed or the session stops.
    pub stop: watch::Sender<bool>,
    pub download_limit: Option<Arc<RateLimiter>>,
    pub upload_limit: Option<Arc<RateLimiter>>,
    pub resume_path: PathBuf,
    /// Connections in the whole session.
    pub session_peers: Arc<AtomicU64>,
    /// The tracker announcer, awaited on removal (it sends `stopped`).
    pub announcer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Verified pieces when the resume file was last written.
    pub resume_saved_at: AtomicU64,
    /// Held while the resume file is captured and written: saves from the
    /// periodic task, completion, stop and the API never race on its
    /// temporary file, and the newest capture is the one left on disk.
    pub resume_save: tokio::sync::Mutex<()>,
    /// Bytes of complete pieces waiting to be hashed and written; peers stop
    /// requesting while it is above [`MAX_PENDING_VERIFY`] (disk backpressure).
    pub pending_verify: AtomicU64,
    /// Hash-and-write jobs running at once.
    pub verify_slots: tokio::sync::Semaphore,
}

/// Bytes of complete pieces allowed to wait for hashing and writing.
pub(crate) const MAX_PENDING_VERIFY: u64 = 16 * 1024 * 1024;

impl TorrentShared {
    /// The state, even if a panicking thread poisoned the lock (the state
    /// stays consistent between calls, so continuing is safe).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn emit(&self, e: TorrentEvent) {
        // No receiver is fine.
        let _ = self.events.send(e);
    }

    pub fn is_stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Adds addresses to connect to.
    pub fn add_known(&self, addrs: impl IntoIterator<Item = SocketAddr>) {
        self.add_known_from(addrs, crate::pex::PeerSource::Other);
    }

    /// Adds addresses to connect to, recording where new ones came from.
    pub fn add_known_from(
        &self,
        addrs: impl IntoIterator<Item = SocketAddr>,
        source: crate::pex::PeerSource,
    ) {
        let mut st = self.lock();
        for a in addrs {
            if st.known.len() >= MAX_KNOWN_PEERS {
                break;
            }
            if a.port() != 0 && !st.is_banned(a) && !st.known.contains_key(&a) {
                st.known.insert(a, None);
                if source == crate::pex::PeerSource::Pex {
                    st.known_pex.insert(a);
                }
            }
        }
        drop(st);
        self.wake.notify_one();
    }

    pub fn stats(&self) -> TorrentStats {
        let st = self.lock();
        let have = st.picker.have();
        let verified_bytes = st.picker.verified_bytes();
        let state = if st.error.is_some() {
            TorrentState::Error
        } else if st.paused {
            TorrentState::Paused
        } else if st.checking {
            TorrentState::Checking
        } else if st.picker.is_complete() {
            TorrentState::Seeding
        } else {
            TorrentState::Downloading
        };
        TorrentStats {
            state,
            total_length: self.info.total_length(),
            verified_bytes,
            wanted_length: st.picker.wanted_length(),
            wanted_left: st.picker.left(),
            selected_length: crate::selection::selected_length(&self.info, &st.file_priorities),
            sequential: st.picker.is_sequential(),
            pieces_have: have.count_ones() as u32,
            piece_count: self.info.piece_count(),
            downloaded: self.downloaded.load(Ordering::Relaxed),
            uploaded: self.uploaded.load(Ordering::Relaxed),
            download_rate: st.download_rate.get(),
            upload_rate: st.upload_rate.get(),
            peers_connected: st.peers.len(),
            peers_known: st.known.len(),
            peers_from_pex: st.known_pex.len(),
            web_seeds: st.web.active(),
            downloaded_from_web_seeds: st.web.downloaded,
            hash_failures: st.hash_failures,
            error: st.error.clone(),
        }
    }

    /// Every block of `piece` arrived: hash it and write it off the async
    /// threads, then record the outcome.
    pub fn finish_piece(self: &Arc<Self>, piece: u32, buf: PieceBuffer) {
        let this = self.clone();
        let failed_before = self.lock().failed_blocks.remove(&piece);
        let len = buf.data.len() as u64;
        self.pending_verify.fetch_add(len, Ordering::Relaxed);
        tokio::spawn(async move {
            // Bounded concurrency: pieces wait here, not in blocking threads.
            let _permit = this.verify_slots.acquire().await;
            let storage = this.storage.clone();
            let PieceBuffer { data, block_from } = buf;
            let result = tokio::task::spawn_blocking(move || {
                let ok = storage.piece_matches(piece, &data);
                // Block hashes are only needed for the smart ban: when this
                // copy is bad, or when an earlier bad copy is to be judged.
                let block_hashes = |data: &[u8]| -> BlockHashes {
                    data.chunks(BLOCK_LEN as usize)
                        .zip(block_from.iter().copied())
                        .map(|(b, from)| (from, Sha1::digest(b).into()))
                        .collect()
                };
                if !ok {
                    let hashes = block_hashes(&data);
                    storage.recycle(data);
                    return Ok(Verdict::Failed(hashes));
                }
                let written = storage.write_piece(piece, &data);
                let hashes = failed_before.as_ref().map(|_| block_hashes(&data));
                storage.recycle(data);
                written?;
                // Smart ban: a peer whose block of an earlier failed copy
                // differs from the good copy sent the bad data.
                let culprits: Vec<SocketAddr> = match (failed_before, hashes) {
                    (Some(old), Some(good)) => old
                        .iter()
                        .zip(&good)
                        .filter(|((_, bad), (_, good))| bad != good)
                        .filter_map(|((from, _), _)| *from)
                        .collect(),
                    _ => Vec::new(),
                };
                Ok(Verdict::Passed(culprits))
            })
            .await
            .unwrap_or_else(|e| Err(Error::Internal(format!("hash task: {e}"))));
            this.pending_verify.fetch_sub(len, Ordering::Relaxed);
            this.piece_done(piece, result);
        });
    }

    fn piece_done(&self, piece: u32, result: Result<Verdict, Error>) {
        let mut st = self.lock();
        match result {
            Ok(Verdict::Passed(culprits)) => {
                st.web.on_verified(piece, true);
                st.picker.piece_verified(piece);
                st.verified_log.push(piece);
                // Only the piece that completes the wanted set (a piece of a
                // file skipped meanwhile may still arrive afterwards).
                let complete = st.picker.is_complete() && !*self.complete.borrow();
                let banned = self.ban(&mut st, culprits);
                for p in st.peers.values() {
                    p.wake.notify_one();
                }
                drop(st);
                self.emit(TorrentEvent::PieceVerified(piece));
                for b in banned {
                    self.emit(TorrentEvent::PeerBanned(b));
                }
                if complete {
                    // The event first: whoever wakes on `complete` finds it queued.
                    self.emit(TorrentEvent::Completed);
                    self.complete.send_replace(true);
                }
                self.wake.notify_one();
            }
            Ok(Verdict::Failed(blocks)) => {
                st.picker.piece_failed(piece);
                st.hash_failures += 1;
                // A web seed's piece counts against its URL (dropped after repeats).
                let web_dropped = match st.web.on_verified(piece, false) {
                    Some((url, dropped)) => {
                        tracing::warn!(%url, piece, dropped, "piece from a web seed failed the hash check");
                        dropped.then_some(url)
                    }
                    None => None,
                };
                let mut unique: Vec<SocketAddr> = blocks.iter().filter_map(|(a, _)| *a).collect();
                unique.sort();
                unique.dedup();
                let mut to_ban = Vec::new();
                for addr in &unique {
                    let n = st.hash_fails.entry(ban_key(*addr)).or_insert(0);
                    *n += 1;
                    // Alone to blame: repeated failures ban. With others,
                    // the smart ban above decides once a good copy arrives.
                    if unique.len() == 1 && *n >= self.config.ban_after_hash_failures {
                        to_ban.push(*addr);
                    }
                }
                if st.failed_blocks.len() < MAX_FAILED_PIECES {
                    st.failed_blocks.insert(piece, blocks);
                }
                let banned = self.ban(&mut st, to_ban);
                for p in st.peers.values() {
                    p.wake.notify_one();
                }
                drop(st);
                self.emit(TorrentEvent::HashFailed {
                    piece,
                    peers: unique,
                });
                for b in banned {
                    self.emit(TorrentEvent::PeerBanned(b));
                }
                if let Some(url) = web_dropped {
                    self.emit(TorrentEvent::WebSeedDropped(url));
                }
            }
            Err(e) => {
                // Disk full, permission denied...: stop with one clear message.
                st.picker.piece_failed(piece);
                st.web.on_verified(piece, true);
                let msg = e.to_string();
                if st.error.is_none() {
                    st.error = Some(msg.clone());
                    for p in st.peers.values_mut() {
                        p.disconnect = Some("torrent stopped on a disk error".into());
                        p.wake.notify_one();
                    }
                    drop(st);
                    self.emit(TorrentEvent::Error(msg));
                    self.complete.send_modify(|_| {});
                    self.wake.notify_one();
                }
            }
        }
    }

    /// Bans `addrs` (see [`ban_key`]) and disconnects them; returns the new bans.
    fn ban(&self, st: &mut State, addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
        let mut newly = Vec::new();
        for addr in addrs {
            let key = ban_key(addr);
            if !st.banned.insert(key) {
                continue;
            }
            newly.push(key);
            st.known.retain(|a, _| !is_banned_by(key, *a));
            st.known_pex.retain(|a| !is_banned_by(key, *a));
            for p in st.peers.values_mut() {
                if is_banned_by(key, p.addr) {
                    p.disconnect = Some("banned: sent data that failed the hash check".into());
                    p.wake.notify_one();
                }
            }
        }
        newly
    }

    /// Sets the file priorities: the picker's piece priorities follow,
    /// completion is re-evaluated (all wanted pieces verified: `Completed`;
    /// more wanted: no longer complete) and peers re-evaluate their interest.
    pub fn set_file_priorities(&self, priorities: Vec<crate::FilePriority>) {
        let pieces = crate::selection::piece_priorities(&self.info, &priorities);
        let mut st = self.lock();
        st.file_priorities = priorities;
        st.picker.set_piece_priorities(&pieces);
        let complete = st.picker.is_complete();
        let checking = st.checking;
        if !complete {
            // Peers dropped as fellow seeds or as useless may have what we
            // want now: dial them again at once.
            for failed in st.known.values_mut() {
                *failed = None;
            }
        }
        for p in st.peers.values() {
            p.wake.notify_one();
        }
        drop(st);
        // The next resume save records the new priorities.
        self.resume_saved_at.store(u64::MAX, Ordering::Relaxed);
        if !checking {
            let was = *self.complete.borrow();
            if complete && !was {
                self.emit(TorrentEvent::Completed);
                self.complete.send_replace(true);
            } else if !complete && was {
                self.complete.send_replace(false);
            }
        }
        self.wake.notify_one();
    }

    /// Tit-for-tat (BEP 3 "choking"): the `unchoke_slots` interested peers
    /// that give us the most (or, seeding, take the most from us) are
    /// unchoked, snubbed peers excluded; one more slot rotates among the rest
    /// (the optimistic unchoke) every `optimistic_interval`.
    pub fn rechoke(&self, rotate_optimistic: bool) {
        let mut st = self.lock();
        let seeding = st.picker.is_complete();
        let peers: Vec<ChokeCandidate> = st
            .peers
            .iter()
            .map(|(k, p)| ChokeCandidate {
                key: *k,
                interested: p.interested,
                is_seed: p.is_seed,
                snubbed: p.snubbed,
                download_rate: p.download_rate,
                upload_rate: p.upload_rate,
            })
            .collect();
        let current = st.peers.iter().find(|(_, p)| p.optimistic).map(|(k, _)| *k);
        let (unchoke, opt) = choose_unchoked(
            &peers,
            seeding,
            self.config.unchoke_slots,
            current,
            rotate_optimistic,
            &mut rand::rng(),
        );
        for (k, p) in st.peers.iter_mut() {
            let choke = !unchoke.contains(k);
            p.optimistic = Some(*k) == opt;
            if p.choked != choke {
                p.choked = choke;
                p.wake.notify_one();
            }
        }
    }

    /// A newly interested peer gets a free slot at once rather than waiting
    /// up to a choke interval.
    pub fn unchoke_if_slot_free(st: &mut State, key: PeerKey, slots: usize) -> bool {
        let unchoked = st
            .peers
            .values()
            .filter(|p| !p.choked && p.interested)
            .count();
        if unchoked < slots + 1
            && let Some(p) = st.peers.get_mut(&key)
            && p.choked
        {
            p.choked = false;
            return true;
        }
        false
    }
}

/// Addresses worth dialing now: known, not connected or connecting, not
/// banned, not failed in the last minute.
pub(crate) fn dial_candidates(st: &State, now: Instant, max: usize) -> Vec<SocketAddr> {
    // An incoming peer counts under its listen address too: dialling that
    // would only open a duplicate connection to it.
    let connected: HashSet<SocketAddr> = st
        .peers
        .values()
        .flat_map(|p| [Some(p.addr), p.listen])
        .flatten()
        .collect();
    st.known
        .iter()
        .filter(|(a, failed)| {
            !connected.contains(a)
                && !st.connecting.contains(a)
                && !st.is_banned(**a)
                && failed.is_none_or(|t| now.saturating_duration_since(t) > Duration::from_secs(60))
        })
        .map(|(a, _)| *a)
        .take(max)
        .collect()
}
