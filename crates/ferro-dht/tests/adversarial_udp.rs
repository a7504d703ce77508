//! The attacks of `adversarial.rs` once more over real UDP sockets on
//! 127.0.0.1, against the tokio driver with its default (restricted,
//! rate-limited) settings: malformed datagrams, a bogus token, a query flood,
//! and an honest node that still announces and finds peers afterwards.
#![cfg(feature = "tokio")]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferro_dht::driver::Dht;
use ferro_dht::krpc::{self, Body, Message, Query, code};
use ferro_dht::{DhtConfig, InfoHash, NodeId};
use tokio::net::UdpSocket;

fn victim_config() -> DhtConfig {
    DhtConfig {
        // Never a public router; everything else as deployed.
        bootstrap_nodes: Vec::new(),
        query_timeout: Duration::from_millis(500),
        ..DhtConfig::default()
    }
}

fn query(q: Query, tid: &[u8]) -> Vec<u8> {
    krpc::encode(&Message {
        transaction_id: tid.to_vec(),
        version: None,
        read_only: false,
        body: Body::Query(q),
    })
}

/// The next datagram that is not a query (the victim may ping us first),
/// within `wait`.
async fn reply(sock: &UdpSocket, wait: Duration) -> Option<Body> {
    let mut buf = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let (n, _) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        let body = krpc::decode(&buf[..n]).expect("valid KRPC").body;
        if !matches!(body, Body::Query(_)) {
            return Some(body);
        }
    }
}

#[tokio::test]
async fn udp_attacks_are_refused_and_an_honest_node_still_announces() {
    let t = tokio::time::timeout(Duration::from_secs(60), async {
        let victim = Dht::bind("127.0.0.1:0".parse().unwrap(), victim_config(), None)
            .await
            .unwrap();
        let to = victim.local_addr();
        let attacker = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let wait = Duration::from_secs(2);

        // Malformed: garbage is dropped; a query with a short id gets 203.
        attacker.send_to(b"\xff\xfenot bencode", to).await.unwrap();
        attacker
            .send_to(b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe", to)
            .await
            .unwrap();
        match reply(&attacker, wait).await {
            Some(Body::Error(e)) => assert_eq!(e.code, code::PROTOCOL),
            other => panic!("expected error 203, got {other:?}"),
        }

        // A bogus token: 203, nothing stored.
        let ih = NodeId([0x42; 20]);
        let bogus = Query::AnnouncePeer {
            id: NodeId([1; 20]),
            info_hash: ih,
            port: 4000,
            token: b"forged!!".to_vec(),
            implied_port: false,
        };
        attacker.send_to(&query(bogus, b"bt"), to).await.unwrap();
        match reply(&attacker, wait).await {
            Some(Body::Error(e)) => assert_eq!(e.code, code::PROTOCOL),
            other => panic!("expected error 203, got {other:?}"),
        }
        let (stats, torrents) = victim.stats().await.unwrap();
        assert_eq!(stats.bad_tokens, 1);
        assert!(stats.malformed >= 2, "{stats:?}");
        assert_eq!(torrents, 0);

        // A flood of 2,000 pings as fast as the socket takes them.
        let limit = victim_config().rate_limit.unwrap();
        let started = Instant::now();
        for i in 0..2000u32 {
            let q = query(
                Query::Ping {
                    id: NodeId([2; 20]),
                },
                &i.to_be_bytes(),
            );
            attacker.send_to(&q, to).await.unwrap();
        }
        let mut answered = 0usize;
        while reply(&attacker, Duration::from_millis(500)).await.is_some() {
            answered += 1;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let cap = limit.burst as usize + (limit.per_second * elapsed).ceil() as usize + 1;
        assert!(
            answered <= cap,
            "{answered} answers in {elapsed:.2} s > {cap}"
        );
        assert!(answered >= 1);
        let (stats, _) = victim.stats().await.unwrap();
        assert!(
            stats.queries_rate_limited as usize >= 2000usize.saturating_sub(cap) / 2,
            "{stats:?}"
        );

        // The bucket refills; an honest node (same IP, as on any test host)
        // bootstraps from the victim, announces and finds itself.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let honest = Dht::bind("127.0.0.1:0".parse().unwrap(), victim_config(), None)
            .await
            .unwrap();
        honest.bootstrap(vec![to]).await.unwrap();
        let info_hash = InfoHash([0x24; 20]);
        let announced = honest.announce(info_hash, Some(45000)).await.unwrap();
        assert_eq!(announced.announced, 1, "{announced:?}");
        let peers = honest.get_peers(info_hash).await.unwrap();
        let want: SocketAddr = "127.0.0.1:45000".parse().unwrap();
        assert!(peers.contains(&want), "{peers:?}");
        let (stats, torrents) = victim.stats().await.unwrap();
        assert_eq!(stats.announces_stored, 1);
        assert_eq!(torrents, 1);
        honest.shutdown().await.unwrap();
        victim.shutdown().await.unwrap();
    });
    t.await.expect("finished in time");
}
