//! Helpers shared by the loopback tests.
#![allow(dead_code)]

pub mod adversary;
pub mod fake_peer;
pub mod lt;

use std::path::{Path, PathBuf};

use ferro_metainfo::{Metainfo, TorrentBuilder};
use ferro_tracker::server::{Server, ServerConfig, ServerHandle};
use sha2::{Digest, Sha256};

/// A multi-file payload: pieces cross file boundaries, one file is empty.
/// Returns the directory holding the torrent's root folder `payload/`.
pub fn make_payload(root: &Path, total: usize) -> PathBuf {
    let dir = root.join("seed");
    let payload = dir.join("payload");
    std::fs::create_dir_all(payload.join("sub")).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut bytes = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    };
    let a = total / 3 + 12_345;
    let b = total / 2 + 777;
    let c = total.saturating_sub(a + b).max(1);
    std::fs::write(payload.join("a.bin"), bytes(a)).unwrap();
    std::fs::write(payload.join("empty.txt"), b"").unwrap();
    std::fs::write(payload.join("sub/b.bin"), bytes(b)).unwrap();
    std::fs::write(payload.join("sub/c.bin"), bytes(c)).unwrap();
    dir
}

/// A torrent of `seed_dir/payload` announcing to `trackers`.
pub fn make_torrent(seed_dir: &Path, piece_length: u64, trackers: &[String]) -> Metainfo {
    let mut b = TorrentBuilder::new(seed_dir.join("payload")).piece_length(piece_length);
    for t in trackers {
        b = b.tracker(t.clone());
    }
    b.build().unwrap().metainfo
}

/// sha256 of every file under `dir/payload`, by relative path.
pub fn digests(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let base = dir.join("payload");
    let mut stack = vec![base.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let data = std::fs::read(&p).unwrap();
                let rel = p
                    .strip_prefix(&base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let d: [u8; 32] = Sha256::digest(&data).into();
                out.push((rel, d.iter().map(|b| format!("{b:02x}")).collect()));
            }
        }
    }
    out.sort();
    out
}

/// Ferro's tracker on 127.0.0.1 (HTTP and UDP), short intervals.
pub async fn tracker() -> ServerHandle {
    let mut config = ServerConfig {
        http: Some("127.0.0.1:0".parse().unwrap()),
        udp: Some("127.0.0.1:0".parse().unwrap()),
        rate_limit: None,
        ..ServerConfig::default()
    };
    config.swarm.interval = std::time::Duration::from_secs(5);
    Server::bind(config).await.unwrap().spawn()
}

/// A loopback config with quick choking for tests.
pub fn config() -> ferro_client::Config {
    ferro_client::Config {
        choke_interval: std::time::Duration::from_secs(2),
        min_announce_interval: std::time::Duration::from_secs(1),
        ..ferro_client::Config::loopback()
    }
}

/// A session running `config` that seeds `torrent` from `seed_dir`.
pub async fn seeder(
    config: ferro_client::Config,
    torrent: &Metainfo,
    seed_dir: &Path,
) -> ferro_client::Session {
    let s = ferro_client::Session::new(config).await.unwrap();
    s.add_torrent(ferro_client::AddTorrent::new(torrent.clone(), seed_dir))
        .await
        .unwrap();
    s
}

/// A session running `config` with `add` added to it.
pub async fn leech(
    config: ferro_client::Config,
    add: ferro_client::AddTorrent,
) -> (ferro_client::Session, ferro_client::TorrentHandle) {
    let s = ferro_client::Session::new(config).await.unwrap();
    let h = s.add_torrent(add).await.unwrap();
    (s, h)
}

/// How long a loopback download may take before the test fails.
pub const DOWNLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Waits (at most [`DOWNLOAD_TIMEOUT`]) until `h` has every wanted piece,
/// then checks that `dir` holds the same files as `seed_dir`.
pub async fn complete(h: &ferro_client::TorrentHandle, dir: &Path, seed_dir: &Path) {
    tokio::time::timeout(DOWNLOAD_TIMEOUT, h.wait_until_complete())
        .await
        .expect("download timed out")
        .unwrap();
    assert_eq!(digests(dir), digests(seed_dir));
}

/// [`complete`], then shuts `sessions` down in order (the leecher's first).
pub async fn complete_and_shutdown(
    h: &ferro_client::TorrentHandle,
    dir: &Path,
    seed_dir: &Path,
    sessions: &[&ferro_client::Session],
) {
    complete(h, dir, seed_dir).await;
    for s in sessions {
        s.shutdown().await;
    }
}

/// Adds a magnet link to `s` and returns its handle once the metadata has
/// arrived (at most [`DOWNLOAD_TIMEOUT`]).
pub async fn add_magnet(
    s: &ferro_client::Session,
    add: ferro_client::AddMagnet,
) -> ferro_client::TorrentHandle {
    tokio::time::timeout(DOWNLOAD_TIMEOUT, s.add_magnet(add))
        .await
        .expect("metadata timed out")
        .unwrap()
}

/// Polls `f` every 50 ms until it holds or `limit` passes; whether it held.
pub async fn wait_until(limit: std::time::Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    f()
}

/// The index of the torrent's file whose path ends with `name`.
pub fn file_index(info: &ferro_metainfo::Info, name: &str) -> usize {
    info.files()
        .iter()
        .position(|f| f.path.ends_with(name))
        .unwrap()
}
