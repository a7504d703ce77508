//! Interop of file selection with libtorrent (python3-libtorrent), on
//! 127.0.0.1 only: a libtorrent seeder, a Ferro leecher that selects files
//! the way `ferro download --select 0,3 --sequential` does.
//! Run by `cargo xtask interop`; ignored in `cargo test`.

mod common;

use std::time::Duration;

use common::lt::{free_port, spawn};
use ferro_client::{AddTorrent, FilePriority, Session, TorrentState};
use ferro_magnet::SelectRange;
use sha2::{Digest, Sha256};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../xtask/interop/client_lt_peer.py"
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
async fn interop_ferro_selects_files_from_libtorrent_seeder() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 3 * 1024 * 1024);
    let torrent = common::make_torrent(&seed_dir, 32 * 1024, &[]);
    let torrent_file = tmp.path().join("t.torrent");
    std::fs::write(&torrent_file, torrent.to_bytes()).unwrap();
    let names: Vec<String> = torrent
        .info
        .files()
        .iter()
        .map(|f| f.path.to_string_lossy().into_owned())
        .collect();
    assert!(
        names[0].ends_with("a.bin") && names[3].ends_with("c.bin"),
        "{names:?}"
    );

    let port = free_port();
    let lt = spawn(&[
        SCRIPT,
        "--torrent",
        torrent_file.to_str().unwrap(),
        "--save",
        seed_dir.to_str().unwrap(),
        "--port",
        &port.to_string(),
        "--timeout",
        "90",
        "--seed",
    ]);
    lt.wait_for("FINISHED", Duration::from_secs(30)); // checked its data: seeding

    // `--select 0,3`: a.bin and c.bin; empty.txt and sub/b.bin skipped.
    let select = SelectRange::parse_list("0,3").unwrap();
    let (priorities, ignored) =
        ferro_client::selection::select_only(torrent.info.files().len(), &select);
    assert!(ignored.is_empty());
    let dir = tmp.path().join("ferro");
    let s = Session::new(common::config()).await.unwrap();
    let h = s
        .add_torrent(
            AddTorrent::new(torrent.clone(), &dir)
                .peer(([127, 0, 0, 1], port).into())
                .with_file_priorities(priorities)
                .with_sequential(true),
        )
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(60), h.wait_until_complete())
        .await
        .expect("selected download from libtorrent timed out")
        .unwrap();
    for f in ["a.bin", "sub/c.bin"] {
        let got: [u8; 32] =
            Sha256::digest(std::fs::read(dir.join("payload").join(f)).unwrap()).into();
        let want: [u8; 32] =
            Sha256::digest(std::fs::read(seed_dir.join("payload").join(f)).unwrap()).into();
        assert_eq!(got, want, "{f}");
    }
    assert!(!dir.join("payload/empty.txt").exists());
    let stats = h.stats();
    assert_eq!(stats.state, TorrentState::Seeding);
    assert!(stats.pieces_have < stats.piece_count);
    let progress = h.file_progress();
    assert!(progress[0].is_complete() && progress[3].is_complete());
    assert!(!progress[2].is_complete());
    assert_eq!(progress[2].priority, FilePriority::Skip);
    s.shutdown().await;
    drop(lt);
}
