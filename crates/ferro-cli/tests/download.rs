//! `ferro demo`, `ferro seed` and `ferro download` end to end, on 127.0.0.1.

mod common;

use common::{assert_same_files, create, download_json, ferro, info_hash, spawn_seeder};

#[test]
fn demo_downloads_and_verifies() {
    let out = ferro()
        .args(["demo", "--size", "4", "--seeders", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("pieces verified"), "{stdout}");
}

#[test]
fn demo_json_reports_a_summary() {
    let out = ferro()
        .args(["demo", "--size", "2", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap();
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(v["event"], "demo");
    assert_eq!(v["bytes"], 2 * 1024 * 1024);
}

#[test]
fn seed_then_download_with_peer_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("set")).unwrap();
    std::fs::write(data.join("set/a.bin"), vec![7u8; 300_000]).unwrap();
    std::fs::write(data.join("set/empty"), b"").unwrap();
    std::fs::write(
        data.join("set/b.bin"),
        (0..200_000u32).map(|i| i as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let torrent = tmp.path().join("set.torrent");
    create(&torrent, &data.join("set"), "32K");

    // A seeder on a fixed free port.
    let (_seeder, port) = spawn_seeder(&torrent, &data);
    let out_dir = tmp.path().join("out");
    let stdout = download_json(
        &torrent,
        &out_dir,
        &["--peer", &format!("127.0.0.1:{port}")],
    );
    assert!(stdout.contains("\"completed\""), "{stdout}");
    // The startup check ran before the display subscribed; it is reported
    // first anyway: nothing was on disk yet.
    let first: serde_json::Value =
        serde_json::from_str(stdout.lines().next().unwrap_or_default()).unwrap();
    assert_eq!(first["event"], "checked", "{stdout}");
    assert_eq!(first["pieces"], 0, "{stdout}");
    assert_same_files(
        &out_dir.join("set"),
        &data.join("set"),
        &["a.bin", "b.bin", "empty"],
    );
}

#[test]
fn download_of_a_missing_torrent_fails_cleanly() {
    let out = ferro()
        .args(["download", "/nonexistent.torrent", "--no-dht"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("ferro: error:"));
}

#[test]
fn download_from_a_magnet_link_with_x_pe() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("set")).unwrap();
    std::fs::write(
        data.join("set/a.bin"),
        (0..400_000u32).map(|i| (i * 7) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let torrent = tmp.path().join("set.torrent");
    let hash = info_hash(&create(&torrent, &data.join("set"), "16K"));
    let (_seeder, port) = spawn_seeder(&torrent, &data);
    let out_dir = tmp.path().join("out");
    let magnet = format!("magnet:?xt=urn:btih:{hash}&dn=set&x.pe=127.0.0.1:{port}");
    let stdout = download_json(&magnet, &out_dir, &[]);
    assert!(stdout.contains("\"completed\""), "{stdout}");
    assert_same_files(&out_dir, &data, &["set/a.bin"]);
    let saved = out_dir.join(".ferro").join(format!("{hash}.torrent"));
    // The fetched .torrent is saved beside the resume data.
    let saved = ferro_metainfo::Metainfo::from_bytes(&std::fs::read(saved).unwrap()).unwrap();
    assert_eq!(saved.info_hash().to_hex(), hash);
}
