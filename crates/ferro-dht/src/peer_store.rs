//! Peers announced to us with `announce_peer` (BEP 5), kept 30 minutes, in
//! bounded memory: at most `max_info_hashes` torrents and `max_peers_per_hash`
//! peers each, so a flood of announces cannot grow the store without limit.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferro_core::InfoHash;
use rand::Rng;
use rand::seq::IteratorRandom;

/// How long an announce lasts (BEP 5 leaves it open; 30 minutes is what
/// Mainline clients use, and clients re-announce more often than that).
pub const PEER_TTL: Duration = Duration::from_secs(30 * 60);

/// Peer-store limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerStoreConfig {
    /// Distinct info-hashes stored; announces for new ones are dropped beyond this.
    pub max_info_hashes: usize,
    /// Peers per info-hash; the oldest announce is evicted beyond this.
    pub max_peers_per_hash: usize,
    /// Lifetime of one announce.
    pub ttl: Duration,
}

impl Default for PeerStoreConfig {
    fn default() -> Self {
        PeerStoreConfig {
            max_info_hashes: 2000,
            max_peers_per_hash: 200,
            ttl: PEER_TTL,
        }
    }
}

/// The store. See the module docs.
#[derive(Clone, Debug, Default)]
pub struct PeerStore {
    cfg: PeerStoreConfig,
    torrents: HashMap<InfoHash, Vec<(SocketAddr, Instant)>>,
}

impl PeerStore {
    /// An empty store.
    pub fn new(cfg: PeerStoreConfig) -> Self {
        PeerStore {
            cfg,
            torrents: HashMap::new(),
        }
    }

    /// Records `peer` for `info_hash` at `now`; returns false if it was dropped
    /// because the store holds `max_info_hashes` other torrents.
    pub fn announce(&mut self, info_hash: InfoHash, peer: SocketAddr, now: Instant) -> bool {
        if !self.torrents.contains_key(&info_hash)
            && self.torrents.len() >= self.cfg.max_info_hashes
        {
            self.expire(now);
            if self.torrents.len() >= self.cfg.max_info_hashes {
                return false;
            }
        }
        let peers = self.torrents.entry(info_hash).or_default();
        if let Some(p) = peers.iter_mut().find(|(a, _)| *a == peer) {
            p.1 = now;
            return true;
        }
        if peers.len() >= self.cfg.max_peers_per_hash
            && let Some((oldest, _)) = peers.iter().enumerate().min_by_key(|(_, (_, t))| *t)
        {
            peers.swap_remove(oldest);
        }
        peers.push((peer, now));
        true
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
        let ttl = self.cfg.ttl;
        self.torrents.retain(|_, peers| {
            peers.retain(|(_, t)| now.saturating_duration_since(*t) < ttl);
            !peers.is_empty()
        });
    }

    /// Number of torrents stored.
    pub fn len(&self) -> usize {
        self.torrents.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.torrents.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn expiry_and_bounds() {
        let mut rng = StdRng::seed_from_u64(1);
        let t0 = Instant::now();
        let cfg = PeerStoreConfig {
            max_info_hashes: 2,
            max_peers_per_hash: 3,
            ttl: PEER_TTL,
        };
        let mut s = PeerStore::new(cfg);
        let ih = |b| InfoHash([b; 20]);
        let peer = |p: u16| SocketAddr::from(([10, 0, 0, 1], p));
        for p in 1..=5u16 {
            assert!(s.announce(ih(1), peer(p), t0 + Duration::from_secs(p.into())));
        }
        let mut got = s.peers(&ih(1), 10, t0, &mut rng);
        got.sort();
        assert_eq!(got, vec![peer(3), peer(4), peer(5)], "oldest evicted");
        assert_eq!(s.peers(&ih(1), 2, t0, &mut rng).len(), 2);
        assert!(s.announce(ih(2), peer(1), t0));
        assert!(!s.announce(ih(3), peer(1), t0), "torrent cap");
        assert!(
            s.peers(&ih(1), 10, t0 + PEER_TTL + Duration::from_secs(6), &mut rng)
                .is_empty()
        );
        // After expiry there is room again.
        assert!(s.announce(ih(3), peer(1), t0 + PEER_TTL + Duration::from_secs(6)));
        assert_eq!(s.len(), 1);
    }
}
