//! `ferro demo`, `ferro seed` and `ferro download` end to end, on 127.0.0.1.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn ferro() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferro"))
}

/// Kills the child when the test ends, however it ends.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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
    let st = ferro()
        .args(["create", "--piece-length", "32K", "-o"])
        .arg(&torrent)
        .arg(data.join("set"))
        .status()
        .unwrap();
    assert!(st.success());

    // A seeder on a fixed free port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let seeder = ferro()
        .arg("seed")
        .arg(&torrent)
        .arg(&data)
        .args(["--port", &port.to_string(), "--json", "--no-dht"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Guard(seeder);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "seeder did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out_dir = tmp.path().join("out");
    let out = ferro()
        .arg("download")
        .arg(&torrent)
        .arg("-o")
        .arg(&out_dir)
        .args([
            "--port",
            "0",
            "--peer",
            &format!("127.0.0.1:{port}"),
            "--json",
            "--no-dht",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"completed\""), "{stdout}");
    // The startup check ran before the display subscribed; it is reported
    // first anyway: nothing was on disk yet.
    let first: serde_json::Value =
        serde_json::from_str(stdout.lines().next().unwrap_or_default()).unwrap();
    assert_eq!(first["event"], "checked", "{stdout}");
    assert_eq!(first["pieces"], 0, "{stdout}");
    for f in ["a.bin", "b.bin", "empty"] {
        assert_eq!(
            std::fs::read(out_dir.join("set").join(f)).unwrap(),
            std::fs::read(data.join("set").join(f)).unwrap()
        );
    }
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
    let created = ferro()
        .args(["create", "--piece-length", "16K", "-o"])
        .arg(&torrent)
        .arg(data.join("set"))
        .output()
        .unwrap();
    assert!(created.status.success());
    let hash = String::from_utf8_lossy(&created.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("info-hash: ").map(|h| h.trim().to_owned()))
        .expect("info-hash line");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let seeder = ferro()
        .arg("seed")
        .arg(&torrent)
        .arg(&data)
        .args(["--port", &port.to_string(), "--json", "--no-dht"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Guard(seeder);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "seeder did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out_dir = tmp.path().join("out");
    let magnet = format!("magnet:?xt=urn:btih:{hash}&dn=set&x.pe=127.0.0.1:{port}");
    let out = ferro()
        .args(["download", &magnet, "-o"])
        .arg(&out_dir)
        .args(["--port", "0", "--json", "--no-dht"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"completed\""), "{stdout}");
    assert_eq!(
        std::fs::read(out_dir.join("set/a.bin")).unwrap(),
        std::fs::read(data.join("set/a.bin")).unwrap()
    );
    let saved = out_dir.join(".ferro").join(format!("{hash}.torrent"));
    // The fetched .torrent is saved beside the resume data.
    let saved = ferro_metainfo::Metainfo::from_bytes(&std::fs::read(saved).unwrap()).unwrap();
    assert_eq!(saved.info_hash().to_hex(), hash);
}
