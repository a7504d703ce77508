//! `ferro seed` and `ferro download` finding each other through the DHT
//! alone, on 127.0.0.1: both bootstrap from a local ferro-dht node
//! (`--dht-bootstrap`), the link is a bare `magnet:?xt=urn:btih:…`.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Guard, assert_same_files, create, ferro, info_hash};
use ferro_dht::DhtConfig;
use ferro_dht::driver::Dht;

#[test]
fn bare_magnet_download_through_a_loopback_dht() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let boot = rt
        .block_on(Dht::bind(
            "127.0.0.1:0".parse().unwrap(),
            DhtConfig::loopback(),
            None,
        ))
        .unwrap();
    let boot = boot.local_addr().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("set")).unwrap();
    std::fs::write(
        data.join("set/a.bin"),
        (0..300_000u32).map(|i| (i * 13) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let torrent = tmp.path().join("set.torrent");
    let hash = info_hash(&create(&torrent, &data.join("set"), "16K"));
    let seeder = ferro()
        .arg("seed")
        .arg(&torrent)
        .arg(&data)
        .args(["--port", "0", "--json", "--dht-bootstrap", &boot])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Guard(seeder);
    let out_dir = tmp.path().join("out");
    let magnet = format!("magnet:?xt=urn:btih:{hash}");
    // The seeder may not have announced yet: a few bounded attempts.
    let deadline = Instant::now() + Duration::from_secs(60);
    let stdout = loop {
        let out = ferro()
            .args(["download", &magnet, "-o"])
            .arg(&out_dir)
            .args(["--port", "0", "--json", "--dht-bootstrap", &boot])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            break stdout;
        }
        assert!(
            Instant::now() < deadline,
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(stdout.contains("\"completed\""), "{stdout}");
    assert_same_files(&out_dir, &data, &["set/a.bin"]);
    drop(rt);
}
