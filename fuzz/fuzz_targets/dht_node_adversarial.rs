//! A DHT node core under a scripted mix of hostile input (issue #11): raw
//! datagrams from a few hosts, answers to its own queries with chosen ids and
//! node lists, announces with valid tokens for chosen info-hashes, timeouts
//! and lookups of our own. It never panics, only sends valid KRPC, and its
//! bounds hold after every step: one routing-table entry per IP, the peer
//! store's torrent and per-IP caps, replies within the size cap.
#![no_main]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferro_dht::krpc::{self, Body, Message, Query, Response};
use ferro_dht::{DhtConfig, InfoHash, Node, NodeId, PeerStoreConfig, decode_nodes_v4};
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;

fn encode(tid: Vec<u8>, body: Body) -> Vec<u8> {
    krpc::encode(&Message {
        transaction_id: tid,
        version: None,
        read_only: false,
        body,
    })
}

fn id_from(bytes: &[u8]) -> NodeId {
    let mut id = [0u8; 20];
    for (d, s) in id.iter_mut().zip(bytes) {
        *d = *s;
    }
    NodeId(id)
}

fuzz_target!(|data: &[u8]| {
    let mut now = Instant::now();
    let cfg = DhtConfig {
        bootstrap_nodes: Vec::new(),
        peer_store: PeerStoreConfig {
            max_info_hashes: 8,
            max_peers_per_hash: 4,
            max_per_ip: 3,
            ..PeerStoreConfig::default()
        },
        ..DhtConfig::default()
    };
    let mut node = Node::new(
        cfg.clone(),
        NodeId([7; 20]),
        rand::rngs::StdRng::seed_from_u64(1),
        now,
    );
    // The node's recent queries, to answer them.
    let mut asked: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
    let mut rest = data;
    for _ in 0..64 {
        let [kind, src, dt, len, tail @ ..] = rest else {
            break;
        };
        let (kind, src, dt) = (*kind, *src, *dt);
        let n = usize::from(*len).min(tail.len());
        let (payload, tail) = tail.split_at(n);
        rest = tail;
        now += Duration::from_millis(u64::from(dt) * 40);
        // Eight hosts in two /24s, two ports each.
        let from = SocketAddr::from((
            [10, 0, src & 1, 1 + ((src >> 1) & 3)],
            6881 + u16::from((src >> 3) & 1),
        ));
        match kind % 5 {
            0 => node.handle_datagram(now, from, payload),
            1 => {
                // Answer the node's latest query with a chosen id and nodes.
                if let Some((to, q)) = asked.pop()
                    && let Ok(m) = krpc::decode(&q)
                {
                    let mut r = Response::id_only(id_from(payload));
                    let list = payload.get(20..).unwrap_or_default();
                    let whole = list.len() / 26 * 26;
                    r.nodes =
                        decode_nodes_v4(list.get(..whole).unwrap_or_default()).unwrap_or_default();
                    r.token = Some(payload.iter().take(8).copied().collect());
                    node.handle_datagram(now, to, &encode(m.transaction_id, Body::Response(r)));
                }
            }
            2 => node.handle_timeout(now),
            3 => {
                let target = id_from(payload);
                match src % 3 {
                    0 => {
                        node.find_node(target, now);
                    }
                    1 => {
                        node.get_peers(InfoHash(target.0), now);
                    }
                    _ => {
                        node.announce(InfoHash(target.0), Some(6881), now);
                    }
                }
            }
            _ => {
                // get_peers for a token, then announce_peer with it.
                let ih = id_from(payload);
                let q = Query::GetPeers {
                    id: id_from(&[src; 20]),
                    info_hash: ih,
                    want: None,
                };
                node.handle_datagram(now, from, &encode(b"gp".to_vec(), Body::Query(q)));
                let mut token = None;
                while let Some(t) = node.poll_transmit() {
                    if let Ok(Message {
                        body: Body::Response(r),
                        ..
                    }) = krpc::decode(&t.payload)
                    {
                        token = r.token.or(token);
                    }
                }
                if let Some(token) = token {
                    let port = u16::from_be_bytes([payload.get(20).copied().unwrap_or(1), 1]);
                    let q = Query::AnnouncePeer {
                        id: id_from(&[src; 20]),
                        info_hash: ih,
                        port,
                        token,
                        implied_port: payload.get(21).is_some_and(|b| b & 1 == 1),
                    };
                    node.handle_datagram(now, from, &encode(b"ap".to_vec(), Body::Query(q)));
                }
            }
        }
        while let Some(t) = node.poll_transmit() {
            let m = krpc::decode(&t.payload).expect("the node sends valid KRPC");
            if matches!(m.body, Body::Query(_)) {
                asked.push((t.to, t.payload));
                if asked.len() > 32 {
                    asked.remove(0);
                }
            } else {
                assert!(
                    t.payload.len() <= cfg.max_reply_size,
                    "reply over the size cap"
                );
            }
        }
        while node.poll_event().is_some() {}
        let mut per_ip: HashMap<_, usize> = HashMap::new();
        for e in node.routing_table().entries() {
            *per_ip.entry(e.info.addr.ip()).or_default() += 1;
        }
        assert!(
            per_ip.values().all(|&c| c <= 1),
            "one routing-table entry per IP"
        );
        let store = node.peer_store();
        assert!(store.len() <= cfg.peer_store.max_info_hashes);
        assert!(store.announces_from(from.ip()) <= cfg.peer_store.max_per_ip);
        assert!(
            store.peer_count()
                <= cfg.peer_store.max_info_hashes * cfg.peer_store.max_peers_per_hash
        );
    }
});
