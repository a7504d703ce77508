use super::*;
use proptest::prelude::*;
use std::net::{Ipv4Addr, SocketAddrV4};

/// A node on host `ip`; every host in its own /24 (10.h.h.1).
fn node(id: [u8; 20], ip: u32) -> NodeInfo {
    node_at(id, Ipv4Addr::from(0x0a00_0001 | (ip << 8)), 6881)
}

fn node_at(id: [u8; 20], ip: Ipv4Addr, port: u16) -> NodeInfo {
    NodeInfo {
        id: NodeId(id),
        addr: SocketAddr::V4(SocketAddrV4::new(ip, port)),
    }
}

fn id_with_first(b: u8) -> [u8; 20] {
    let mut id = [0u8; 20];
    id[0] = b;
    id[19] = b;
    id
}

#[test]
fn own_id_and_duplicates() {
    let now = Instant::now();
    let mut t = RoutingTable::new(NodeId([0; 20]), RoutingConfig::default(), now);
    assert_eq!(t.insert(node([0; 20], 1), now), InsertOutcome::Rejected);
    assert_eq!(t.insert(node([1; 20], 1), now), InsertOutcome::Added);
    assert_eq!(t.insert(node([1; 20], 1), now), InsertOutcome::Updated);
    // Same id, new address: kept at the verified address.
    assert_eq!(t.insert(node([1; 20], 2), now), InsertOutcome::Rejected);
    // One entry per IP by default.
    let other_port = node_at([2; 20], Ipv4Addr::from(0x0a00_0101), 7000);
    assert_eq!(t.insert(other_port, now), InsertOutcome::RestrictedIp);
    assert_eq!(t.len(), 1);
}

#[test]
fn far_bucket_fills_then_caches_and_replaces_bad() {
    let now = Instant::now();
    let cfg = RoutingConfig::default();
    let mut t = RoutingTable::new(NodeId([0; 20]), cfg, now);
    // 0x80.. ids share 0 bits with ours: all go to bucket 0 once split.
    for i in 0..8u8 {
        assert_eq!(
            t.insert(node(id_with_first(0x80 | i), i as u32 + 1), now),
            InsertOutcome::Added
        );
    }
    let later = now + GOOD_PERIOD;
    let out = t.insert(node(id_with_first(0x90), 100), later);
    assert!(
        matches!(out, InsertOutcome::Cached { ping: Some(_) }),
        "{out:?}"
    );
    assert_eq!(t.bucket(0).unwrap().1.len(), 1);
    // Answering again keeps it cached (its IP is its own entry, not another).
    let again = t.insert(node(id_with_first(0x90), 100), later);
    assert!(matches!(again, InsertOutcome::Cached { .. }), "{again:?}");
    assert_eq!(t.bucket(0).unwrap().1.len(), 1);
    // Two failures make a node bad; the cached node takes its place.
    let victim = NodeId(id_with_first(0x83));
    t.failed(&victim, later);
    assert!(t.get(&victim).is_some());
    t.failed(&victim, later);
    assert!(t.get(&victim).is_none());
    assert!(t.get(&NodeId(id_with_first(0x90))).is_some());
    assert_eq!(t.len(), 8);
}

#[test]
fn states_follow_the_15_minute_rule() {
    let now = Instant::now();
    let cfg = RoutingConfig::default();
    let mut e = NodeEntry::new(node([1; 20], 1), now);
    assert_eq!(e.state(now, &cfg), NodeState::Good);
    assert_eq!(e.state(now + GOOD_PERIOD, &cfg), NodeState::Questionable);
    e.last_query = Some(now + GOOD_PERIOD);
    assert_eq!(e.state(now + GOOD_PERIOD, &cfg), NodeState::Good);
    e.failures = 2;
    assert_eq!(e.state(now, &cfg), NodeState::Bad);
}

#[test]
fn refresh_targets_land_in_idle_buckets() {
    let now = Instant::now();
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
    let mut t = RoutingTable::new(NodeId([0; 20]), RoutingConfig::default(), now);
    assert!(t.refresh_targets(now, &mut rng).is_empty());
    let targets = t.refresh_targets(now + GOOD_PERIOD, &mut rng);
    assert_eq!(targets.len(), 1);
    assert!(t.refresh_targets(now + GOOD_PERIOD, &mut rng).is_empty());
    assert_eq!(t.next_refresh(), Some(now + GOOD_PERIOD * 2));
}

#[test]
fn closest_is_sorted() {
    let now = Instant::now();
    let mut t = RoutingTable::new(NodeId([0; 20]), RoutingConfig::default(), now);
    for i in 1..=20u8 {
        t.insert(node(id_with_first(i.wrapping_mul(37)), i as u32), now);
    }
    let target = NodeId(id_with_first(0x42));
    let c = t.closest(&target, 8);
    assert_eq!(c.len(), 8);
    assert!(
        c.windows(2)
            .all(|w| target.distance(&w[0].id) <= target.distance(&w[1].id))
    );
}

proptest! {
    #[test]
    fn closest_matches_brute_force(own: [u8; 20], ids in proptest::collection::vec(any::<[u8; 20]>(), 0..200), target: [u8; 20], n in 0usize..20) {
        let now = Instant::now();
        let mut t = RoutingTable::new(NodeId(own), RoutingConfig::default(), now);
        for (i, id) in ids.into_iter().enumerate() {
            let mut id = id;
            if i % 2 == 0 { id[..2].copy_from_slice(&own[..2]); }
            t.insert(node(id, i as u32), now);
        }
        let target = NodeId(target);
        let mut all: Vec<NodeInfo> = t.entries().map(|e| e.info).collect();
        all.sort_by_key(|i| target.distance(&i.id));
        all.truncate(n);
        prop_assert_eq!(t.closest(&target, n), all);
    }
}

proptest! {
    #[test]
    fn invariants_hold_under_random_insertions(
        own: [u8; 20],
        ops in proptest::collection::vec((any::<[u8; 20]>(), 0u32..64, any::<bool>(), 0u64..2000, 0u16..3), 1..400),
        restrict: bool,
    ) {
        let start = Instant::now();
        let cfg = RoutingConfig { restrict_routing_ips: restrict, ..RoutingConfig::default() };
        let own = NodeId(own);
        let mut t = RoutingTable::new(own, cfg.clone(), start);
        for (id, ip, fail, secs, port) in ops {
            let now = start + Duration::from_secs(secs);
            // Some ids near ours, so the table splits deeply.
            let mut id = id;
            if ip % 3 == 0 { id[..4].copy_from_slice(&own.0[..4]); }
            // Hosts 8 at a time in one /24, on one of three ports.
            let info = node_at(id, Ipv4Addr::from(0x0a00_0000 | ((ip / 8) << 8) | (ip % 8)), 6881 + port);
            if fail { t.failed(&info.id, now); } else { t.insert(info, now); }
            let last = t.bucket_count() - 1;
            let mut seen = std::collections::HashSet::new();
            let mut per = std::collections::HashMap::new();
            for i in 0..t.bucket_count() {
                let (nodes, repl) = t.bucket(i).unwrap();
                prop_assert!(nodes.len() <= cfg.k);
                prop_assert!(repl.len() <= cfg.k);
                if restrict {
                    for list in [nodes, repl] {
                        let mut nets = std::collections::HashMap::new();
                        for e in list {
                            *nets.entry(subnet(e.info.addr.ip())).or_insert(0usize) += 1;
                        }
                        prop_assert!(nets.values().all(|&n| n <= cfg.max_per_subnet), "{nets:?}");
                    }
                }
                for e in nodes.iter().chain(repl) {
                    let cpl = own.common_prefix_len(&e.info.id);
                    prop_assert!(e.info.id != own);
                    if i < last { prop_assert_eq!(cpl, i); } else { prop_assert!(cpl >= last); }
                }
                for e in nodes {
                    prop_assert!(seen.insert(e.info.id), "duplicate id");
                    *per.entry(e.info.addr.ip()).or_insert(0usize) += 1;
                }
            }
            if restrict {
                prop_assert!(per.values().all(|&n| n <= 1));
            }
            prop_assert_eq!(&per, &t.per_ip, "per-IP counts track the entries");
            prop_assert!(t.bucket_count() <= 160);
        }
    }
}

#[test]
fn one_ip_with_a_thousand_ids_holds_one_slot() {
    let now = Instant::now();
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3);
    let own = NodeId([0; 20]);
    let mut t = RoutingTable::new(own, RoutingConfig::default(), now);
    let attacker = Ipv4Addr::new(203, 0, 113, 7);
    let mut restricted = 0;
    for i in 0..1000u16 {
        // Ids across every bucket, near ours included.
        let mut id = NodeId::random(&mut rng).0;
        id[..(i % 4) as usize].fill(0);
        if t.insert(node_at(id, attacker, 1000 + i), now) == InsertOutcome::RestrictedIp {
            restricted += 1;
        }
    }
    assert_eq!(t.len(), 1);
    assert_eq!(restricted, 999);
    let cached: usize = (0..t.bucket_count())
        .map(|i| t.bucket(i).unwrap().1.len())
        .sum();
    assert_eq!(cached, 0, "not in the replacement caches either");
    // Honest nodes still get in.
    for h in 1..=20u32 {
        let mut id = NodeId::random(&mut rng).0;
        id[0] |= 0x80;
        t.insert(node(id, h), now);
    }
    // Bucket 0 (first bit set) is full of honest nodes but for at most the
    // attacker's one slot.
    let honest = t
        .bucket(0)
        .unwrap()
        .0
        .iter()
        .filter(|e| e.info.addr.ip() != attacker)
        .count();
    assert!(honest >= 7, "{honest}");
}

#[test]
fn a_subnet_gets_two_slots_per_bucket() {
    let now = Instant::now();
    let mut t = RoutingTable::new(NodeId([0; 20]), RoutingConfig::default(), now);
    // Eight hosts of 198.51.100.0/24, all for bucket 0 (first bit set).
    let mut added = 0;
    for h in 1..=8u8 {
        let mut id = [h; 20];
        id[0] = 0x80 | h;
        let out = t.insert(node_at(id, Ipv4Addr::new(198, 51, 100, h), 6881), now);
        if out == InsertOutcome::Added {
            added += 1;
        }
    }
    assert_eq!(added, 2);
    // Off: all eight fit.
    let cfg = RoutingConfig {
        restrict_routing_ips: false,
        ..RoutingConfig::default()
    };
    let mut t = RoutingTable::new(NodeId([0; 20]), cfg, now);
    for h in 1..=8u8 {
        let mut id = [h; 20];
        id[0] = 0x80 | h;
        t.insert(node_at(id, Ipv4Addr::new(198, 51, 100, h), 6881), now);
    }
    assert_eq!(t.len(), 8);
}

#[test]
fn a_new_id_from_the_same_address_replaces_the_old_entry() {
    let now = Instant::now();
    let mut t = RoutingTable::new(NodeId([0; 20]), RoutingConfig::default(), now);
    let ip = Ipv4Addr::new(192, 0, 2, 1);
    assert_eq!(
        t.insert(node_at([1; 20], ip, 6881), now),
        InsertOutcome::Added
    );
    // Same IP, other port, other id: refused while the old entry is alive.
    assert_eq!(
        t.insert(node_at([2; 20], ip, 7000), now),
        InsertOutcome::RestrictedIp
    );
    // Same address, new id: the node restarted; the new id takes over.
    assert_eq!(
        t.insert(node_at([3; 20], ip, 6881), now),
        InsertOutcome::Added
    );
    assert!(t.get(&NodeId([1; 20])).is_none());
    assert!(t.get(&NodeId([3; 20])).is_some());
    assert_eq!(t.len(), 1);
    // Once the entry is bad, another port of the IP may replace it.
    t.failed(&NodeId([3; 20]), now);
    t.failed(&NodeId([3; 20]), now);
    assert_eq!(
        t.insert(node_at([2; 20], ip, 7000), now),
        InsertOutcome::Added
    );
    assert_eq!(t.len(), 1);
}
