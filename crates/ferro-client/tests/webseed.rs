//! Web seeds (BEP 19) inside the client, against a loopback HTTP server with
//! Range support (ferro-webseed's test server, shared by path): a download
//! from a web seed alone, a web seed beside a slow peer, a web seed that lacks
//! a file, a web seed serving corrupt data, and a magnet link's `ws=`.
//! Every test checks the files' sha256 and where the bytes came from.

mod common;
#[path = "../../ferro-webseed/tests/support/server.rs"]
mod server;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ferro_client::{
    AddMagnet, AddTorrent, Config, FilePriority, Session, TorrentEvent, TorrentHandle,
};
use ferro_metainfo::Metainfo;
use server::{Behaviour, TestServer};

const TIMEOUT: Duration = Duration::from_secs(60);

/// A loopback config whose web seeds back off briefly (tests must not wait 15 s).
fn config() -> Config {
    let mut c = common::config();
    c.web_seeds.health.base_backoff = Duration::from_millis(200);
    c
}

/// A multi-file torrent (pieces cross file boundaries, one empty file) and
/// an HTTP server with `behaviour` serving its files; the torrent's
/// `url-list` names the server when `in_url_list`.
async fn setup(
    root: &Path,
    size: usize,
    piece: u64,
    behaviour: Behaviour,
    in_url_list: bool,
) -> (std::path::PathBuf, Metainfo, TestServer) {
    let seed_dir = common::make_payload(root, size);
    let mut torrent = common::make_torrent(&seed_dir, piece, &[]);
    let server = server::start(seed_dir.clone(), behaviour).await;
    if in_url_list {
        torrent.web_seeds = vec![server.base.clone()];
    }
    (seed_dir, torrent, server)
}

/// Bytes that came from peers (everything downloaded but not from web seeds).
fn from_peers(h: &TorrentHandle) -> u64 {
    let s = h.stats();
    s.downloaded - s.downloaded_from_web_seeds
}

/// Polls `cond` every 20 ms until it holds (fails after [`TIMEOUT`]).
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_file_download_from_a_web_seed_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent, server) = setup(
        tmp.path(),
        3 * 1024 * 1024,
        32 * 1024,
        Behaviour::default(),
        true,
    )
    .await;
    let dir = tmp.path().join("leech");
    let (s, h) = common::leech(config(), AddTorrent::new(torrent.clone(), &dir)).await;
    assert_eq!(h.stats().web_seeds, 1);
    common::complete(&h, &dir, &seed_dir).await;
    let st = h.stats();
    // Every byte from the web seed, each exactly once; no peer at all.
    assert_eq!(st.downloaded_from_web_seeds, torrent.info.total_length());
    assert_eq!(st.downloaded, st.downloaded_from_web_seeds);
    assert_eq!(st.peers_known, 0);
    assert_eq!(st.hash_failures, 0);
    // Runs grow with the measured rate: far fewer requests than pieces x files.
    let requests = server.stats.requests.load(Ordering::SeqCst);
    assert!(
        requests < torrent.info.piece_count() as usize,
        "{requests} requests for {} pieces",
        torrent.info.piece_count()
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_peer_and_a_web_seed_share_the_download() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent, server) = setup(
        tmp.path(),
        4 * 1024 * 1024,
        32 * 1024,
        Behaviour::default(),
        false,
    )
    .await;
    // The peer uploads at 64 KiB/s: alone it would need over a minute.
    let seeder = common::seeder(
        Config {
            upload_limit: Some(64 * 1024),
            ..config()
        },
        &torrent,
        &seed_dir,
    )
    .await;
    let dir = tmp.path().join("leech");
    let (s, h) = common::leech(
        config(),
        AddTorrent::new(torrent.clone(), &dir).peer(seeder.listen_addr()),
    )
    .await;
    // The peer delivers a piece first, then the web seed joins.
    wait_for("a piece from the slow peer", || h.stats().pieces_have > 0).await;
    h.add_web_seeds([server.base.clone()]);
    common::complete(&h, &dir, &seed_dir).await;
    let total = torrent.info.total_length();
    let st = h.stats();
    assert!(from_peers(&h) > 0, "{st:?}");
    assert!(
        st.downloaded_from_web_seeds > total / 2,
        "the web seed did most of the work: {st:?}"
    );
    assert_eq!(st.hash_failures, 0);
    s.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_the_web_seed_lacks_comes_from_a_peer() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = Behaviour {
        missing: vec!["b.bin".into()],
        ..Behaviour::default()
    };
    let (seed_dir, torrent, _server) =
        setup(tmp.path(), 2 * 1024 * 1024, 32 * 1024, missing, true).await;
    let info = &torrent.info;
    let b = common::file_index(info, "b.bin");
    let b_pieces = info.file_pieces(b);
    let servable: u64 = (0..info.piece_count())
        .filter(|p| !b_pieces.contains(p))
        .map(|p| info.piece_size(p).unwrap())
        .sum();
    let dir = tmp.path().join("leech");
    let (s, h) = common::leech(config(), AddTorrent::new(torrent.clone(), &dir)).await;
    // The web seed delivers every piece outside b.bin, and nothing more.
    wait_for("the web seed's pieces", || {
        h.stats().verified_bytes == servable
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.stats().verified_bytes, servable);
    assert_eq!(h.stats().web_seeds, 1, "a 404 does not drop the seed");
    // A peer brings the rest.
    let seeder = common::seeder(config(), &torrent, &seed_dir).await;
    h.add_peers([seeder.listen_addr()]);
    common::complete(&h, &dir, &seed_dir).await;
    let st = h.stats();
    assert_eq!(st.downloaded_from_web_seeds, servable);
    assert!(from_peers(&h) >= info.total_length() - servable, "{st:?}");
    let have = h.have();
    assert!(b_pieces.clone().all(|p| have.get(p)));
    s.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_seed_serving_corrupt_data_is_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let corrupt = Behaviour {
        corrupt: true,
        ..Behaviour::default()
    };
    let (seed_dir, torrent, server) =
        setup(tmp.path(), 1024 * 1024, 32 * 1024, corrupt, false).await;
    let dir = tmp.path().join("leech");
    let (s, h) = common::leech(config(), AddTorrent::new(torrent.clone(), &dir)).await;
    // Subscribed before the seed starts: no event is missed.
    let mut events = h.events();
    h.add_web_seeds([server.base.clone()]);
    // Three pieces fail (HealthConfig::max_hash_failures), then the URL is dropped.
    wait_for("the corrupt web seed dropped", || h.stats().web_seeds == 0).await;
    let st = h.stats();
    assert!(st.hash_failures >= 3, "{st:?}");
    assert!(st.downloaded_from_web_seeds > 0);
    // No more requests once dropped.
    let requests = server.stats.requests.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.stats.requests.load(Ordering::SeqCst), requests);
    // The failures blame no peer; the URL's drop is reported once.
    let mut dropped = Vec::new();
    while let Ok(e) = events.try_recv() {
        match e {
            TorrentEvent::HashFailed { peers, .. } => assert!(peers.is_empty(), "{peers:?}"),
            TorrentEvent::WebSeedDropped(url) => dropped.push(url),
            _ => {}
        }
    }
    assert_eq!(dropped, std::slice::from_ref(&server.base));
    // An honest peer completes the download.
    let seeder = common::seeder(config(), &torrent, &seed_dir).await;
    h.add_peers([seeder.listen_addr()]);
    common::complete(&h, &dir, &seed_dir).await;
    assert!(from_peers(&h) > 0);
    assert_eq!(h.stats().web_seeds, 0);
    s.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_ws_feeds_the_web_seed_after_the_metadata_peer_leaves() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent, server) = setup(
        tmp.path(),
        2 * 1024 * 1024,
        32 * 1024,
        Behaviour::default(),
        false,
    )
    .await;
    // The peer serves the metadata, then leaves; data comes from ws= alone.
    let seeder = common::seeder(config(), &torrent, &seed_dir).await;
    let uri = format!(
        "magnet:?xt=urn:btih:{}&x.pe={}&ws={}",
        torrent.info_hash().to_hex(),
        seeder.listen_addr(),
        percent_encoding::utf8_percent_encode(&server.base, percent_encoding::NON_ALPHANUMERIC)
    );
    let magnet: ferro_magnet::MagnetLink = uri.parse().unwrap();
    assert_eq!(magnet.web_seeds, std::slice::from_ref(&server.base));
    let dir = tmp.path().join("leech");
    let s = Session::new(config()).await.unwrap();
    let h = tokio::time::timeout(TIMEOUT, s.add_magnet(AddMagnet::new(magnet, &dir)))
        .await
        .unwrap()
        .unwrap();
    seeder.shutdown().await;
    assert_eq!(h.stats().web_seeds, 1);
    common::complete(&h, &dir, &seed_dir).await;
    let st = h.stats();
    assert!(st.downloaded_from_web_seeds > 0, "{st:?}");
    assert_eq!(
        st.verified_bytes,
        torrent.info.total_length(),
        "every piece verified"
    );
    assert!(server.stats.requests.load(Ordering::SeqCst) > 0);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_and_silent_web_seeds_back_off_and_peers_finish() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, mut torrent, failing) = setup(
        tmp.path(),
        1024 * 1024,
        32 * 1024,
        Behaviour {
            status: Some(503),
            ..Behaviour::default()
        },
        false,
    )
    .await;
    let silent = server::start(
        seed_dir.clone(),
        Behaviour {
            silent: true,
            ..Behaviour::default()
        },
    )
    .await;
    torrent.web_seeds = vec![failing.base.clone(), silent.base.clone()];
    // A peer at 256 KiB/s: the web seeds are asked (and fail) meanwhile.
    let seeder = common::seeder(
        Config {
            upload_limit: Some(256 * 1024),
            ..config()
        },
        &torrent,
        &seed_dir,
    )
    .await;
    let mut c = config();
    // The silent seed's runs are given back after this long.
    c.web_seeds.client.timeout = Duration::from_millis(500);
    let dir = tmp.path().join("leech");
    let (s, h) = common::leech(
        c,
        AddTorrent::new(torrent.clone(), &dir).peer(seeder.listen_addr()),
    )
    .await;
    common::complete(&h, &dir, &seed_dir).await;
    let st = h.stats();
    assert_eq!(st.downloaded_from_web_seeds, 0);
    assert!(from_peers(&h) >= torrent.info.total_length());
    // Errors back off; they do not drop a seed (only corrupt data does).
    assert_eq!(st.web_seeds, 2);
    // Both were asked; the 503s backed off (200 ms doubling, not a request
    // per piece), and the silent one's runs went back to the peer.
    let asked = failing.stats.requests.load(Ordering::SeqCst);
    assert!(
        (1..=10).contains(&asked),
        "{asked} requests to the failing seed"
    );
    assert!(silent.stats.max_in_flight.load(Ordering::SeqCst) >= 1);
    s.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_per_host_are_bounded_across_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, mut torrent, server) = setup(
        tmp.path(),
        2 * 1024 * 1024,
        16 * 1024,
        Behaviour::default(),
        false,
    )
    .await;
    // Two URLs, one host: both seeds share its request limit.
    torrent.web_seeds = vec![server.base.clone(), format!("{}./", server.base)];
    let mut c = config();
    c.web_seeds.client.max_requests_per_host = 2;
    let dir = tmp.path().join("leech");
    let (s, h) = common::leech(c, AddTorrent::new(torrent.clone(), &dir)).await;
    assert_eq!(h.stats().web_seeds, 2);
    common::complete(&h, &dir, &seed_dir).await;
    // Every byte from the web seeds (end-game may fetch a last piece twice).
    let st = h.stats();
    assert!(st.downloaded_from_web_seeds >= torrent.info.total_length());
    assert_eq!(st.downloaded, st.downloaded_from_web_seeds);
    let most = server.stats.max_in_flight.load(Ordering::SeqCst);
    assert!((1..=2).contains(&most), "{most} requests at once");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_seeds_fetch_wanted_files_only_and_resume_when_one_is_raised() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, torrent, _server) = setup(
        tmp.path(),
        2 * 1024 * 1024,
        32 * 1024,
        Behaviour::default(),
        true,
    )
    .await;
    let info = &torrent.info;
    let b = common::file_index(info, "b.bin");
    let mut priorities = vec![FilePriority::Normal; info.files().len()];
    priorities[b] = FilePriority::Skip;
    let dir = tmp.path().join("leech");
    let (s, h) = common::leech(
        config(),
        AddTorrent::new(torrent.clone(), &dir).with_file_priorities(priorities),
    )
    .await;
    tokio::time::timeout(TIMEOUT, h.wait_until_complete())
        .await
        .expect("download timed out")
        .unwrap();
    let st = h.stats();
    // Only the wanted pieces came from the web seed (those shared with b.bin too).
    assert_eq!(st.downloaded_from_web_seeds, st.wanted_length);
    assert!(st.wanted_length < info.total_length());
    // b.bin raised: the web seed fetches the rest.
    h.set_file_priority(b, FilePriority::Normal).unwrap();
    wait_for("every piece", || {
        let st = h.stats();
        st.pieces_have == st.piece_count
    })
    .await;
    assert_eq!(common::digests(&dir), common::digests(&seed_dir));
    assert_eq!(h.stats().downloaded_from_web_seeds, info.total_length());
    s.shutdown().await;
}
