//! The DHT under attack (issue #11), sans-IO with virtual time: a small
//! simulated network of honest node cores, and an attacker outside it whose
//! datagrams are handed to one victim node (`Sim::inject`). Each test checks
//! what the attack left standing: the victim's counters, bounded table and
//! store sizes, and honest lookups that still succeed.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ferro_dht::krpc::{self, Body, Message, Query, Response, code};
use ferro_dht::sim::{Sim, SimConfig, sim_addr};
use ferro_dht::{DhtConfig, Event, InfoHash, NodeId, PeerStoreConfig, Transmit};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const VICTIM: usize = 1;

fn attacker_ip() -> IpAddr {
    "203.0.113.9".parse().unwrap()
}

fn attacker(port: u16) -> SocketAddr {
    SocketAddr::new(attacker_ip(), port)
}

/// `n` honest nodes, each bootstrapped from node 0, settled for 30 s.
fn network(n: usize, dht: DhtConfig) -> Sim {
    let mut sim = Sim::new(SimConfig {
        nodes: n,
        dht,
        ..SimConfig::default()
    });
    for i in 1..n {
        let at = sim.now() + Duration::from_millis(10);
        sim.run_until(at);
        sim.join(i, 0);
    }
    let at = sim.now() + Duration::from_secs(30);
    sim.run_until(at);
    sim
}

fn default_dht() -> DhtConfig {
    SimConfig::default().dht
}

fn advance(sim: &mut Sim, by: Duration) {
    let at = sim.now() + by;
    sim.run_until(at);
}

fn query(q: Query, tid: &[u8]) -> Vec<u8> {
    krpc::encode(&Message {
        transaction_id: tid.to_vec(),
        version: None,
        read_only: false,
        body: Body::Query(q),
    })
}

fn bodies(out: &[Transmit]) -> Vec<Body> {
    out.iter()
        .map(|t| {
            krpc::decode(&t.payload)
                .expect("the victim sends valid KRPC")
                .body
        })
        .collect()
}

fn responses(out: &[Transmit]) -> usize {
    bodies(out)
        .iter()
        .filter(|b| matches!(b, Body::Response(_)))
        .count()
}

/// Node `from`'s lookup result, run to completion.
fn lookup_done(
    sim: &mut Sim,
    from: usize,
    lid: ferro_dht::LookupId,
) -> (Vec<NodeId>, Vec<SocketAddr>) {
    match sim.wait_lookup(from, lid) {
        Some(Event::LookupDone { closest, peers, .. }) => {
            (closest.into_iter().map(|n| n.id).collect(), peers)
        }
        other => panic!("lookup did not finish: {other:?}"),
    }
}

/// The victim still finds the true closest node to random targets, and an
/// announce through the network (landing on the victim's neighbourhood) is
/// found by another node.
fn honest_lookups_succeed(sim: &mut Sim, rng: &mut StdRng) {
    let ids: Vec<NodeId> = sim.nodes().iter().map(|n| n.id()).collect();
    for _ in 0..5 {
        let target = NodeId(rng.random());
        let truth = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != VICTIM)
            .min_by_key(|(_, id)| target.distance(id))
            .map(|(_, id)| *id);
        let lid = sim
            .with_node(VICTIM, |n, now| n.find_node(target, now))
            .unwrap();
        let (closest, _) = lookup_done(sim, VICTIM, lid);
        assert_eq!(closest.first().copied(), truth, "victim's lookup");
    }
    // An info-hash next to the victim's id: the victim is among its closest.
    let mut ih = ids[VICTIM].0;
    ih[19] ^= 1;
    let ih = InfoHash(ih);
    let lid = sim
        .with_node(2, |n, now| n.announce(ih, Some(7777), now))
        .unwrap();
    lookup_done(sim, 2, lid);
    let lid = sim.with_node(3, |n, now| n.get_peers(ih, now)).unwrap();
    let (_, peers) = lookup_done(sim, 3, lid);
    let want = SocketAddr::new(sim_addr(2).ip(), 7777);
    assert!(peers.contains(&want), "{peers:?}");
    assert!(
        sim.nodes()[VICTIM].peer_store().announces_from(want.ip()) >= 1,
        "the victim stored the honest announce"
    );
}

#[test]
fn a_query_flood_from_one_ip_is_rate_limited_and_honest_lookups_still_succeed() {
    let mut sim = network(60, default_dht());
    let mut rng = StdRng::seed_from_u64(11);
    let limit = default_dht().rate_limit.unwrap();
    // 10,000 queries in 10 virtual seconds: 1,000 per second from one IP.
    let mut answered = 0;
    for i in 0..10_000u32 {
        if i % 100 == 0 {
            advance(&mut sim, Duration::from_millis(100));
        }
        let q = if i % 2 == 0 {
            Query::FindNode {
                id: NodeId(rng.random()),
                target: NodeId(rng.random()),
                want: None,
            }
        } else {
            Query::GetPeers {
                id: NodeId(rng.random()),
                info_hash: NodeId(rng.random()),
                want: None,
            }
        };
        let out = sim.inject(VICTIM, attacker(6881), &query(q, &i.to_be_bytes()));
        answered += responses(&out);
    }
    let stats = sim.nodes()[VICTIM].stats();
    // Burst plus the refill over 10 s, and a little slack for the first step.
    let cap = limit.burst as usize + (limit.per_second * 11.0) as usize;
    assert!(answered <= cap, "{answered} answers > {cap}");
    assert!(
        answered >= limit.burst as usize,
        "the burst is served: {answered}"
    );
    assert_eq!(stats.queries_rate_limited as usize, 10_000 - answered);
    // Dropped silently: no error for each refused query.
    assert_eq!(stats.errors_sent, 0);
    // The attacker's many ids left at most one entry in the table.
    let held = sim.nodes()[VICTIM]
        .routing_table()
        .entries()
        .filter(|e| e.info.addr.ip() == attacker_ip())
        .count();
    assert_eq!(held, 0, "the attacker never answered a ping");
    honest_lookups_succeed(&mut sim, &mut rng);
}

#[test]
fn a_spoofed_flood_from_many_ips_cannot_lock_out_a_newcomer() {
    let mut sim = network(20, default_dht());
    let mut rng = StdRng::seed_from_u64(12);
    // 20,000 sources, each once: more than the limiter tracks (4,096).
    for i in 0..20_000u32 {
        let from = SocketAddr::from(([198, 18 + (i >> 16) as u8, (i >> 8) as u8, i as u8], 6881));
        let q = Query::Ping {
            id: NodeId(rng.random()),
        };
        sim.inject(VICTIM, from, &query(q, b"pp"));
    }
    // A newcomer is still answered.
    let out = sim.inject(
        VICTIM,
        attacker(1),
        &query(
            Query::Ping {
                id: NodeId([7; 20]),
            },
            b"hi",
        ),
    );
    assert_eq!(responses(&out), 1);
    assert_eq!(sim.nodes()[VICTIM].stats().queries_rate_limited, 0);
}

#[test]
fn bogus_and_foreign_tokens_get_error_203_and_store_nothing() {
    let mut sim = network(20, default_dht());
    let mut rng = StdRng::seed_from_u64(13);
    let ih = NodeId([0x33; 20]);
    let announce = |token: Vec<u8>| {
        query(
            Query::AnnouncePeer {
                id: NodeId([9; 20]),
                info_hash: ih,
                port: 4000,
                token,
                implied_port: false,
            },
            b"an",
        )
    };
    let error_code = |out: &[Transmit]| {
        bodies(out).into_iter().find_map(|b| match b {
            Body::Error(e) => Some(e.code),
            _ => None,
        })
    };
    // Random tokens of every length up to the codec's limit.
    for len in 0..=krpc::MAX_TOKEN {
        advance(&mut sim, Duration::from_millis(200));
        let token: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let out = sim.inject(VICTIM, attacker(4000), &announce(token));
        assert_eq!(
            error_code(&out),
            Some(code::PROTOCOL),
            "token of {len} bytes"
        );
    }
    // A real token, handed to another IP.
    let get = query(
        Query::GetPeers {
            id: NodeId([8; 20]),
            info_hash: ih,
            want: None,
        },
        b"gp",
    );
    let other = SocketAddr::from(([203, 0, 113, 10], 4000));
    let token = bodies(&sim.inject(VICTIM, other, &get))
        .into_iter()
        .find_map(|b| match b {
            Body::Response(r) => r.token,
            _ => None,
        })
        .expect("a token");
    let out = sim.inject(VICTIM, attacker(4000), &announce(token));
    assert_eq!(
        error_code(&out),
        Some(code::PROTOCOL),
        "a token is bound to its IP"
    );
    let victim = &sim.nodes()[VICTIM];
    assert!(victim.peer_store().is_empty(), "nothing stored");
    assert_eq!(victim.stats().bad_tokens, krpc::MAX_TOKEN as u64 + 2);
    assert_eq!(victim.stats().announces_stored, 0);

    // Our own token: accepted now, and after one rotation (5 min), refused
    // after two (BEP 5: the previous secret is still accepted).
    let token_now = || {
        let get = get.clone();
        move |sim: &mut Sim| {
            bodies(&sim.inject(VICTIM, attacker(4000), &get))
                .into_iter()
                .find_map(|b| match b {
                    Body::Response(r) => r.token,
                    _ => None,
                })
                .expect("a token")
        }
    };
    let token = token_now()(&mut sim);
    let out = sim.inject(VICTIM, attacker(4000), &announce(token.clone()));
    assert_eq!(responses(&out), 1);
    advance(&mut sim, Duration::from_secs(6 * 60));
    let out = sim.inject(VICTIM, attacker(4000), &announce(token.clone()));
    assert_eq!(responses(&out), 1, "valid across one rotation");
    advance(&mut sim, Duration::from_secs(6 * 60));
    let out = sim.inject(VICTIM, attacker(4000), &announce(token));
    assert_eq!(
        error_code(&out),
        Some(code::PROTOCOL),
        "dead after two rotations"
    );
}

/// A valid token for `from`, asked of the victim.
fn token_for(sim: &mut Sim, from: SocketAddr) -> Vec<u8> {
    let get = query(
        Query::GetPeers {
            id: NodeId([8; 20]),
            info_hash: NodeId([1; 20]),
            want: None,
        },
        b"gt",
    );
    bodies(&sim.inject(VICTIM, from, &get))
        .into_iter()
        .find_map(|b| match b {
            Body::Response(r) => r.token,
            _ => None,
        })
        .expect("a token")
}

#[test]
fn announces_for_random_info_hashes_fill_neither_the_store_nor_evict_honest_peers() {
    let dht = DhtConfig {
        peer_store: PeerStoreConfig {
            max_info_hashes: 200,
            ..PeerStoreConfig::default()
        },
        ..default_dht()
    };
    let per_ip = dht.peer_store.max_per_ip;
    let mut sim = network(60, dht);
    let mut rng = StdRng::seed_from_u64(14);
    // An honest announce reaches the victim first.
    let mut ih = sim.nodes()[VICTIM].id().0;
    ih[19] ^= 2;
    let honest_ih = InfoHash(ih);
    let lid = sim
        .with_node(4, |n, now| n.announce(honest_ih, Some(5555), now))
        .unwrap();
    lookup_done(&mut sim, 4, lid);
    // One IP announces 1,000 random info-hashes, within its query rate.
    let mut token = token_for(&mut sim, attacker(3000));
    for i in 0..1000u32 {
        if i % 5 == 0 {
            advance(&mut sim, Duration::from_millis(600));
        }
        if i % 1000 == 999 {
            token = token_for(&mut sim, attacker(3000));
        }
        let q = Query::AnnouncePeer {
            id: NodeId(rng.random()),
            info_hash: NodeId(rng.random()),
            port: 3000,
            token: token.clone(),
            implied_port: false,
        };
        let out = sim.inject(VICTIM, attacker(3000), &query(q, &i.to_be_bytes()));
        assert_eq!(responses(&out), 1, "announce {i} answered");
    }
    let victim = &sim.nodes()[VICTIM];
    assert_eq!(victim.peer_store().announces_from(attacker_ip()), per_ip);
    assert!(victim.stats().announces_evicted >= 1000 - per_ip as u64);
    // Then 50 IPs with 32 each: more than the store holds (200 torrents).
    for h in 0..50u8 {
        let from = SocketAddr::from(([198, 51, 100, h], 3000));
        let token = token_for(&mut sim, from);
        for i in 0..per_ip as u32 {
            if i % 20 == 19 {
                advance(&mut sim, Duration::from_secs(2));
            }
            let q = Query::AnnouncePeer {
                id: NodeId(rng.random()),
                info_hash: NodeId(rng.random()),
                port: 3000,
                token: token.clone(),
                implied_port: false,
            };
            sim.inject(VICTIM, from, &query(q, b"ax"));
        }
    }
    let store = sim.nodes()[VICTIM].peer_store();
    assert!(store.len() <= 200, "{}", store.len());
    let honest = SocketAddr::new(sim_addr(4).ip(), 5555);
    assert_eq!(
        store.announces_from(honest.ip()),
        1,
        "the honest announce survived"
    );
    let lid = sim
        .with_node(5, |n, now| n.get_peers(honest_ih, now))
        .unwrap();
    let (_, peers) = lookup_done(&mut sim, 5, lid);
    assert!(peers.contains(&honest), "{peers:?}");
    // New honest announces still get in.
    honest_lookups_succeed(&mut sim, &mut rng);
}

#[test]
fn malformed_krpc_is_dropped_or_answered_203_and_changes_nothing() {
    let mut sim = network(30, default_dht());
    let mut rng = StdRng::seed_from_u64(15);
    let before_table = sim.nodes()[VICTIM].routing_table().len();
    let before_lookups = sim.nodes()[VICTIM].active_lookups();
    let inputs: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\xff\x00garbage".to_vec(),
        b"d1:t2:aa1:y1:qe".to_vec(),                               // no q, no a
        b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe".to_vec(),        // short id
        b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:xe".to_vec(), // y = x
        b"d1:ad2:id20:abcdefghij01234567896:target2:xxe1:q9:find_node1:t2:aa1:y1:qe".to_vec(),
        b"d1:ad2:id20:abcdefghij01234567894:porti99999e5:token1:x9:info_hash20:abcdefghij0123456789e1:q13:announce_peer1:t2:aa1:y1:qe".to_vec(),
        b"d1:rd2:id20:abcdefghij01234567895:nodes5:12345e1:t4:zzzz1:y1:re".to_vec(),
        [b"d1:t".as_slice(), b"100:", &[b'x'; 100], b"1:y1:qe"].concat(), // long tid
        vec![b'l'; 5000],                                            // too large, deep
        b"d1:eli201e5:oops!e1:t2:aa1:y1:ee".to_vec(),               // an error nobody asked for
    ];
    let mut errors = 0;
    for (n, bytes) in inputs.iter().enumerate() {
        let out = sim.inject(VICTIM, attacker(5000 + n as u16), bytes);
        for b in bodies(&out) {
            match b {
                Body::Error(e) => {
                    assert!(
                        [code::PROTOCOL, code::METHOD_UNKNOWN].contains(&e.code),
                        "{e:?}"
                    );
                    errors += 1;
                }
                other => panic!("input {n}: unexpected {other:?}"),
            }
        }
    }
    // And random bytes.
    for _ in 0..2000 {
        let len = rng.random_range(0..300);
        let junk: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let out = sim.inject(VICTIM, attacker(6000), &junk);
        assert!(bodies(&out).iter().all(|b| matches!(b, Body::Error(_))));
    }
    let victim = &sim.nodes()[VICTIM];
    assert!(
        errors >= 3,
        "decodable queries with a t get error 203: {errors}"
    );
    assert!(victim.stats().malformed >= 9, "{:?}", victim.stats());
    assert_eq!(victim.routing_table().len(), before_table);
    assert!(victim.peer_store().is_empty());
    assert_eq!(victim.active_lookups(), before_lookups);
    assert!(
        victim
            .routing_table()
            .entries()
            .all(|e| e.info.addr.ip() != attacker_ip()),
        "no attacker entry"
    );
    honest_lookups_succeed(&mut sim, &mut rng);
}

/// The attacker queries the victim from `port` claiming `id`, then answers
/// the victim's verification ping with that id (as a real sybil host would).
fn claim_id(sim: &mut Sim, port: u16, id: NodeId) {
    let from = attacker(port);
    let out = sim.inject(VICTIM, from, &query(Query::Ping { id }, b"sy"));
    for t in out {
        let Ok(m) = krpc::decode(&t.payload) else {
            continue;
        };
        if let Body::Query(Query::Ping { .. }) = m.body {
            let pong = krpc::encode(&Message {
                transaction_id: m.transaction_id,
                version: None,
                read_only: false,
                body: Body::Response(Response::id_only(id)),
            });
            sim.inject(VICTIM, t.to, &pong);
        }
    }
}

fn attacker_entries(sim: &Sim) -> usize {
    sim.nodes()[VICTIM]
        .routing_table()
        .entries()
        .filter(|e| e.info.addr.ip() == attacker_ip())
        .count()
}

#[test]
fn one_ip_with_a_thousand_ids_holds_one_routing_table_slot() {
    let mut sim = network(60, default_dht());
    let mut rng = StdRng::seed_from_u64(16);
    let own = sim.nodes()[VICTIM].id();
    for i in 0..1000u16 {
        if i % 20 == 0 {
            advance(&mut sim, Duration::from_secs(3));
        }
        // Ids near the victim's (deep buckets with room) and anywhere.
        let mut id: [u8; 20] = rng.random();
        id[..usize::from(i % 3)].copy_from_slice(&own.0[..usize::from(i % 3)]);
        claim_id(&mut sim, 10_000 + i, NodeId(id));
    }
    assert_eq!(attacker_entries(&sim), 1);
    // A new id from the address already in the table replaces its entry.
    let (addr, old) = sim.nodes()[VICTIM]
        .routing_table()
        .entries()
        .find(|e| e.info.addr.ip() == attacker_ip())
        .map(|e| (e.info.addr, e.info.id))
        .unwrap();
    // (Next to the victim's own id: the deepest bucket, which has room.)
    let mut fresh = own;
    fresh.0[19] ^= 1;
    advance(&mut sim, Duration::from_secs(5));
    // It queries with the new id; the victim verifies it with a ping.
    claim_id(&mut sim, addr.port(), fresh);
    let table = sim.nodes()[VICTIM].routing_table();
    assert!(table.get(&fresh).is_some(), "new id stored");
    assert!(table.get(&old).is_none(), "old id replaced");
    assert_eq!(attacker_entries(&sim), 1);
    honest_lookups_succeed(&mut sim, &mut rng);
}

#[test]
fn without_the_restriction_the_same_host_takes_many_slots() {
    let mut dht = default_dht();
    dht.routing.restrict_routing_ips = false;
    let mut sim = network(30, dht);
    let mut rng = StdRng::seed_from_u64(17);
    for i in 0..300u16 {
        if i % 20 == 0 {
            advance(&mut sim, Duration::from_secs(3));
        }
        claim_id(&mut sim, 10_000 + i, NodeId(rng.random()));
    }
    assert!(attacker_entries(&sim) > 8, "{}", attacker_entries(&sim));
}

#[test]
fn sybils_on_one_ip_eclipse_an_info_hash_only_without_the_restriction() {
    let base = SimConfig {
        nodes: 300,
        attackers: 20,
        lookups: 5,
        get_peers: 10,
        ..SimConfig::default()
    };
    let on = ferro_dht::sim::run(&base);
    assert_eq!(on.get_peers_found, on.get_peers_tried, "{on}");
    assert!(
        on.sybil_table_entries <= on.nodes_with_sybils,
        "one sybil per table: {on}"
    );
    let mut off = base.clone();
    off.dht.routing.restrict_routing_ips = false;
    let off = ferro_dht::sim::run(&off);
    assert!(
        off.get_peers_found < off.get_peers_tried,
        "the attack works when unchecked: {off}"
    );
    assert!(off.sybil_table_entries > off.nodes_with_sybils, "{off}");
}
