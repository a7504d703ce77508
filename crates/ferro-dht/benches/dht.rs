//! Benches for the DHT's hot paths: KRPC decode/encode, routing-table lookups,
//! and the per-IP defences every datagram or announce goes through.
use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use ferro_dht::krpc;
use ferro_dht::{NodeId, NodeInfo, RoutingConfig, RoutingTable};
use rand::{Rng, SeedableRng, rngs::StdRng};

fn krpc_codec(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let nodes: Vec<NodeInfo> = (0..8u8)
        .map(|i| NodeInfo {
            id: NodeId(rng.random()),
            addr: std::net::SocketAddr::from(([10, 0, 0, i], 6881)),
        })
        .collect();
    let msg = krpc::Message {
        transaction_id: b"abcd".to_vec(),
        version: Some(b"FE\x00\x01".to_vec()),
        read_only: false,
        body: krpc::Body::Response(krpc::Response {
            id: NodeId(rng.random()),
            nodes,
            nodes6: Vec::new(),
            values: (0..20u16)
                .map(|p| std::net::SocketAddr::from(([10, 1, 0, 1], p + 1)))
                .collect(),
            token: Some(vec![7; 8]),
        }),
    };
    let bytes = krpc::encode(&msg);
    c.bench_function("krpc_decode_get_peers_response", |b| {
        b.iter(|| krpc::decode(black_box(&bytes)))
    });
    c.bench_function("krpc_encode_get_peers_response", |b| {
        b.iter(|| krpc::encode(black_box(&msg)))
    });
}

fn routing(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(2);
    let now = Instant::now();
    let own = NodeId(rng.random());
    let mut table = RoutingTable::new(own, RoutingConfig::default(), now);
    for i in 0..5000u32 {
        let info = NodeInfo {
            id: NodeId(rng.random()),
            // One host per /24, as the IP restriction expects of honest nodes.
            addr: std::net::SocketAddr::from((((i << 8) | 1).to_be_bytes(), 6881)),
        };
        table.insert(info, now);
    }
    let target = NodeId(rng.random());
    c.bench_function("routing_closest_8", |b| {
        b.iter(|| table.closest(black_box(&target), 8))
    });
    let known = table.entries().next().map(|e| e.info);
    c.bench_function("routing_insert_existing", |b| {
        b.iter(|| known.map(|e| table.insert(black_box(e), now)))
    });
    c.bench_function("routing_insert_new_rejected_or_cached", |b| {
        let mut i = 0u32;
        b.iter(|| {
            i = i.wrapping_add(1);
            let info = NodeInfo {
                id: NodeId(rng.random()),
                addr: std::net::SocketAddr::from(((0x0b00_0000 | i).to_be_bytes(), 6881)),
            };
            table.insert(info, now)
        })
    });
}

fn node_serving(c: &mut Criterion) {
    use ferro_dht::{DhtConfig, Node};
    let mut rng = StdRng::seed_from_u64(3);
    let now = Instant::now();
    let cfg = DhtConfig {
        rate_limit: None,
        ..DhtConfig::default()
    };
    let mut node = Node::new(cfg, NodeId(rng.random()), StdRng::seed_from_u64(4), now);
    // Fill the table through answered pings.
    for i in 0..300u32 {
        let addr = std::net::SocketAddr::from(((0x0a00_0001 | (i << 8)).to_be_bytes(), 6881));
        node.add_node(addr, now);
        let Some(ping) = node.poll_transmit() else {
            continue;
        };
        let tid = krpc::decode(&ping.payload)
            .map(|m| m.transaction_id)
            .unwrap_or_default();
        let pong = krpc::Message {
            transaction_id: tid,
            version: None,
            read_only: false,
            body: krpc::Body::Response(krpc::Response::id_only(NodeId(rng.random()))),
        };
        node.handle_datagram(now, addr, &krpc::encode(&pong));
    }
    let query = krpc::encode(&krpc::Message {
        transaction_id: b"aa".to_vec(),
        version: None,
        read_only: false,
        body: krpc::Body::Query(krpc::Query::GetPeers {
            id: NodeId(rng.random()),
            info_hash: NodeId(rng.random()),
            want: None,
        }),
    });
    let from = std::net::SocketAddr::from(([10, 9, 9, 9], 6881));
    c.bench_function("node_serve_get_peers", |b| {
        b.iter(|| {
            node.handle_datagram(now, from, black_box(&query));
            while node.poll_transmit().is_some() {}
        })
    });
}

fn defences(c: &mut Criterion) {
    use ferro_dht::{InfoHash, PeerStore, PeerStoreConfig, RateLimitConfig, RateLimiter};
    let now = Instant::now();
    // A spoofed flood: every query from a new source, the table always full.
    let mut limiter = RateLimiter::new(RateLimitConfig::default());
    let mut i = 0u32;
    c.bench_function("rate_limit_allow_spoofed_sources", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            limiter.allow(black_box(std::net::IpAddr::from(i.to_be_bytes())), now)
        })
    });
    let mut limiter = RateLimiter::new(RateLimitConfig::default());
    let one = std::net::IpAddr::from([10, 0, 0, 1]);
    c.bench_function("rate_limit_allow_one_flooder", |b| {
        b.iter(|| limiter.allow(black_box(one), now))
    });
    // Announces for random info-hashes from 100 hosts into a full store.
    let mut rng = StdRng::seed_from_u64(5);
    let mut store = PeerStore::new(PeerStoreConfig::default());
    let mut n = 0u32;
    c.bench_function("peer_store_announce_flood_full_store", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            let peer = std::net::SocketAddr::from(([10, 0, (n % 100) as u8, 1], 6881));
            store.announce(InfoHash(rng.random()), black_box(peer), now)
        })
    });
}

criterion_group!(benches, krpc_codec, routing, node_serving, defences);
criterion_main!(benches);
