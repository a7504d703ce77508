//! Magnet links against libtorrent (python3-libtorrent), on 127.0.0.1 only:
//! Ferro fetches metadata from a libtorrent seeder, and a libtorrent leecher
//! fetches metadata from a Ferro seeder. Run by `cargo xtask interop`.

mod common;

use common::lt::{free_port, spawn};

use std::time::Duration;

use ferro_client::{AddMagnet, AddTorrent, Session};

const SEEDER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../xtask/interop/client_lt_peer.py"
);
const MAGNET_LEECHER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../xtask/interop/client_lt_magnet.py"
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
async fn interop_ferro_magnet_fetches_metadata_from_libtorrent_seeder() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 16 * 1024 * 1024);
    // 16 KiB pieces over 16 MiB: the info dictionary spans two metadata pieces.
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &[]);
    assert!(torrent.info.raw().len() > 16 * 1024);
    let torrent_file = tmp.path().join("t.torrent");
    std::fs::write(&torrent_file, torrent.to_bytes()).unwrap();
    let port = free_port().to_string();
    let (t, s) = (
        torrent_file.to_str().unwrap(),
        seed_dir.to_str().unwrap().to_owned(),
    );
    let lt = spawn(&[
        SEEDER,
        "--torrent",
        t,
        "--save",
        &s,
        "--port",
        &port,
        "--seed",
        "--timeout",
        "90",
    ]);
    let port = lt.wait_for("LISTENING", Duration::from_secs(30));
    lt.wait_for("FINISHED", Duration::from_secs(30)); // checked its data: seeding

    let magnet = format!(
        "magnet:?xt=urn:btih:{}&x.pe=127.0.0.1:{port}",
        torrent.info_hash().to_hex()
    );
    let dir = tmp.path().join("ferro");
    let session = Session::new(common::config()).await.unwrap();
    let h = tokio::time::timeout(
        Duration::from_secs(60),
        session.add_magnet(AddMagnet::new(magnet.parse().unwrap(), &dir)),
    )
    .await
    .expect("metadata from libtorrent timed out")
    .unwrap();
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
async fn interop_libtorrent_magnet_fetches_metadata_from_ferro_seeder() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 4 * 1024 * 1024);
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &[]);
    let seeder = Session::new(common::config()).await.unwrap();
    seeder
        .add_torrent(AddTorrent::new(torrent.clone(), &seed_dir))
        .await
        .unwrap();
    let peer = seeder.listen_addr().to_string();
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&x.pe={peer}",
        torrent.info_hash().to_hex()
    );
    let lt_dir = tmp.path().join("lt");
    std::fs::create_dir_all(&lt_dir).unwrap();
    let lt = tokio::task::spawn_blocking({
        let d = lt_dir.to_str().unwrap().to_owned();
        move || {
            let port = free_port().to_string();
            let lt = spawn(&[
                MAGNET_LEECHER,
                "--magnet",
                &magnet,
                "--save",
                &d,
                "--port",
                &port,
                "--peer",
                &peer,
                "--timeout",
                "90",
            ]);
            lt.wait_for("METADATA", Duration::from_secs(60));
            lt.wait_for("FINISHED", Duration::from_secs(60));
            lt
        }
    })
    .await
    .unwrap();
    assert_eq!(common::digests(&lt_dir), common::digests(&seed_dir));
    drop(lt);
    seeder.shutdown().await;
}
