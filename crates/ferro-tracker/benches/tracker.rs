//! Hot paths: parsing announce replies (HTTP and UDP), building announce URLs,
//! and the server's swarm announce.
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ferro_tracker::http::{announce_url, encode_announce, parse_announce};
use ferro_tracker::server::{PeerAnnounce, SwarmConfig, Swarms};
use ferro_tracker::udp::Response;
use ferro_tracker::{AnnounceRequest, AnnounceResponse, Event, InfoHash, Peer, PeerId};

fn peers(n: u16) -> Vec<Peer> {
    (0..n)
        .map(|i| Peer::from(SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 6881))))
        .collect()
}

fn bench(c: &mut Criterion) {
    let resp = AnnounceResponse {
        interval: Duration::from_secs(1800),
        complete: Some(10),
        incomplete: Some(20),
        peers: peers(200),
        ..AnnounceResponse::default()
    };
    let body = encode_announce(&resp, true, false);
    c.bench_function("http_parse_announce_200_compact_peers", |b| {
        b.iter(|| parse_announce(black_box(&body)))
    });
    let dict_body = encode_announce(&resp, false, false);
    c.bench_function("http_parse_announce_200_dict_peers", |b| {
        b.iter(|| parse_announce(black_box(&dict_body)))
    });
    let udp = Response::Announce {
        transaction_id: 1,
        interval: 1800,
        leechers: 1,
        seeders: 2,
        peers: resp.addrs(),
    }
    .encode();
    c.bench_function("udp_decode_announce_200_peers", |b| {
        b.iter(|| Response::decode(black_box(&udp), false))
    });
    let req = AnnounceRequest::new(InfoHash([0xab; 20]), PeerId([0xcd; 20]), 6881, 1 << 30);
    c.bench_function("http_announce_url", |b| {
        b.iter(|| {
            announce_url(
                black_box("http://tracker.example/announce?passkey=abc"),
                &req,
            )
        })
    });
    let mut swarms = Swarms::new(SwarmConfig::default());
    let now = Instant::now();
    for i in 0..1000u16 {
        let a = PeerAnnounce {
            info_hash: InfoHash([1; 20]),
            peer_id: PeerId([0; 20]),
            addr: SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 6881)),
            left: 1,
            event: Event::Started,
            numwant: Some(0),
        };
        let _ = swarms.announce(&a, now);
    }
    let a = PeerAnnounce {
        info_hash: InfoHash([1; 20]),
        peer_id: PeerId([9; 20]),
        addr: SocketAddr::from(([10, 9, 9, 9], 6881)),
        left: 1,
        event: Event::None,
        numwant: Some(50),
    };
    c.bench_function("server_announce_1000_peer_swarm_numwant_50", |b| {
        b.iter(|| swarms.announce(black_box(&a), now))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
