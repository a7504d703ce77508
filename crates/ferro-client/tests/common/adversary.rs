//! Shared pieces of the hostile-peer tests (tests/adversarial*.rs): a
//! seeding session with short timeouts, an empty leecher, bounded waits.

use std::time::Duration;

use ferro_client::{AddTorrent, Config, Session, TorrentHandle};

/// Short timeouts so hostile peers are dropped in seconds.
pub fn config() -> Config {
    Config {
        handshake_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        pex_interval: Duration::from_millis(200),
        ..super::config()
    }
}

/// A seeding session for a fresh payload of `len` bytes in 32 KiB pieces.
pub struct Swarm {
    _tmp: tempfile::TempDir,
    pub seed_dir: std::path::PathBuf,
    pub torrent: ferro_metainfo::Metainfo,
    pub seeder: Session,
}

pub async fn seeding(len: usize, config: Config) -> Swarm {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = super::make_payload(tmp.path(), len);
    let torrent = super::make_torrent(&seed_dir, 32 * 1024, &[]);
    let seeder = Session::new(config).await.unwrap();
    seeder
        .add_torrent(AddTorrent::new(torrent.clone(), &seed_dir))
        .await
        .unwrap();
    Swarm {
        _tmp: tmp,
        seed_dir,
        torrent,
        seeder,
    }
}

impl Swarm {
    pub fn handle(&self) -> TorrentHandle {
        self.seeder.torrents().remove(0)
    }

    /// An empty leecher session for the same torrent, without peers.
    pub async fn leecher(&self, config: Config) -> (Session, TorrentHandle, std::path::PathBuf) {
        let dir = self
            .seed_dir
            .parent()
            .unwrap()
            .join(format!("leech-{}", rand::random::<u32>()));
        let s = Session::new(config).await.unwrap();
        let h = s
            .add_torrent(AddTorrent::new(self.torrent.clone(), &dir))
            .await
            .unwrap();
        (s, h, dir)
    }

    pub fn pieces(&self) -> usize {
        self.torrent.info.piece_count() as usize
    }
}

/// Waits (bounded) until `f` holds; panics with `what` otherwise.
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}
