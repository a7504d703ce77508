//! The tracker's state: one swarm per info-hash, in memory, bounded.
//! Sans-IO: every call takes the current [`Instant`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::seq::IteratorRandom;

use crate::{Event, InfoHash, Peer, PeerId, ScrapeStats};

/// Limits and timing of the swarm store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmConfig {
    /// The `interval` told to clients.
    pub interval: Duration,
    /// The `min interval` told to HTTP clients.
    pub min_interval: Duration,
    /// A peer that has not announced for this many intervals is dropped.
    pub expiry_intervals: u32,
    /// Peers returned when the client does not say `numwant`.
    pub default_numwant: usize,
    /// Most peers ever returned in one reply, whatever `numwant` says.
    pub max_numwant: usize,
    /// Most torrents tracked; announces for new torrents past it are refused.
    pub max_torrents: usize,
    /// Most peers per torrent; new peers past it are refused.
    pub max_peers_per_torrent: usize,
}

impl Default for SwarmConfig {
    fn default() -> Self {
        SwarmConfig {
            interval: Duration::from_secs(1800),
            min_interval: Duration::from_secs(60),
            expiry_intervals: 2,
            default_numwant: 50,
            max_numwant: 200,
            max_torrents: 100_000,
            max_peers_per_torrent: 10_000,
        }
    }
}

/// An announce as the server sees it (from HTTP or UDP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAnnounce {
    /// The torrent.
    pub info_hash: InfoHash,
    /// The peer's id.
    pub peer_id: PeerId,
    /// Where the peer listens: the sender's IP with the announced port.
    pub addr: SocketAddr,
    /// Bytes left (0 = seeder).
    pub left: u64,
    /// The event.
    pub event: Event,
    /// Peers wanted (`None`: default).
    pub numwant: Option<usize>,
}

/// What an announce earns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceOutcome {
    /// Peers for the client (never itself), at most the capped numwant.
    pub peers: Vec<Peer>,
    /// The swarm's numbers after this announce.
    pub stats: ScrapeStats,
}

/// Why an announce was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `max_torrents` reached.
    TooManyTorrents,
    /// `max_peers_per_torrent` reached.
    SwarmFull,
}

impl Refusal {
    /// The `failure reason` text.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::TooManyTorrents => "tracker is full (too many torrents)",
            Refusal::SwarmFull => "swarm is full",
        }
    }
}

#[derive(Debug, Clone)]
struct PeerState {
    peer_id: PeerId,
    seeder: bool,
    last_seen: Instant,
}

#[derive(Debug, Default)]
struct Swarm {
    peers: HashMap<SocketAddr, PeerState>,
    seeders: u32,
    downloaded: u32,
}

impl Swarm {
    fn stats(&self) -> ScrapeStats {
        ScrapeStats {
            complete: self.seeders,
            downloaded: self.downloaded,
            incomplete: (self.peers.len() as u32).saturating_sub(self.seeders),
        }
    }
    fn remove(&mut self, addr: &SocketAddr) {
        if let Some(p) = self.peers.remove(addr)
            && p.seeder
        {
            self.seeders = self.seeders.saturating_sub(1);
        }
    }
}

/// All swarms.
#[derive(Debug)]
pub struct Swarms {
    config: SwarmConfig,
    torrents: HashMap<InfoHash, Swarm>,
}

impl Swarms {
    /// An empty store.
    pub fn new(config: SwarmConfig) -> Self {
        Swarms {
            config,
            torrents: HashMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SwarmConfig {
        &self.config
    }

    /// How long a silent peer is kept.
    pub fn peer_ttl(&self) -> Duration {
        self.config
            .interval
            .saturating_mul(self.config.expiry_intervals.max(1))
    }

    /// Records an announce and picks peers for the reply.
    pub fn announce(&mut self, a: &PeerAnnounce, now: Instant) -> Result<AnnounceOutcome, Refusal> {
        if a.event == Event::Stopped {
            // A leaving peer gets no peers and does not create a torrent.
            let stats = match self.torrents.get_mut(&a.info_hash) {
                Some(s) => {
                    s.remove(&a.addr);
                    let st = s.stats();
                    if s.peers.is_empty() && s.downloaded == 0 {
                        self.torrents.remove(&a.info_hash);
                    }
                    st
                }
                None => ScrapeStats::default(),
            };
            return Ok(AnnounceOutcome {
                peers: Vec::new(),
                stats,
            });
        }
        if !self.torrents.contains_key(&a.info_hash)
            && self.torrents.len() >= self.config.max_torrents
        {
            return Err(Refusal::TooManyTorrents);
        }
        let ttl = self.peer_ttl();
        let max_peers = self.config.max_peers_per_torrent;
        let swarm = self.torrents.entry(a.info_hash).or_default();
        if !swarm.peers.contains_key(&a.addr) && swarm.peers.len() >= max_peers {
            // Make room from silent peers before refusing.
            expire_swarm(swarm, now, ttl);
            if swarm.peers.len() >= max_peers {
                return Err(Refusal::SwarmFull);
            }
        }
        let seeder = a.left == 0;
        let prev = swarm.peers.insert(
            a.addr,
            PeerState {
                peer_id: a.peer_id,
                seeder,
                last_seen: now,
            },
        );
        match prev {
            Some(p) if p.seeder && !seeder => swarm.seeders = swarm.seeders.saturating_sub(1),
            Some(p) if !p.seeder && seeder => swarm.seeders += 1,
            None if seeder => swarm.seeders += 1,
            _ => {}
        }
        if a.event == Event::Completed {
            swarm.downloaded = swarm.downloaded.saturating_add(1);
        }
        let want = a
            .numwant
            .unwrap_or(self.config.default_numwant)
            .min(self.config.max_numwant);
        let mut rng = rand::rng();
        let peers = swarm
            .peers
            .iter()
            .filter(|(addr, p)| **addr != a.addr && !(seeder && p.seeder))
            .map(|(addr, p)| Peer {
                addr: *addr,
                peer_id: Some(p.peer_id),
            })
            .choose_multiple(&mut rng, want);
        Ok(AnnounceOutcome {
            peers,
            stats: swarm.stats(),
        })
    }

    /// Numbers for one torrent, if tracked.
    pub fn scrape(&self, info_hash: &InfoHash) -> Option<ScrapeStats> {
        self.torrents.get(info_hash).map(Swarm::stats)
    }

    /// Every tracked torrent's numbers (an HTTP scrape without `info_hash`).
    pub fn scrape_all(&self, limit: usize) -> Vec<(InfoHash, ScrapeStats)> {
        self.torrents
            .iter()
            .take(limit)
            .map(|(h, s)| (*h, s.stats()))
            .collect()
    }

    /// The peers of one torrent, for inspection and tests.
    pub fn peers(&self, info_hash: &InfoHash) -> Vec<(SocketAddr, PeerId)> {
        self.torrents
            .get(info_hash)
            .map(|s| s.peers.iter().map(|(a, p)| (*a, p.peer_id)).collect())
            .unwrap_or_default()
    }

    /// Number of tracked torrents.
    pub fn torrent_count(&self) -> usize {
        self.torrents.len()
    }

    /// Drops peers silent for longer than [`peer_ttl`](Self::peer_ttl) and
    /// torrents left without peers; returns how many peers went.
    pub fn expire(&mut self, now: Instant) -> usize {
        let ttl = self.peer_ttl();
        let mut gone = 0;
        self.torrents.retain(|_, s| {
            gone += expire_swarm(s, now, ttl);
            !s.peers.is_empty()
        });
        gone
    }
}

fn expire_swarm(s: &mut Swarm, now: Instant, ttl: Duration) -> usize {
    let before = s.peers.len();
    s.peers
        .retain(|_, p| now.saturating_duration_since(p.last_seen) <= ttl);
    s.seeders = s.peers.values().filter(|p| p.seeder).count() as u32;
    before - s.peers.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(ih: u8, port: u16, left: u64, event: Event) -> PeerAnnounce {
        PeerAnnounce {
            info_hash: InfoHash([ih; 20]),
            peer_id: PeerId([port as u8; 20]),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            left,
            event,
            numwant: None,
        }
    }

    #[test]
    fn peers_see_each_other_not_themselves() {
        let mut s = Swarms::new(SwarmConfig::default());
        let t = Instant::now();
        let r1 = s.announce(&ann(1, 1000, 10, Event::Started), t).unwrap();
        assert!(r1.peers.is_empty());
        let r2 = s.announce(&ann(1, 1001, 0, Event::Started), t).unwrap();
        assert_eq!(r2.peers.len(), 1);
        assert_eq!(r2.peers[0].addr.port(), 1000);
        assert_eq!(r2.peers[0].peer_id, Some(PeerId([1000u16 as u8; 20])));
        assert_eq!(
            r2.stats,
            ScrapeStats {
                complete: 1,
                downloaded: 0,
                incomplete: 1
            }
        );
        let r3 = s.announce(&ann(1, 1000, 0, Event::Completed), t).unwrap();
        // Seeders are not sent to seeders.
        assert!(r3.peers.is_empty());
        assert_eq!(
            s.scrape(&InfoHash([1; 20])),
            Some(ScrapeStats {
                complete: 2,
                downloaded: 1,
                incomplete: 0
            })
        );
    }

    #[test]
    fn stopped_removes_and_expiry_drops_silent_peers() {
        let cfg = SwarmConfig {
            interval: Duration::from_secs(10),
            ..SwarmConfig::default()
        };
        let mut s = Swarms::new(cfg);
        let t = Instant::now();
        s.announce(&ann(1, 1, 5, Event::Started), t).unwrap();
        s.announce(&ann(1, 2, 5, Event::Started), t).unwrap();
        s.announce(&ann(1, 1, 5, Event::Stopped), t).unwrap();
        assert_eq!(s.peers(&InfoHash([1; 20])).len(), 1);
        assert_eq!(s.expire(t + Duration::from_secs(20)), 0);
        assert_eq!(s.expire(t + Duration::from_secs(21)), 1);
        assert_eq!(s.torrent_count(), 0);
    }

    #[test]
    fn numwant_and_sizes_are_capped() {
        let cfg = SwarmConfig {
            max_numwant: 5,
            max_peers_per_torrent: 20,
            max_torrents: 2,
            ..SwarmConfig::default()
        };
        let mut s = Swarms::new(cfg);
        let t = Instant::now();
        for p in 0..20 {
            s.announce(&ann(1, p, 1, Event::Started), t).unwrap();
        }
        assert_eq!(
            s.announce(&ann(1, 99, 1, Event::Started), t),
            Err(Refusal::SwarmFull)
        );
        let mut a = ann(1, 3, 1, Event::None);
        a.numwant = Some(1000);
        assert_eq!(s.announce(&a, t).unwrap().peers.len(), 5);
        s.announce(&ann(2, 1, 1, Event::Started), t).unwrap();
        assert_eq!(
            s.announce(&ann(3, 1, 1, Event::Started), t),
            Err(Refusal::TooManyTorrents)
        );
        // Silent peers make room.
        let later = t + s.peer_ttl() + Duration::from_secs(1);
        assert!(s.announce(&ann(1, 99, 1, Event::Started), later).is_ok());
    }
}
