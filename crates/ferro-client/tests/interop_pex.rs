//! Peer exchange (BEP 11) with libtorrent (python3-libtorrent), on 127.0.0.1
//! only. Run by `cargo xtask interop`; ignored in `cargo test`.

mod common;

use common::lt::{Lt, free_port, spawn};
use common::wait_until;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use ferro_client::{AddTorrent, Config, PeerSource, Session};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../xtask/interop/client_pex_lt_peer.py"
);

/// A libtorrent peer running the PEX helper script on 127.0.0.1:`port`
/// (killed by PID when dropped, through [`Lt`]).
struct LtPeer {
    lt: Lt,
    port: u16,
}

fn lt_peer(torrent: &Path, save: &Path, extra: &[&str], peers: &[SocketAddr]) -> LtPeer {
    std::fs::create_dir_all(save).unwrap();
    let port = free_port();
    let path = |p: &Path| p.to_str().expect("a UTF-8 temporary path").to_owned();
    let mut args = vec![
        SCRIPT.to_owned(),
        "--torrent".to_owned(),
        path(torrent),
        "--save".to_owned(),
        path(save),
        "--port".to_owned(),
        port.to_string(),
        "--timeout".to_owned(),
        "150".to_owned(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    for p in peers {
        args.extend(["--peer".to_owned(), p.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    LtPeer {
        lt: spawn(&args),
        port,
    }
}

impl LtPeer {
    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Waits for a line for which `f` holds; panics after `timeout`.
    fn wait_line(&self, what: &str, timeout: Duration, f: impl Fn(&str) -> bool) -> String {
        self.lt.wait_line(what, timeout, f)
    }
}

fn torrent_file(tmp: &Path, seed_dir: &Path) -> (ferro_metainfo::Metainfo, std::path::PathBuf) {
    let torrent = common::make_torrent(seed_dir, 64 * 1024, &[]);
    let file = tmp.join("t.torrent");
    std::fs::write(&file, torrent.to_bytes()).unwrap();
    (torrent, file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
async fn interop_ferro_learns_libtorrent_peer_from_libtorrent_pex() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 4 * 1024 * 1024);
    let (torrent, file) = torrent_file(tmp.path(), &seed_dir);

    // libtorrent B seeds without PEX (so it never hears of Ferro and dials
    // it first); libtorrent A seeds and dials B (an outgoing link, which
    // libtorrent's PEX always shares).
    let b = lt_peer(&file, &seed_dir, &["--seed", "--no-pex"], &[]);
    b.wait_line("FINISHED", Duration::from_secs(30), |l| l == "FINISHED");
    let a = lt_peer(&file, &seed_dir, &["--seed"], &[b.addr()]);
    a.wait_line("FINISHED", Duration::from_secs(30), |l| l == "FINISHED");
    let b_port = b.port.to_string();
    a.wait_line("a link to B", Duration::from_secs(30), |l| {
        l.starts_with("PEERS") && l.contains(&format!(":{b_port}:"))
    });

    // The Ferro leecher knows only A and downloads slowly, so it is still a
    // leecher (welcome at B) when A's PEX message arrives.
    let s = Session::new(Config {
        download_limit: Some(16 * 1024),
        ..common::config()
    })
    .await
    .unwrap();
    let h = s
        .add_torrent(AddTorrent::new(torrent, tmp.path().join("ferro")).peer(a.addr()))
        .await
        .unwrap();
    // libtorrent sends PEX about once a minute.
    let b_addr = b.addr();
    assert!(
        wait_until(Duration::from_secs(90), || h
            .known_peers()
            .contains(&(b_addr, PeerSource::Pex)))
        .await,
        "Ferro never learned libtorrent B through A's PEX: {:?}",
        h.known_peers()
    );
    assert!(
        wait_until(Duration::from_secs(20), || h
            .connected_peers()
            .contains(&b_addr))
        .await,
        "Ferro learned B but never connected to it: {:?}",
        h.connected_peers()
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
async fn interop_libtorrent_learns_ferro_peer_from_ferro_pex() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 4 * 1024 * 1024);
    let (torrent, file) = torrent_file(tmp.path(), &seed_dir);

    // Ferro X seeds, slowly, so that its peers stay leechers (two seeds
    // drop their link; libtorrent exempts loopback from its own download
    // limit). libtorrent disconnects a peer that floods it with PEX
    // messages, so X keeps 25 s between its messages.
    let x = Session::new(Config {
        pex_interval: Duration::from_secs(25),
        upload_limit: Some(32 * 1024),
        ..common::config()
    })
    .await
    .unwrap();
    x.add_torrent(AddTorrent::new(torrent.clone(), &seed_dir))
        .await
        .unwrap();
    // Ferro Y leeches slowly from X, with PEX off so that it never hears of
    // libtorrent and dials it first.
    let y = Session::new(Config {
        download_limit: Some(16 * 1024),
        pex: false,
        ..common::config()
    })
    .await
    .unwrap();
    let hy = y
        .add_torrent(AddTorrent::new(torrent, tmp.path().join("y")).peer(x.listen_addr()))
        .await
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || hy.stats().peers_connected >= 1).await,
        "Y never connected to X"
    );

    // libtorrent knows only X and must learn Y from X's PEX.
    let y_port = y.listen_addr().port();
    let x_addr = x.listen_addr();
    let lt_dir = tmp.path().join("lt");
    let line = tokio::task::spawn_blocking(move || {
        let lt = lt_peer(&file, &lt_dir, &[], &[x_addr]);
        let line = lt.wait_line(
            "PEERS line with Ferro Y learned by PEX",
            Duration::from_secs(90),
            |l| l.starts_with("PEERS") && l.contains(&format!("127.0.0.1:{y_port}:pex")),
        );
        drop(lt);
        line
    })
    .await
    .unwrap();
    assert!(line.contains(&format!(":{y_port}:pex")));
    y.shutdown().await;
    x.shutdown().await;
}
