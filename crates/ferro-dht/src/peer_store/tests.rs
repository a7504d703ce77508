use super::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn ih(b: u8) -> InfoHash {
    InfoHash([b; 20])
}

fn peer(host: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, host], port))
}

#[test]
fn expiry_and_bounds() {
    let mut rng = StdRng::seed_from_u64(1);
    let t0 = Instant::now();
    let cfg = PeerStoreConfig {
        max_info_hashes: 2,
        max_peers_per_hash: 3,
        ..PeerStoreConfig::default()
    };
    let mut s = PeerStore::new(cfg);
    for p in 1..=5u16 {
        let out = s.announce(ih(1), peer(1, p), t0 + Duration::from_secs(p.into()));
        assert_eq!(
            out,
            if p <= 3 {
                StoreOutcome::Added
            } else {
                StoreOutcome::Evicted
            }
        );
    }
    let mut got = s.peers(&ih(1), 10, t0, &mut rng);
    got.sort();
    assert_eq!(
        got,
        vec![peer(1, 3), peer(1, 4), peer(1, 5)],
        "oldest evicted"
    );
    assert_eq!(s.announces_from(peer(1, 0).ip()), 3);
    assert_eq!(s.peers(&ih(1), 2, t0, &mut rng).len(), 2);
    assert_eq!(s.announce(ih(1), peer(1, 5), t0), StoreOutcome::Refreshed);
    assert_eq!(s.announce(ih(2), peer(2, 1), t0), StoreOutcome::Added);
    // Full: the one-peer torrent goes, not the three-peer one.
    assert_eq!(s.announce(ih(3), peer(3, 1), t0), StoreOutcome::Evicted);
    assert_eq!(s.len(), 2);
    assert!(s.peers(&ih(2), 10, t0, &mut rng).is_empty());
    assert_eq!(s.announces_from(peer(2, 0).ip()), 0);
    let late = t0 + PEER_TTL + Duration::from_secs(6);
    assert!(s.peers(&ih(1), 10, late, &mut rng).is_empty());
    s.expire(late);
    assert!(s.is_empty());
    assert_eq!(s.announces_from(peer(1, 0).ip()), 0);
}

#[test]
fn one_ip_holds_at_most_its_cap_and_churns_its_own_entries() {
    let t0 = Instant::now();
    let mut s = PeerStore::new(PeerStoreConfig {
        max_info_hashes: 100,
        max_per_ip: 5,
        ..PeerStoreConfig::default()
    });
    // An honest announce first.
    assert_eq!(s.announce(ih(200), peer(9, 6881), t0), StoreOutcome::Added);
    for i in 0..150u8 {
        let t = t0 + Duration::from_secs(i.into());
        s.announce(ih(i), peer(1, 1000), t);
        assert!(s.announces_from(peer(1, 0).ip()) <= 5);
    }
    assert_eq!(s.len(), 6, "five of the flooder's and the honest one");
    assert_eq!(s.peer_count(), 6);
    let mut rng = StdRng::seed_from_u64(1);
    assert_eq!(s.peers(&ih(200), 10, t0, &mut rng), vec![peer(9, 6881)]);
    // The flooder's newest survive.
    assert_eq!(s.peers(&ih(149), 10, t0, &mut rng), vec![peer(1, 1000)]);
    assert!(s.peers(&ih(0), 10, t0, &mut rng).is_empty());
}

#[test]
fn many_flooders_make_a_full_store_evict_their_own_torrents_first() {
    let t0 = Instant::now();
    let mut s = PeerStore::new(PeerStoreConfig {
        max_info_hashes: 50,
        max_per_ip: 10,
        ..PeerStoreConfig::default()
    });
    let mut rng = StdRng::seed_from_u64(2);
    // An honest swarm (three peers) and an honest single announce.
    for h in 1..=3 {
        s.announce(ih(250), peer(100 + h, 6881), t0);
    }
    s.announce(ih(251), peer(110, 6881), t0);
    // Twenty flooders, each at its cap of random info-hashes.
    for round in 0..10u64 {
        for f in 0..20u8 {
            let t = t0 + Duration::from_secs(round * 20 + u64::from(f));
            s.announce(InfoHash(rng.random()), peer(f, 1000), t);
            assert!(s.len() <= 50);
        }
    }
    assert_eq!(s.peers(&ih(250), 10, t0, &mut rng).len(), 3, "swarm kept");
    assert_eq!(
        s.peers(&ih(251), 10, t0, &mut rng),
        vec![peer(110, 6881)],
        "honest single kept"
    );
    // A new honest announce still gets in.
    assert_eq!(
        s.announce(ih(252), peer(111, 6881), t0),
        StoreOutcome::Evicted
    );
    assert_eq!(s.peers(&ih(252), 10, t0, &mut rng), vec![peer(111, 6881)]);
}

proptest::proptest! {
    /// Any sequence of announces and expiries from a few hosts: every bound
    /// holds and the per-IP index matches the torrents exactly.
    #[test]
    fn bounds_and_index_hold_under_random_announces(
        ops in proptest::collection::vec((0u8..12, 0u8..30, 1u16..4, 0u64..4000, proptest::prelude::any::<bool>()), 1..300),
    ) {
        let t0 = Instant::now();
        let cfg = PeerStoreConfig {
            max_info_hashes: 10,
            max_peers_per_hash: 4,
            max_per_ip: 5,
            ttl: Duration::from_secs(1800),
        };
        let mut s = PeerStore::new(cfg.clone());
        let mut clock = 0u64;
        for (host, hash, port, dt, expire) in ops {
            clock += dt;
            let now = t0 + Duration::from_secs(clock);
            if expire {
                s.expire(now);
            } else {
                let out = s.announce(ih(hash), peer(host, port), now);
                proptest::prop_assert_ne!(out, StoreOutcome::Refused);
                let mut rng = StdRng::seed_from_u64(0);
                proptest::prop_assert!(s.peers(&ih(hash), 100, now, &mut rng).contains(&peer(host, port)), "just stored");
            }
            proptest::prop_assert!(s.len() <= cfg.max_info_hashes);
            let mut from_torrents = std::collections::HashMap::new();
            for (h, peers) in &s.torrents {
                proptest::prop_assert!(!peers.is_empty() && peers.len() <= cfg.max_peers_per_hash);
                for (a, _) in peers {
                    *from_torrents.entry(a.ip()).or_insert(0usize) += 1;
                    proptest::prop_assert!(s.per_ip.get(&a.ip()).is_some_and(|q| q.contains(&(*h, *a))));
                }
            }
            for (ip, q) in &s.per_ip {
                proptest::prop_assert!(q.len() <= cfg.max_per_ip);
                proptest::prop_assert_eq!(from_torrents.get(ip).copied(), Some(q.len()));
            }
            proptest::prop_assert_eq!(from_torrents.len(), s.per_ip.len());
        }
    }
}
