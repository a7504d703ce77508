//! Interop with libtorrent (python3-libtorrent), on 127.0.0.1 only.
//! Run by `cargo xtask interop`; ignored in `cargo test`.

mod common;

use common::lt::free_port;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ferro_client::{AddTorrent, Session};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../xtask/interop/client_lt_peer.py"
);

/// The libtorrent process, killed (by PID) when the test ends.
struct LtPeer {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for LtPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lt_peer(torrent: &Path, save: &Path, port: u16, seed: bool, peers: &[String]) -> LtPeer {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import libtorrent"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "python3-libtorrent is missing: install it (cargo xtask install-clients)"
    );
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(SCRIPT)
        .arg("--torrent")
        .arg(torrent)
        .arg("--save")
        .arg(save)
        .args(["--port", &port.to_string(), "--timeout", "90"]);
    if seed {
        cmd.arg("--seed");
    }
    for p in peers {
        cmd.args(["--peer", p]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot start python3");
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    LtPeer { child, lines }
}

impl LtPeer {
    fn wait_for(&self, what: &str, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(what) => return,
                Ok(_) => {}
                Err(e) => panic!("libtorrent peer: no {what} line ({e})"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
async fn interop_ferro_downloads_from_libtorrent_seeder_via_ferro_tracker() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 4 * 1024 * 1024);
    let tracker = common::tracker().await;
    let torrent = common::make_torrent(
        &seed_dir,
        64 * 1024,
        &[tracker.http_announce_url().unwrap()],
    );
    let torrent_file = tmp.path().join("t.torrent");
    std::fs::write(&torrent_file, torrent.to_bytes()).unwrap();

    let lt = lt_peer(&torrent_file, &seed_dir, free_port(), true, &[]);
    lt.wait_for("FINISHED", Duration::from_secs(30)); // checked its data: seeding

    let dir = tmp.path().join("ferro");
    let s = Session::new(common::config()).await.unwrap();
    let h = s
        .add_torrent(AddTorrent::new(torrent.clone(), &dir))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(60), h.wait_until_complete())
        .await
        .expect("download from libtorrent timed out")
        .unwrap();
    assert_eq!(common::digests(&dir), common::digests(&seed_dir));
    s.shutdown().await;
    tracker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
async fn interop_libtorrent_downloads_from_ferro_seeder() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 4 * 1024 * 1024);
    let tracker = common::tracker().await;
    let torrent = common::make_torrent(
        &seed_dir,
        64 * 1024,
        &[tracker.http_announce_url().unwrap()],
    );
    let torrent_file = tmp.path().join("t.torrent");
    std::fs::write(&torrent_file, torrent.to_bytes()).unwrap();

    let seeder = Session::new(common::config()).await.unwrap();
    seeder
        .add_torrent(AddTorrent::new(torrent.clone(), &seed_dir))
        .await
        .unwrap();

    let lt_dir = tmp.path().join("lt");
    std::fs::create_dir_all(&lt_dir).unwrap();
    let peer = seeder.listen_addr().to_string();
    let lt = tokio::task::spawn_blocking({
        let (t, d) = (torrent_file.clone(), lt_dir.clone());
        move || {
            let lt = lt_peer(&t, &d, free_port(), false, &[peer]);
            lt.wait_for("FINISHED", Duration::from_secs(60));
            lt
        }
    })
    .await
    .unwrap();
    assert_eq!(common::digests(&lt_dir), common::digests(&seed_dir));
    drop(lt);
    seeder.shutdown().await;
    tracker.stop().await;
}
