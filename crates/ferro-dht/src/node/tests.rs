use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::krpc::{KrpcError, code};

fn node(b: u8, cfg: DhtConfig, now: Instant) -> Node {
    Node::new(cfg, NodeId([b; 20]), StdRng::seed_from_u64(b.into()), now)
}

fn addr(b: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, b], 6881))
}

/// Delivers everything `from` has queued to `to`, returning what was sent.
fn deliver(
    from: &mut Node,
    from_addr: SocketAddr,
    to: &mut Node,
    to_addr: SocketAddr,
    now: Instant,
) -> usize {
    let mut n = 0;
    while let Some(t) = from.poll_transmit() {
        if t.to == to_addr {
            to.handle_datagram(now, from_addr, &t.payload);
            n += 1;
        }
    }
    n
}

fn query(q: Query, tid: &[u8]) -> Vec<u8> {
    krpc::encode(&Message {
        transaction_id: tid.to_vec(),
        version: None,
        read_only: false,
        body: Body::Query(q),
    })
}

/// The first non-query datagram queued (a node may ping a stranger first).
fn reply(n: &mut Node) -> Body {
    std::iter::from_fn(|| n.poll_transmit())
        .map(|t| krpc::decode(&t.payload).unwrap().body)
        .find(|b| !matches!(b, Body::Query(_)))
        .expect("a reply")
}

#[test]
fn ping_pong_fills_both_tables() {
    let now = Instant::now();
    let (mut a, mut b) = (
        node(1, DhtConfig::default(), now),
        node(2, DhtConfig::default(), now),
    );
    a.add_node(addr(2), now);
    assert_eq!(deliver(&mut a, addr(1), &mut b, addr(2), now), 1);
    // b answers and, not knowing a, pings it back.
    assert_eq!(deliver(&mut b, addr(2), &mut a, addr(1), now), 2);
    assert_eq!(deliver(&mut a, addr(1), &mut b, addr(2), now), 1);
    assert_eq!(a.routing_table().len(), 1);
    assert_eq!(b.routing_table().len(), 1);
    assert_eq!(
        a.save_state().nodes,
        vec![NodeInfo {
            id: NodeId([2; 20]),
            addr: addr(2)
        }]
    );
}

#[test]
fn get_peers_then_announce_with_token() {
    let now = Instant::now();
    let mut b = node(2, DhtConfig::default(), now);
    let ih = NodeId([9; 20]);
    b.handle_datagram(
        now,
        addr(1),
        &query(
            Query::GetPeers {
                id: NodeId([1; 20]),
                info_hash: ih,
                want: None,
            },
            b"g1",
        ),
    );
    let Body::Response(r) = reply(&mut b) else {
        panic!()
    };
    let token = r.token.expect("a token");
    assert!(r.values.is_empty());
    // Wrong token: error 203.
    let bad = Query::AnnouncePeer {
        id: NodeId([1; 20]),
        info_hash: ih,
        port: 7000,
        token: b"nope".to_vec(),
        implied_port: false,
    };
    b.handle_datagram(now, addr(1), &query(bad, b"a0"));
    while let Some(t) = b.poll_transmit() {
        if let Body::Error(KrpcError { code: c, .. }) = krpc::decode(&t.payload).unwrap().body {
            assert_eq!(c, code::PROTOCOL);
        }
    }
    // Same token from another IP: refused too.
    let q = Query::AnnouncePeer {
        id: NodeId([3; 20]),
        info_hash: ih,
        port: 7000,
        token: token.clone(),
        implied_port: false,
    };
    b.handle_datagram(now, addr(3), &query(q, b"a1"));
    assert!(matches!(reply(&mut b), Body::Error(_)));
    // implied_port: the source port is stored.
    let q = Query::AnnouncePeer {
        id: NodeId([1; 20]),
        info_hash: ih,
        port: 7000,
        token,
        implied_port: true,
    };
    b.handle_datagram(now, addr(1), &query(q, b"a2"));
    let _ = b.poll_transmit();
    b.handle_datagram(
        now,
        addr(4),
        &query(
            Query::GetPeers {
                id: NodeId([4; 20]),
                info_hash: ih,
                want: None,
            },
            b"g2",
        ),
    );
    let mut values = Vec::new();
    while let Some(t) = b.poll_transmit() {
        if let Body::Response(r) = krpc::decode(&t.payload).unwrap().body {
            values.extend(r.values);
        }
    }
    assert_eq!(values, vec![addr(1)]);
}

#[test]
fn unknown_methods_and_garbage() {
    let now = Instant::now();
    let mut b = node(2, DhtConfig::default(), now);
    b.handle_datagram(
        now,
        addr(1),
        b"d1:ad2:id20:abcdefghij0123456789e1:q6:vote_x1:t2:xx1:y1:qe",
    );
    let Body::Error(e) = reply(&mut b) else {
        panic!()
    };
    assert_eq!(e.code, code::METHOD_UNKNOWN);
    b.handle_datagram(now, addr(1), b"\xff\x00garbage");
    assert!(b.poll_transmit().is_none());
    // A response nobody asked for is ignored.
    let stray = krpc::encode(&Message {
        transaction_id: b"zzzz".to_vec(),
        version: None,
        read_only: false,
        body: Body::Response(Response::id_only(NodeId([5; 20]))),
    });
    b.handle_datagram(now, addr(5), &stray);
    assert!(b.routing_table().is_empty());
}

#[test]
fn rate_limit_drops_floods_and_read_only_is_silent() {
    let now = Instant::now();
    let cfg = DhtConfig {
        rate_limit: Some(crate::RateLimitConfig {
            burst: 5,
            per_second: 1.0,
            max_tracked: 8,
        }),
        ..DhtConfig::default()
    };
    let mut b = node(2, cfg, now);
    for i in 0..20u8 {
        b.handle_datagram(
            now,
            addr(1),
            &query(
                Query::Ping {
                    id: NodeId([1; 20]),
                },
                &[i],
            ),
        );
    }
    let replies = std::iter::from_fn(|| b.poll_transmit())
        .filter(|t| t.to == addr(1))
        .count();
    assert!(replies <= 6, "{replies}");
    let mut ro = node(
        3,
        DhtConfig {
            read_only: true,
            ..DhtConfig::default()
        },
        now,
    );
    ro.handle_datagram(
        now,
        addr(1),
        &query(
            Query::Ping {
                id: NodeId([1; 20]),
            },
            b"p",
        ),
    );
    assert!(ro.poll_transmit().is_none());
    // Its own queries carry ro=1, and the other side does not ping it back.
    ro.add_node(addr(2), now);
    let t = ro.poll_transmit().unwrap();
    assert!(krpc::decode(&t.payload).unwrap().read_only);
    let mut c = node(4, DhtConfig::default(), now);
    c.handle_datagram(now, addr(3), &t.payload);
    assert_eq!(
        std::iter::from_fn(|| c.poll_transmit()).count(),
        1,
        "only the reply"
    );
}

#[test]
fn timeouts_fail_queries_and_finish_lookups() {
    let now = Instant::now();
    let mut a = node(1, DhtConfig::default(), now);
    let lid = a.bootstrap(&[addr(2), addr(3)], now);
    assert_eq!(std::iter::from_fn(|| a.poll_transmit()).count(), 2);
    assert!(a.poll_event().is_none());
    // The stall deadline comes first: the lookup keeps waiting (nothing else
    // to ask), then the full timeout fails both queries.
    let stall = a.poll_timeout().unwrap();
    assert!(stall < now + Duration::from_secs(1));
    a.handle_timeout(stall);
    assert!(a.poll_event().is_none());
    let deadline = a.poll_timeout().unwrap();
    assert_eq!(deadline, now + Duration::from_secs(2));
    a.handle_timeout(deadline);
    let Some(Event::LookupDone {
        lookup,
        stats,
        closest,
        ..
    }) = a.poll_event()
    else {
        panic!()
    };
    assert_eq!(lookup, lid);
    assert_eq!(stats.failures, 2);
    assert!(closest.is_empty());
    // A lookup with nothing to ask finishes at once.
    let lid = a.get_peers(InfoHash([1; 20]), now);
    assert!(matches!(a.poll_event(), Some(Event::LookupDone { lookup, .. }) if lookup == lid));
}

#[test]
fn replies_respect_amplification() {
    let now = Instant::now();
    let cfg = DhtConfig {
        max_amplification: 2,
        ..DhtConfig::loopback()
    };
    let mut b = node(2, cfg, now);
    // Fill b's table via answered pings.
    for i in 10..60u8 {
        let mut other = node(i, DhtConfig::loopback(), now);
        b.add_node(addr(i), now);
        deliver(&mut b, addr(2), &mut other, addr(i), now);
        deliver(&mut other, addr(i), &mut b, addr(2), now);
    }
    assert!(b.routing_table().len() >= 8);
    let q = query(
        Query::FindNode {
            id: NodeId([1; 20]),
            target: NodeId([0; 20]),
            want: None,
        },
        b"f",
    );
    while b.poll_transmit().is_some() {}
    b.handle_datagram(now, addr(1), &q);
    let t = std::iter::from_fn(|| b.poll_transmit())
        .find(|t| !matches!(krpc::decode(&t.payload).unwrap().body, Body::Query(_)))
        .unwrap();
    assert!(
        t.payload.len() <= 2 * q.len(),
        "{} > 2 × {}",
        t.payload.len(),
        q.len()
    );
    let Body::Response(r) = krpc::decode(&t.payload).unwrap().body else {
        panic!()
    };
    assert!(
        !r.nodes.is_empty() && r.nodes.len() < 8,
        "{r:?} {}",
        q.len()
    );
}

#[test]
fn idle_buckets_are_refreshed_and_saved_state_round_trips() {
    let now = Instant::now();
    let (mut a, mut b) = (
        node(1, DhtConfig::default(), now),
        node(2, DhtConfig::default(), now),
    );
    a.add_node(addr(2), now);
    deliver(&mut a, addr(1), &mut b, addr(2), now);
    deliver(&mut b, addr(2), &mut a, addr(1), now);
    while a.poll_transmit().is_some() {}
    // Nothing to do for a while; after 15 idle minutes the bucket is refreshed
    // with a find_node to the node we know.
    let later = now + crate::GOOD_PERIOD + Duration::from_secs(61);
    let mut t = now;
    while t < later {
        t = a
            .poll_timeout()
            .unwrap()
            .max(t + Duration::from_secs(1))
            .min(later);
        a.handle_timeout(t);
    }
    let sent: Vec<Body> = std::iter::from_fn(|| a.poll_transmit())
        .map(|t| krpc::decode(&t.payload).unwrap().body)
        .collect();
    assert!(
        sent.iter()
            .any(|b| matches!(b, Body::Query(Query::FindNode { .. }))),
        "{sent:?}"
    );
    let saved = a.save_state();
    assert_eq!(crate::SavedState::decode(&saved.encode()).unwrap(), saved);
    assert_eq!(saved.id, NodeId([1; 20]));
}

#[test]
fn want_selects_node_families() {
    let now = Instant::now();
    let mut b = node(2, DhtConfig::loopback(), now);
    // Teach b one IPv4 and one IPv6 node.
    for (i, a) in [(10u8, addr(10)), (11, "[::1]:7000".parse().unwrap())] {
        let mut other = node(i, DhtConfig::loopback(), now);
        b.add_node(a, now);
        let ping = b.poll_transmit().unwrap();
        other.handle_datagram(now, addr(2), &ping.payload);
        let pong = std::iter::from_fn(|| other.poll_transmit())
            .find(|t| !matches!(krpc::decode(&t.payload).unwrap().body, Body::Query(_)))
            .unwrap();
        b.handle_datagram(now, a, &pong.payload);
    }
    assert_eq!(b.routing_table().len(), 2);
    let ask = |b: &mut Node, want| {
        let q = query(
            Query::FindNode {
                id: NodeId([1; 20]),
                target: NodeId([0; 20]),
                want,
            },
            b"w",
        );
        b.handle_datagram(now, addr(1), &q);
        let Body::Response(r) = reply(b) else {
            panic!()
        };
        (r.nodes.len(), r.nodes6.len())
    };
    assert_eq!(ask(&mut b, None), (1, 0), "default: the querier's family");
    assert_eq!(
        ask(
            &mut b,
            Some(krpc::Want {
                v4: false,
                v6: true
            })
        ),
        (0, 1)
    );
    assert_eq!(ask(&mut b, Some(krpc::Want { v4: true, v6: true })), (1, 1));
}

proptest::proptest! {
    /// Any mix of queries, answers and garbage from many hosts: no panic,
    /// replies within the size cap, bounded state.
    #[test]
    fn random_traffic_keeps_bounds(ops in proptest::collection::vec(
        (0u8..6, 1u8..40, proptest::array::uniform20(0u8..4), proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), 0u64..5000),
        1..150,
    )) {
        let start = Instant::now();
        let cfg = DhtConfig { max_pending: 32, ..DhtConfig::default() };
        let mut n = node(200, cfg.clone(), start);
        let mut last_tid: Vec<u8> = Vec::new();
        for (kind, host, id, junk, ms) in ops {
            let now = start + Duration::from_millis(ms * 10);
            let from = addr(host);
            let id = NodeId(id);
            let bytes = match kind {
                0 => query(Query::Ping { id }, &junk[..junk.len().min(8)]),
                1 => query(Query::FindNode { id, target: NodeId([junk.first().copied().unwrap_or(0); 20]), want: None }, b"f"),
                2 => query(Query::GetPeers { id, info_hash: NodeId([1; 20]), want: None }, b"g"),
                3 => query(Query::AnnouncePeer { id, info_hash: NodeId([1; 20]), port: 1000, token: junk.clone(), implied_port: false }, b"a"),
                4 => krpc::encode(&Message { transaction_id: last_tid.clone(), version: None, read_only: false, body: Body::Response(Response::id_only(id)) }),
                _ => junk.clone(),
            };
            if kind == 5 && junk.first() == Some(&0) {
                n.get_peers(InfoHash([2; 20]), now);
            }
            n.handle_datagram(now, from, &bytes);
            n.handle_timeout(now);
            while let Some(t) = n.poll_transmit() {
                let m = krpc::decode(&t.payload).expect("we send valid KRPC");
                match m.body {
                    Body::Query(_) => last_tid = m.transaction_id,
                    _ => proptest::prop_assert!(t.payload.len() <= cfg.max_reply_size),
                }
            }
            while n.poll_event().is_some() {}
            proptest::prop_assert!(n.pending.len() <= cfg.max_pending);
            proptest::prop_assert!(n.routing_table().len() <= 160 * cfg.routing.k);
            proptest::prop_assert!(n.active_lookups() <= cfg.max_lookups);
        }
    }
}
