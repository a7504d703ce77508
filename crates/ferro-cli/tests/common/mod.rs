//! Helpers shared by the `ferro` end-to-end tests: the binary, a kill-on-drop
//! guard, `ferro create`, a seeder on 127.0.0.1 and a `--json` download.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `ferro` binary under test.
pub fn ferro() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferro"))
}

/// Kills the child (by its own PID) when the test ends, however it ends.
pub struct Guard(pub Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ferro create --piece-length <piece_length> -o <torrent> <dir>`; fails
/// the test if it fails. Returns its output (stdout has the info-hash line).
pub fn create(torrent: &Path, dir: &Path, piece_length: &str) -> Output {
    let out = ferro()
        .args(["create", "--piece-length", piece_length, "-o"])
        .arg(torrent)
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    out
}

/// The hex info-hash printed by `ferro create`.
pub fn info_hash(created: &Output) -> String {
    String::from_utf8_lossy(&created.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("info-hash: ").map(|h| h.trim().to_owned()))
        .expect("info-hash line")
}

/// `ferro seed <torrent> <data>` on a free fixed port (no DHT), once it
/// accepts connections. Returns the guard and the port.
pub fn spawn_seeder(torrent: &Path, data: &Path) -> (Guard, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let seeder = ferro()
        .arg("seed")
        .arg(torrent)
        .arg(data)
        .args(["--port", &port.to_string(), "--json", "--no-dht"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Guard(seeder);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "seeder did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (guard, port)
}

/// `ferro download <target> -o <out_dir> --port 0 --json --no-dht <extra>`,
/// which must succeed. Returns its stdout (one JSON event a line).
pub fn download_json(target: impl AsRef<OsStr>, out_dir: &Path, extra: &[&str]) -> String {
    let out = ferro()
        .arg("download")
        .arg(target)
        .arg("-o")
        .arg(out_dir)
        .args(["--port", "0", "--json", "--no-dht"])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Each named file is the same under `a` and under `b`.
pub fn assert_same_files(a: &Path, b: &Path, names: &[&str]) {
    for f in names {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
}
