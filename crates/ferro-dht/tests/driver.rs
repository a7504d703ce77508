//! The tokio driver on loopback sockets: nodes find each other, an announce is
//! found by get_peers, and the routing table survives a restart.
#![cfg(feature = "tokio")]

use std::net::SocketAddr;
use std::time::Duration;

use ferro_dht::driver::Dht;
use ferro_dht::{DhtConfig, InfoHash};

fn cfg() -> DhtConfig {
    DhtConfig {
        query_timeout: Duration::from_millis(500),
        ..DhtConfig::loopback()
    }
}

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[tokio::test]
async fn loopback_nodes_announce_and_find_each_other() {
    let t = tokio::time::timeout(Duration::from_secs(30), async {
        let seed = Dht::bind(any_port(), cfg(), None).await.unwrap();
        let mut others = Vec::new();
        for _ in 0..5 {
            let d = Dht::bind(any_port(), cfg(), None).await.unwrap();
            d.bootstrap(vec![seed.local_addr()]).await.unwrap();
            others.push(d);
        }
        assert!(!seed.routing_table_snapshot().await.unwrap().is_empty());
        let ih = InfoHash([0x5a; 20]);
        let stats = others[0].announce(ih, Some(40000)).await.unwrap();
        assert!(stats.announced >= 1, "{stats:?}");
        let peers = others[4].get_peers(ih).await.unwrap();
        assert!(
            peers.contains(&"127.0.0.1:40000".parse().unwrap()),
            "{peers:?}"
        );
        // implied_port: the DHT socket's port is announced.
        others[1].announce(ih, None).await.unwrap();
        let mut stream = others[3].get_peers_stream(ih).await.unwrap();
        let mut found = Vec::new();
        while let Some(p) = stream.recv().await {
            found.push(p);
        }
        assert!(found.contains(&others[1].local_addr()), "{found:?}");

        // Save, restart from the file: same id, the table comes back.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dht.dat");
        others[2].save(&path).await.unwrap();
        let id = others[2].id();
        let state = Dht::load(&path).unwrap();
        assert_eq!(state.id, id);
        assert!(!state.nodes.is_empty());
        let old = others.remove(2);
        old.shutdown().await.unwrap();
        let again = Dht::bind(any_port(), cfg(), Some(state)).await.unwrap();
        assert_eq!(again.id(), id);
        for _ in 0..50 {
            if !again.routing_table_snapshot().await.unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!again.routing_table_snapshot().await.unwrap().is_empty());
    });
    t.await.expect("finished in time");
}
