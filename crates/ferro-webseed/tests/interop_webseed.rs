//! Interop with nginx (Debian's /usr/sbin/nginx) as a web seed on 127.0.0.1:
//! Ferro fetches and verifies every piece through it, and libtorrent
//! (/usr/bin/python3) downloads a torrent with that web seed alone.
//! Run by `cargo xtask interop`; a missing program fails the test.

#[path = "support/nginx.rs"]
mod nginx;
#[path = "support/torrent.rs"]
mod torrent;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use ferro_webseed::{
    ClientConfig, Error, HealthConfig, SeedId, WebSeedClient, WebSeedWorker, WebSeeds,
};
use nginx::{free_port, start_nginx, world_readable};
use sha2::{Digest, Sha256};

const PYTHON: &str = "/usr/bin/python3";
const LT_HELPER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../xtask/interop/webseed_lt.py"
);

#[tokio::test]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
async fn interop_webseed_nginx() {
    // Two torrents under one web root: pieces across files, and with padding.
    let (root, plain, plain_data, _) =
        torrent::make("plain set", torrent::FILES, 16_384, false, None);
    world_readable(root.path());
    let padded_top = root.path().join("padded");
    let (padded_root, padded, padded_data, _) =
        torrent::make("padded", torrent::FILES, 32_768, true, None);
    std::fs::rename(padded_root.path().join("padded"), &padded_top).unwrap();
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let _nginx = start_nginx(root.path(), port, state.path());
    let base = format!("http://127.0.0.1:{port}/");

    let client = WebSeedClient::new(ClientConfig::default()).unwrap();
    for (info, data) in [(&plain, &plain_data), (&padded, &padded_data)] {
        let mut w = WebSeedWorker::new(
            client.clone(),
            WebSeeds::with_urls(HealthConfig::default(), [&base]),
        );
        let mut got = Vec::new();
        for p in 0..info.piece_count() {
            let bytes = w
                .fetch_piece(info, p)
                .await
                .unwrap_or_else(|e| panic!("{} piece {p}: {e}", info.name()));
            got.extend_from_slice(&bytes);
        }
        assert!(&got == data, "{}: data differs", info.name());
        // One fetch of the whole torrent, all files at once.
        let all = client
            .fetch(info, &base, 0, info.total_length())
            .await
            .unwrap();
        assert!(all[..] == data[..]);
    }

    // nginx's 404 for a file it lacks marks that file missing on the seed.
    let gone = plain
        .files()
        .iter()
        .position(|f| f.path.ends_with("c.bin"))
        .unwrap();
    std::fs::remove_file(root.path().join(&plain.files()[gone].path)).unwrap();
    let mut w = WebSeedWorker::new(
        client.clone(),
        WebSeeds::with_urls(HealthConfig::default(), [&base]),
    );
    let first = plain.file_pieces(gone).start;
    let e = w.fetch_piece(&plain, first).await.unwrap_err();
    assert_eq!(e.error, Error::NotFound(404), "{e}");
    let h = w.seeds().health(SeedId(0)).unwrap();
    assert!(!h.usable(Instant::now(), gone) && h.usable(Instant::now(), 0));
    w.fetch_piece(&plain, 0).await.unwrap();
}

fn sha256_file(p: &Path) -> Vec<u8> {
    Sha256::digest(std::fs::read(p).unwrap()).to_vec()
}

#[tokio::test]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
async fn interop_webseed_libtorrent_downloads_from_nginx() {
    assert!(
        Path::new(PYTHON).exists(),
        "{PYTHON} is missing (Debian package `python3-libtorrent`)"
    );
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/");
    // A torrent as `ferro create -w URL` makes it: TorrentBuilder with a web seed.
    let (root, info, _, torrent_bytes) =
        torrent::make("lt set", torrent::FILES, 16_384, false, Some(&base));
    world_readable(root.path());
    let state = tempfile::tempdir().unwrap();
    let _nginx = start_nginx(root.path(), port, state.path());
    let torrent_path = state.path().join("t.torrent");
    std::fs::write(&torrent_path, &torrent_bytes).unwrap();
    let save = tempfile::tempdir().unwrap();

    let out = Command::new(PYTHON)
        .arg(LT_HELPER)
        .arg(&torrent_path)
        .arg(save.path())
        .arg("60")
        .stdin(Stdio::null())
        .output()
        .expect("run the libtorrent helper");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "libtorrent helper failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"finished\": true"), "{stdout}");
    let files: Vec<PathBuf> = info
        .files()
        .iter()
        .filter(|f| !f.is_padding())
        .map(|f| f.path.clone())
        .collect();
    for f in &files {
        assert_eq!(
            sha256_file(&save.path().join(f)),
            sha256_file(&root.path().join(f)),
            "{}",
            f.display()
        );
    }
}
