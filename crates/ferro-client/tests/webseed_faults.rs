//! A web seed (BEP 19) that stalls mid-body: its request must time out and
//! the pieces it held must come from a peer instead; the download completes
//! byte-exact long before the server would have woken up.

mod common;
#[path = "../../ferro-webseed/tests/support/server.rs"]
mod server;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ferro_client::{AddTorrent, Config, Session};
use server::Behaviour;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_seed_that_stalls_mid_body_times_out_and_a_peer_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 2 * 1024 * 1024);
    let mut torrent = common::make_torrent(&seed_dir, 32 * 1024, &[]);
    // 10 KB of each answer (less than a piece), then silence for a minute.
    let stalling = server::start(
        seed_dir.clone(),
        Behaviour {
            stall_after: Some(10_000),
            ..Behaviour::default()
        },
    )
    .await;
    torrent.web_seeds = vec![stalling.base.clone()];

    // The peer is slow enough that the web seed gets its runs first.
    let seeder = common::seeder(
        Config {
            upload_limit: Some(512 * 1024),
            ..common::config()
        },
        &torrent,
        &seed_dir,
    )
    .await;
    let mut config = common::config();
    config.web_seeds.client.timeout = Duration::from_secs(2);
    config.web_seeds.health.base_backoff = Duration::from_millis(200);
    let s = Session::new(config).await.unwrap();
    let dir = tmp.path().join("leech");
    let started = Instant::now();
    let h = s
        .add_torrent(AddTorrent::new(torrent.clone(), &dir).peer(seeder.listen_addr()))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(50), h.wait_until_complete())
        .await
        .expect("the stalled web seed held the download (the server sleeps 60 s)")
        .unwrap();
    let took = started.elapsed();
    assert_eq!(common::digests(&dir), common::digests(&seed_dir));
    let st = h.stats();
    // The web seed was asked (its answers never finish, so count those
    // started), and nothing it half-sent was counted as a piece.
    assert!(
        stalling.stats.max_in_flight.load(Ordering::Relaxed) >= 1,
        "{st:?}"
    );
    assert_eq!(st.hash_failures, 0, "{st:?}");
    // No piece can come whole from the web seed: the peer sent them all.
    assert!(
        st.downloaded - st.downloaded_from_web_seeds >= torrent.info.total_length(),
        "the peer delivered the pieces the web seed could not: {st:?}"
    );
    println!("completed in {took:?} despite the stalled web seed: {st:?}");
    s.shutdown().await;
    seeder.shutdown().await;
}
