//! Whole swarms on loopback: Ferro's tracker, Ferro seeders and leechers.

mod common;

use std::time::Duration;

use ferro_client::{AddTorrent, Session, TorrentEvent};

const TIMEOUT: Duration = common::DOWNLOAD_TIMEOUT;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracker_one_seeder_three_leechers() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 3 * 1024 * 1024);
    let tracker = common::tracker().await;
    // Leechers use the UDP tracker first; the seeder falls back through tiers.
    let trackers = [
        tracker.udp_announce_url().unwrap(),
        tracker.http_announce_url().unwrap(),
    ];
    let torrent = common::make_torrent(&seed_dir, 64 * 1024, &trackers);

    let seeder = Session::new(common::config()).await.unwrap();
    let seed = seeder
        .add_torrent(AddTorrent::new(torrent.clone(), &seed_dir))
        .await
        .unwrap();
    assert!(seed.stats().progress() >= 1.0);

    let mut leechers = Vec::new();
    for i in 0..3 {
        let dir = tmp.path().join(format!("leech{i}"));
        let s = Session::new(common::config()).await.unwrap();
        let h = s
            .add_torrent(AddTorrent::new(torrent.clone(), &dir))
            .await
            .unwrap();
        leechers.push((s, h, dir));
    }
    for (_, h, dir) in &leechers {
        common::complete(h, dir, &seed_dir).await;
    }
    for (s, h, dir) in &leechers {
        let stats = h.stats();
        assert_eq!(stats.pieces_have, stats.piece_count);
        assert!(dir.join("payload/empty.txt").is_file());
        s.shutdown().await;
    }
    assert!(seed.stats().uploaded > 0);
    seeder.shutdown().await;
    tracker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_peer_pause_resume_and_restart_from_resume_data() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 2 * 1024 * 1024);
    let torrent = common::make_torrent(&seed_dir, 32 * 1024, &[]);
    let seeder = common::seeder(common::config(), &torrent, &seed_dir).await;
    let dir = tmp.path().join("leech");

    // First run: stop after some pieces.
    let s = Session::new(common::config()).await.unwrap();
    let h = s
        .add_torrent(AddTorrent::new(torrent.clone(), &dir))
        .await
        .unwrap();
    // Subscribe before the seeder is known, so no piece event is missed.
    let mut events = h.events();
    h.add_peers([seeder.listen_addr()]);
    let mut verified = 0;
    while verified < 10 {
        match tokio::time::timeout(TIMEOUT, events.recv()).await {
            Ok(Ok(TorrentEvent::PieceVerified(_))) => verified += 1,
            Ok(Ok(_)) => {}
            other => panic!("no piece verified in time: {other:?}"),
        }
    }
    h.pause();
    assert_eq!(h.stats().state, ferro_client::TorrentState::Paused);
    s.shutdown().await;
    let had = h.have();
    assert!(had.count_ones() >= 10);

    // Second run: the resume file is trusted, nothing is re-hashed or re-downloaded.
    let s = Session::new(common::config()).await.unwrap();
    let h = s
        .add_torrent(AddTorrent::new(torrent.clone(), &dir).peer(seeder.listen_addr()))
        .await
        .unwrap();
    for p in had.iter_ones() {
        assert!(h.have().get(p), "piece {p} lost");
    }
    common::complete(&h, &dir, &seed_dir).await;
    let stats = h.stats();
    let left_before = torrent.info.total_length() - had.count_ones() as u64 * 32 * 1024;
    assert!(
        stats.downloaded <= left_before + 32 * 1024 * 8,
        "downloaded {} of {} missing",
        stats.downloaded,
        left_before
    );
    s.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_loopback_swarm() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 512 * 1024);
    let torrent = common::make_torrent(&seed_dir, 32 * 1024, &[]);
    let v6 = || ferro_client::Config {
        listen_addr: std::net::Ipv6Addr::LOCALHOST.into(),
        ..common::config()
    };
    let seeder = Session::new(v6()).await.unwrap();
    assert!(seeder.listen_addr().is_ipv6());
    seeder
        .add_torrent(AddTorrent::new(torrent.clone(), &seed_dir))
        .await
        .unwrap();
    let dir = tmp.path().join("leech6");
    let s = Session::new(v6()).await.unwrap();
    let h = s
        .add_torrent(AddTorrent::new(torrent.clone(), &dir).peer(seeder.listen_addr()))
        .await
        .unwrap();
    common::complete_and_shutdown(&h, &dir, &seed_dir, &[&s, &seeder]).await;
}
