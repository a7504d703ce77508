//! Interop with nginx as a web seed (BEP 19): a Ferro session downloads a
//! multi-file torrent from nginx alone (no peer, no tracker), through the
//! client's web seed tasks. nginx is started as ferro-webseed's interop test
//! starts it (its helper is shared by path). Run by `cargo xtask interop`; a
//! missing nginx fails the test.

mod common;
#[path = "../../ferro-webseed/tests/support/nginx.rs"]
mod nginx;

use std::time::Duration;

use ferro_client::{AddTorrent, Session};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
async fn interop_webseed_ferro_downloads_from_nginx_alone() {
    let tmp = tempfile::tempdir().unwrap();
    // The web root holds `payload/` (a.bin, empty.txt, sub/b.bin, sub/c.bin);
    // pieces cross file boundaries.
    let seed_dir = common::make_payload(tmp.path(), 3 * 1024 * 1024 + 4321);
    nginx::world_readable(tmp.path());
    nginx::world_readable(&seed_dir);
    let state = tempfile::tempdir().unwrap();
    let port = nginx::free_port();
    let _nginx = nginx::start_nginx(&seed_dir, port, state.path());
    let mut torrent = common::make_torrent(&seed_dir, 32 * 1024, &[]);
    // As `ferro create -w URL` writes it: the url-list names the web root.
    torrent.web_seeds = vec![format!("http://127.0.0.1:{port}/")];

    let dir = tmp.path().join("leech");
    let session = Session::new(common::config()).await.unwrap();
    let h = session
        .add_torrent(AddTorrent::new(torrent.clone(), &dir))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(60), h.wait_until_complete())
        .await
        .expect("download from nginx timed out")
        .unwrap();
    assert_eq!(common::digests(&dir), common::digests(&seed_dir));
    let st = h.stats();
    assert_eq!(st.downloaded_from_web_seeds, torrent.info.total_length());
    assert_eq!(
        st.downloaded, st.downloaded_from_web_seeds,
        "no peer at all"
    );
    assert_eq!(st.peers_known, 0);
    assert_eq!(st.hash_failures, 0);
    assert_eq!(st.web_seeds, 1);
    session.shutdown().await;
}
