//! The Mainline DHT in the client, on loopback: a bootstrap node (ferro-dht's
//! driver), a Ferro seeder with the DHT on, and a Ferro leecher given only a
//! bare magnet link (no tracker, no `x.pe`) that finds the seeder through
//! the DHT. Private torrents (BEP 27) stay out of the DHT.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use ferro_client::{AddMagnet, AddTorrent, Config, DhtOptions, Session};
use ferro_dht::DhtConfig;
use ferro_dht::driver::Dht;
use ferro_magnet::MagnetLink;
use ferro_metainfo::TorrentBuilder;

const TIMEOUT: Duration = common::DOWNLOAD_TIMEOUT;

async fn bootstrap_node() -> Dht {
    Dht::bind("127.0.0.1:0".parse().unwrap(), DhtConfig::loopback(), None)
        .await
        .unwrap()
}

fn dht_config(boot: SocketAddr) -> Config {
    Config {
        dht: Some(DhtOptions {
            lookup_interval: Duration::from_millis(500),
            ..DhtOptions::loopback([boot])
        }),
        ..common::config()
    }
}

/// Asks the DHT (through a fresh node bootstrapped from `boot`: a node's
/// own lookups ask others, not its own peer store) for peers of `ih` until
/// some are found (bounded by `TIMEOUT`).
async fn wait_for_peers(boot: &Dht, ih: ferro_core::InfoHash) -> Vec<SocketAddr> {
    let node = bootstrap_node().await;
    node.bootstrap(vec![boot.local_addr()]).await.unwrap();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    // Bounded by the deadline.
    loop {
        let peers = node.get_peers(ih).await.unwrap();
        if !peers.is_empty() || tokio::time::Instant::now() > deadline {
            return peers;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_magnet_finds_the_seeder_through_the_dht() {
    let tmp = tempfile::tempdir().unwrap();
    let boot = bootstrap_node().await;
    let seed_dir = common::make_payload(tmp.path(), 1024 * 1024);
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &[]);
    let seeder = Session::new(dht_config(boot.local_addr())).await.unwrap();
    assert!(seeder.dht_addr().is_some());
    seeder
        .add_torrent(AddTorrent::new(torrent.clone(), &seed_dir))
        .await
        .unwrap();
    // The seeder's announce reached the DHT with its TCP listen port.
    let found = wait_for_peers(&boot, torrent.info_hash()).await;
    assert!(
        found.contains(&seeder.listen_addr()),
        "{found:?} lacks {}",
        seeder.listen_addr()
    );

    let dir = tmp.path().join("leech");
    let magnet: MagnetLink = format!("magnet:?xt=urn:btih:{}", torrent.info_hash().to_hex())
        .parse()
        .unwrap();
    assert!(magnet.peers.is_empty() && magnet.trackers.is_empty());
    let leecher = Session::new(dht_config(boot.local_addr())).await.unwrap();
    let h = common::add_magnet(&leecher, AddMagnet::new(magnet, &dir)).await;
    assert_eq!(h.info().raw(), torrent.info.raw());
    common::complete_and_shutdown(&h, &dir, &seed_dir, &[&leecher, &seeder]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_torrent_is_not_announced() {
    let tmp = tempfile::tempdir().unwrap();
    let boot = bootstrap_node().await;
    let public_dir = tmp.path().join("public");
    let private_dir = tmp.path().join("private");
    let public = common::make_torrent(
        &common::make_payload(&public_dir, 64 * 1024),
        16 * 1024,
        &[],
    );
    let private =
        TorrentBuilder::new(common::make_payload(&private_dir, 64 * 1024).join("payload"))
            .piece_length(16 * 1024)
            .private(true)
            .build()
            .unwrap()
            .metainfo;
    assert!(private.info.is_private());
    let seeder = Session::new(dht_config(boot.local_addr())).await.unwrap();
    seeder
        .add_torrent(AddTorrent::new(private.clone(), &private_dir))
        .await
        .unwrap();
    seeder
        .add_torrent(AddTorrent::new(public.clone(), &public_dir))
        .await
        .unwrap();
    // The public torrent, added second, shows the seeder's announces work...
    let found = wait_for_peers(&boot, public.info_hash()).await;
    assert!(found.contains(&seeder.listen_addr()), "{found:?}");
    // ...and by then several lookup rounds have passed without the private one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let observer = bootstrap_node().await;
    observer.bootstrap(vec![boot.local_addr()]).await.unwrap();
    let found = observer.get_peers(private.info_hash()).await.unwrap();
    assert!(found.is_empty(), "private torrent announced: {found:?}");
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_table_is_saved_on_shutdown_and_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let boot = bootstrap_node().await;
    let state = tmp.path().join("dht.state");
    let mut config = dht_config(boot.local_addr());
    if let Some(d) = config.dht.as_mut() {
        d.state_file = Some(state.clone());
    }
    let s = Session::new(config.clone()).await.unwrap();
    // Bounded: the bootstrap node learns of us once the bootstrap ran.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while boot.routing_table_snapshot().await.unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "bootstrap never reached the node"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.shutdown().await;
    let saved = Dht::load(&state).unwrap();
    assert!(
        saved.nodes.iter().any(|n| n.addr == boot.local_addr()),
        "{saved:?}"
    );
    // A second start reads the file and keeps its node id.
    if let Some(d) = config.dht.as_mut() {
        d.bootstrap_nodes.clear();
    }
    let s = Session::new(config).await.unwrap();
    s.shutdown().await;
    assert_eq!(Dht::load(&state).unwrap().id, saved.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_sets_the_dht_bit_and_sends_our_dht_port() {
    use bytes::BytesMut;
    use ferro_wire::{Handshake, HandshakeDecoder, Message, MessageDecoder, Reserved};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let tmp = tempfile::tempdir().unwrap();
    let boot = bootstrap_node().await;
    let seed_dir = common::make_payload(tmp.path(), 64 * 1024);
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &[]);
    let seeder = Session::new(dht_config(boot.local_addr())).await.unwrap();
    seeder
        .add_torrent(AddTorrent::new(torrent.clone(), &seed_dir))
        .await
        .unwrap();
    let mut s = tokio::net::TcpStream::connect(seeder.listen_addr())
        .await
        .unwrap();
    let mut ours = Handshake::new(torrent.info_hash(), ferro_wire::generate_peer_id());
    ours.reserved = Reserved::ferro_default().with_dht(true);
    s.write_all(&ours.to_bytes()).await.unwrap();
    let mut buf = BytesMut::new();
    let mut hs = HandshakeDecoder::new();
    let mut dec = MessageDecoder::default();
    let port = tokio::time::timeout(TIMEOUT, async {
        let mut theirs = None;
        // Bounded by the timeout; each pass reads bytes.
        loop {
            if theirs.is_none() {
                theirs = hs.decode(&mut buf).unwrap();
            }
            if let Some(h) = &theirs {
                while let Some(m) = dec.decode(&mut buf).unwrap() {
                    if let Message::Port(p) = m {
                        return (*h, p);
                    }
                }
            }
            assert!(s.read_buf(&mut buf).await.unwrap() > 0, "seeder closed");
        }
    })
    .await
    .unwrap();
    assert!(port.0.reserved.dht(), "DHT bit not set");
    assert_eq!(Some(port.1), seeder.dht_addr().map(|a| a.port()));
    seeder.shutdown().await;
}
