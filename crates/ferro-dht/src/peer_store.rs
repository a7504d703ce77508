//! Peers announced to us with `announce_peer` (BEP 5), kept 30 minutes, in
//! bounded memory that no single host can fill (issue #11).
//!
//! Bounds: at most `max_info_hashes` torrents, `max_peers_per_hash` peers
//! each, and `max_per_ip` announces from one IP address across all torrents.
//!
//! Eviction, so that a flood of announces for random info-hashes displaces
//! the flooder's own entries and not honest ones:
//! - An IP at `max_per_ip` that announces something new loses its own
//!   oldest announce. One host can hold `max_per_ip` entries, never more.
//! - A torrent at `max_peers_per_hash` loses its oldest announce.
//! - A new info-hash in a full store evicts the torrent with the fewest
//!   peers (libtorrent's rule too: a random-hash flood makes one-peer torrents,
//!   a real swarm has many), among those the one whose announcer holds the
//!   most announces (the flooder), then the one announced longest ago.
//!   The new announce is always stored: honest newcomers are never refused.
//!   The scan that picks the victim evicts a batch of 1/32 of the store at
//!   once, so a flood costs one scan per batch, not one per announce.
//!
//! Announces are only accepted with a valid token (see `token`), so the IPs
//! here are real, not spoofed: the per-IP cap is meaningful.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ferro_core::InfoHash;
use rand::Rng;
use rand::seq::IteratorRandom;

/// A full store sweeps expired announces at most this often on its own
/// (the node also expires every minute).
const EXPIRE_ON_FULL_EVERY: Duration = Duration::from_secs(10);

/// How long an announce lasts (BEP 5 leaves it open; 30 minutes is what
/// Mainline clients use, and clients re-announce more often than that).
pub const PEER_TTL: Duration = Duration::from_secs(30 * 60);

/// Peer-store limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerStoreConfig {
    /// Distinct info-hashes stored; a new one beyond this evicts another.
    pub max_info_hashes: usize,
    /// Peers per info-hash; the oldest announce is evicted beyond this.
    pub max_peers_per_hash: usize,
    /// Announces from one IP address across all torrents; the IP's oldest is
    /// evicted beyond this. A host sees only the few of its torrents whose
    /// info-hashes are close to our id, so honest hosts stay far below it.
    pub max_per_ip: usize,
    /// Lifetime of one announce.
    pub ttl: Duration,
}

impl Default for PeerStoreConfig {
    fn default() -> Self {
        PeerStoreConfig {
            max_info_hashes: 2000,
            max_peers_per_hash: 200,
            max_per_ip: 32,
            ttl: PEER_TTL,
        }
    }
}

/// What [`PeerStore::announce`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOutcome {
    /// A new entry, nothing displaced.
    Added,
    /// The peer was already stored for that torrent; its time was renewed.
    Refreshed,
    /// A new entry that displaced another one (a cap was reached).
    Evicted,
    /// Not stored (a limit is zero).
    Refused,
}

/// The store. See the module docs.
#[derive(Clone, Debug, Default)]
pub struct PeerStore {
    cfg: PeerStoreConfig,
    torrents: HashMap<InfoHash, Vec<(SocketAddr, Instant)>>,
    /// Each IP's announces, oldest first.
    per_ip: HashMap<IpAddr, VecDeque<(InfoHash, SocketAddr)>>,
    last_expire: Option<Instant>,
}

impl PeerStore {
    /// An empty store.
    pub fn new(cfg: PeerStoreConfig) -> Self {
        PeerStore {
            cfg,
            torrents: HashMap::new(),
            per_ip: HashMap::new(),
            last_expire: None,
        }
    }

    /// Records `peer` for `info_hash` at `now`. See the module docs for what
    /// gets evicted when a bound is reached.
    pub fn announce(
        &mut self,
        info_hash: InfoHash,
        peer: SocketAddr,
        now: Instant,
    ) -> StoreOutcome {
        if self.cfg.max_info_hashes == 0
            || self.cfg.max_peers_per_hash == 0
            || self.cfg.max_per_ip == 0
        {
            return StoreOutcome::Refused;
        }
        if let Some(p) = self
            .torrents
            .get_mut(&info_hash)
            .and_then(|peers| peers.iter_mut().find(|(a, _)| *a == peer))
        {
            p.1 = now;
            if let Some(q) = self.per_ip.get_mut(&peer.ip())
                && let Some(pos) = q.iter().position(|e| *e == (info_hash, peer))
                && let Some(e) = q.remove(pos)
            {
                q.push_back(e);
            }
            return StoreOutcome::Refreshed;
        }
        let mut evicted = false;
        // The IP's own oldest announce makes room for its new one.
        if self
            .per_ip
            .get(&peer.ip())
            .is_some_and(|q| q.len() >= self.cfg.max_per_ip)
            && let Some((ih, old)) = self
                .per_ip
                .get_mut(&peer.ip())
                .and_then(VecDeque::pop_front)
        {
            self.remove_peer(&ih, old);
            evicted = true;
        }
        if !self.torrents.contains_key(&info_hash)
            && self.torrents.len() >= self.cfg.max_info_hashes
        {
            if self
                .last_expire
                .is_none_or(|t| now.saturating_duration_since(t) >= EXPIRE_ON_FULL_EVERY)
            {
                self.expire(now);
            }
            if self.torrents.len() >= self.cfg.max_info_hashes {
                self.evict_torrents();
                evicted = true;
            }
        }
        let peers = self.torrents.entry(info_hash).or_default();
        let mut dropped = None;
        if peers.len() >= self.cfg.max_peers_per_hash
            && let Some((oldest, _)) = peers.iter().enumerate().min_by_key(|(_, (_, t))| *t)
        {
            dropped = Some(peers.swap_remove(oldest).0);
        }
        peers.push((peer, now));
        if let Some(d) = dropped {
            self.forget_ip_entry(info_hash, d);
            evicted = true;
        }
        self.per_ip
            .entry(peer.ip())
            .or_default()
            .push_back((info_hash, peer));
        if evicted {
            StoreOutcome::Evicted
        } else {
            StoreOutcome::Added
        }
    }

    /// Removes `peer` from `info_hash`'s list (and the torrent if it empties).
    fn remove_peer(&mut self, info_hash: &InfoHash, peer: SocketAddr) {
        if let Some(peers) = self.torrents.get_mut(info_hash) {
            peers.retain(|(a, _)| *a != peer);
            if peers.is_empty() {
                self.torrents.remove(info_hash);
            }
        }
    }

    fn forget_ip_entry(&mut self, info_hash: InfoHash, peer: SocketAddr) {
        if let Some(q) = self.per_ip.get_mut(&peer.ip()) {
            q.retain(|e| *e != (info_hash, peer));
            if q.is_empty() {
                self.per_ip.remove(&peer.ip());
            }
        }
    }

    /// Evicts up to 1/32 of the store (at least one torrent) among the
    /// torrents with the fewest peers: first those whose busiest announcer
    /// holds the most announces, then the stalest.
    fn evict_torrents(&mut self) {
        let Some(fewest) = self.torrents.values().map(Vec::len).min() else {
            return;
        };
        let batch = (self.cfg.max_info_hashes / 32).max(1);
        let load = |peers: &Vec<(SocketAddr, Instant)>| {
            peers
                .iter()
                .map(|(a, _)| self.per_ip.get(&a.ip()).map_or(0, VecDeque::len))
                .max()
                .unwrap_or(0)
        };
        let newest = |peers: &Vec<(SocketAddr, Instant)>| peers.iter().map(|(_, t)| *t).max();
        let mut victims: Vec<_> = self
            .torrents
            .iter()
            .filter(|(_, p)| p.len() == fewest)
            .map(|(ih, p)| (std::cmp::Reverse(load(p)), newest(p), *ih))
            .collect();
        if victims.len() > batch {
            victims.select_nth_unstable(batch - 1);
            victims.truncate(batch);
        }
        for (_, _, ih) in victims {
            if let Some(peers) = self.torrents.remove(&ih) {
                for (a, _) in peers {
                    self.forget_ip_entry(ih, a);
                }
            }
        }
    }

    /// Up to `max` live peers for `info_hash`, a random sample when there are more.
    pub fn peers(
        &self,
        info_hash: &InfoHash,
        max: usize,
        now: Instant,
        rng: &mut impl Rng,
    ) -> Vec<SocketAddr> {
        let Some(peers) = self.torrents.get(info_hash) else {
            return Vec::new();
        };
        peers
            .iter()
            .filter(|(_, t)| now.saturating_duration_since(*t) < self.cfg.ttl)
            .map(|(a, _)| *a)
            .choose_multiple(rng, max)
    }

    /// Drops announces older than the TTL and empty torrents.
    pub fn expire(&mut self, now: Instant) {
        self.last_expire = Some(now);
        let ttl = self.cfg.ttl;
        let mut gone = Vec::new();
        self.torrents.retain(|ih, peers| {
            peers.retain(|(a, t)| {
                let live = now.saturating_duration_since(*t) < ttl;
                if !live {
                    gone.push((*ih, *a));
                }
                live
            });
            !peers.is_empty()
        });
        for (ih, a) in gone {
            self.forget_ip_entry(ih, a);
        }
    }

    /// Number of torrents stored.
    pub fn len(&self) -> usize {
        self.torrents.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.torrents.is_empty()
    }

    /// Number of announces stored, over all torrents.
    pub fn peer_count(&self) -> usize {
        self.torrents.values().map(Vec::len).sum()
    }

    /// Number of announces stored from `ip`.
    pub fn announces_from(&self, ip: IpAddr) -> usize {
        self.per_ip.get(&ip).map_or(0, VecDeque::len)
    }
}

#[cfg(test)]
mod tests;
