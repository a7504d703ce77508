//! The DHT against libtorrent (python3-libtorrent), on 127.0.0.1 only: a
//! Ferro bootstrap node (ferro-dht's driver) is the only DHT node anyone is
//! told about; Ferro finds a libtorrent seeder by DHT alone and downloads,
//! and libtorrent finds a Ferro seeder by DHT alone and downloads. No
//! tracker, no `x.pe`. Run by `cargo xtask interop`.

mod common;

use common::lt::{free_port, spawn};

use std::time::Duration;

use ferro_client::{AddMagnet, AddTorrent, Config, DhtOptions, Session};
use ferro_dht::DhtConfig;
use ferro_dht::driver::Dht;

const LT_DHT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../xtask/interop/client_lt_dht.py"
);

fn dht_config(boot: std::net::SocketAddr) -> Config {
    Config {
        dht: Some(DhtOptions {
            lookup_interval: Duration::from_secs(1),
            ..DhtOptions::loopback([boot])
        }),
        ..common::config()
    }
}

async fn bootstrap_node() -> Dht {
    Dht::bind("127.0.0.1:0".parse().unwrap(), DhtConfig::loopback(), None)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
async fn interop_ferro_finds_libtorrent_seeder_by_dht() {
    let tmp = tempfile::tempdir().unwrap();
    let boot = bootstrap_node().await;
    let seed_dir = common::make_payload(tmp.path(), 4 * 1024 * 1024);
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &[]);
    let torrent_file = tmp.path().join("t.torrent");
    std::fs::write(&torrent_file, torrent.to_bytes()).unwrap();
    let node = boot.local_addr().to_string();
    let lt = spawn(&[
        LT_DHT,
        "--torrent",
        torrent_file.to_str().unwrap(),
        "--save",
        seed_dir.to_str().unwrap(),
        "--port",
        &free_port().to_string(),
        "--dht-node",
        &node,
        "--timeout",
        "120",
    ]);
    lt.wait_for("LISTENING", Duration::from_secs(30));
    lt.wait_for("FINISHED", Duration::from_secs(30)); // checked its data: seeding

    let magnet = format!("magnet:?xt=urn:btih:{}", torrent.info_hash().to_hex());
    let dir = tmp.path().join("ferro");
    let session = Session::new(dht_config(boot.local_addr())).await.unwrap();
    // Bounded: each attempt times out; libtorrent may not have announced yet.
    let mut handle = None;
    for _ in 0..6 {
        let add = AddMagnet {
            metadata_timeout: Duration::from_secs(15),
            ..AddMagnet::new(magnet.parse().unwrap(), &dir)
        };
        match session.add_magnet(add).await {
            Ok(h) => {
                handle = Some(h);
                break;
            }
            Err(e) => eprintln!("no metadata yet: {e}"),
        }
    }
    let h = handle.expect("libtorrent seeder never found through the DHT");
    assert_eq!(h.info().raw(), torrent.info.raw());
    tokio::time::timeout(Duration::from_secs(60), h.wait_until_complete())
        .await
        .expect("download from libtorrent timed out")
        .unwrap();
    assert_eq!(common::digests(&dir), common::digests(&seed_dir));
    session.shutdown().await;
    drop(lt);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
async fn interop_libtorrent_finds_ferro_seeder_by_dht() {
    let tmp = tempfile::tempdir().unwrap();
    let boot = bootstrap_node().await;
    let seed_dir = common::make_payload(tmp.path(), 4 * 1024 * 1024);
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &[]);
    let seeder = Session::new(dht_config(boot.local_addr())).await.unwrap();
    seeder
        .add_torrent(AddTorrent::new(torrent.clone(), &seed_dir))
        .await
        .unwrap();
    let magnet = format!("magnet:?xt=urn:btih:{}", torrent.info_hash().to_hex());
    let lt_dir = tmp.path().join("lt");
    std::fs::create_dir_all(&lt_dir).unwrap();
    let node = boot.local_addr().to_string();
    let lt = tokio::task::spawn_blocking({
        let d = lt_dir.to_str().unwrap().to_owned();
        move || {
            let lt = spawn(&[
                LT_DHT,
                "--magnet",
                &magnet,
                "--save",
                &d,
                "--port",
                &free_port().to_string(),
                "--dht-node",
                &node,
                "--timeout",
                "120",
            ]);
            lt.wait_for("FINISHED", Duration::from_secs(110));
            lt
        }
    })
    .await
    .unwrap();
    assert_eq!(common::digests(&lt_dir), common::digests(&seed_dir));
    drop(lt);
    seeder.shutdown().await;
}
