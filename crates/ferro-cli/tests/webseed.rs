//! `ferro download --web-seed URL`: a download from an HTTP server alone
//! (ferro-webseed's loopback test server, shared by path), no peer at all;
//! `--json` reports the bytes that came from web seeds.

#[path = "../../ferro-webseed/tests/support/server.rs"]
mod server;

mod common;

use std::time::{Duration, Instant};

use common::{Guard, create, ferro};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_from_a_web_seed_flag_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("set/sub")).unwrap();
    let a: Vec<u8> = (0..300_001u32).map(|i| (i * 13 + 5) as u8).collect();
    let b: Vec<u8> = (0..120_000u32).map(|i| (i / 7) as u8).collect();
    std::fs::write(data.join("set/a.bin"), &a).unwrap();
    std::fs::write(data.join("set/sub/b.bin"), &b).unwrap();
    let torrent = tmp.path().join("set.torrent");
    create(&torrent, &data.join("set"), "32K");
    // The web root holds `set/...`, as BEP 19 asks of a multi-file torrent.
    let http = server::start(data.clone(), server::Behaviour::default()).await;
    let out_dir = tmp.path().join("out");
    let child = ferro()
        .arg("download")
        .arg(&torrent)
        .arg("-o")
        .arg(&out_dir)
        .args([
            "--port",
            "0",
            "--json",
            "--no-dht",
            "--web-seed",
            &http.base,
        ])
        // Files, not pipes: a full pipe could block the child.
        .stdout(std::fs::File::create(tmp.path().join("stdout")).unwrap())
        .stderr(std::fs::File::create(tmp.path().join("stderr")).unwrap())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = guard.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "ferro download timed out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let stdout = std::fs::read_to_string(tmp.path().join("stdout")).unwrap();
    let stderr = std::fs::read_to_string(tmp.path().join("stderr")).unwrap();
    assert!(status.success(), "{stdout}\n{stderr}");
    assert_eq!(std::fs::read(out_dir.join("set/a.bin")).unwrap(), a);
    assert_eq!(std::fs::read(out_dir.join("set/sub/b.bin")).unwrap(), b);
    let finished: serde_json::Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "finished")
        .unwrap_or_else(|| panic!("no finished line: {stdout}"));
    let total = (a.len() + b.len()) as u64;
    assert_eq!(finished["complete"], true);
    assert_eq!(finished["downloaded_from_web_seeds"], total, "{finished}");
    assert_eq!(
        finished["downloaded"], total,
        "every byte from the web seed"
    );
}
