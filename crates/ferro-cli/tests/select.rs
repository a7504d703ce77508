//! `ferro download --select` / `--sequential` and the file indices of
//! `ferro info`, end to end on 127.0.0.1.

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

fn bytes(n: u32, k: u32) -> Vec<u8> {
    (0..n).map(|i| (i.wrapping_mul(k) >> 3) as u8).collect()
}

#[test]
fn download_select_fetches_only_the_listed_files() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("set")).unwrap();
    std::fs::write(data.join("set/a.bin"), bytes(300_000, 7)).unwrap();
    std::fs::write(data.join("set/b.bin"), bytes(200_000, 13)).unwrap();
    std::fs::write(data.join("set/c.bin"), bytes(100_000, 31)).unwrap();
    let torrent = tmp.path().join("set.torrent");
    let st = ferro()
        .args(["create", "--piece-length", "32K", "-o"])
        .arg(&torrent)
        .arg(data.join("set"))
        .output()
        .unwrap();
    assert!(st.status.success());

    // `ferro info` numbers the files as --select counts them.
    let info = ferro().arg("info").arg(&torrent).output().unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    for (i, name) in ["a.bin", "b.bin", "c.bin"].iter().enumerate() {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(&format!("{i} ")) && l.ends_with(name)),
            "{text}"
        );
    }
    let json = ferro()
        .args(["info", "--json"])
        .arg(&torrent)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["files"][2]["index"], 2);

    // An index past the file list is refused before anything starts.
    let bad = ferro()
        .arg("download")
        .arg(&torrent)
        .arg("-o")
        .arg(tmp.path().join("bad"))
        .args(["--select", "0,7", "--port", "0", "--no-dht"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("file index 7 out of range"), "{err}");
    let bad = ferro()
        .arg("download")
        .arg(&torrent)
        .args(["--select", "2-1", "--no-dht"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));

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
            "--select",
            "0,2",
            "--sequential",
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
    for f in ["a.bin", "c.bin"] {
        assert_eq!(
            std::fs::read(out_dir.join("set").join(f)).unwrap(),
            std::fs::read(data.join("set").join(f)).unwrap(),
            "{f}"
        );
    }
    // b.bin is skipped: at most the bytes of pieces it shares with a and c
    // (see ferro_client::selection), so most of it is still zeros.
    if let Ok(b) = std::fs::read(out_dir.join("set/b.bin")) {
        let written = b.iter().filter(|&&x| x != 0).count();
        assert!(written <= 2 * 32 * 1024, "{written} bytes of b.bin written");
    }
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "finished", "{stdout}");
    assert_eq!(last["complete"], true);
    assert_eq!(last["selected_bytes"], 400_000);
    assert!(last["pieces"].as_u64() < last["piece_count"].as_u64());
}
