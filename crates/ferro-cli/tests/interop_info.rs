//! The acceptance check at the command line: `ferro info` prints the
//! info-hash mktorrent's and libtorrent's torrents have (as libtorrent reports
//! it), and a torrent from `ferro create` loads in libtorrent with the hash
//! `ferro create` printed. Needs mktorrent and python3-libtorrent; a missing
//! tool fails the test.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs a program to completion within `timeout`, panicking with a clear message otherwise.
fn run(program: &str, args: &[&str], cwd: &Path) -> String {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} (apt-get install mktorrent python3-libtorrent): {e}")
        });
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} {args:?} timed out");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn lt(args: &[&str], cwd: &Path) -> String {
    let helper = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../xtask/interop/metainfo_lt.py"
    );
    let mut all = vec![helper];
    all.extend_from_slice(args);
    run("/usr/bin/python3", &all, cwd)
}

fn ferro_info_hash(torrent: &str, cwd: &Path) -> String {
    let json = run(
        env!("CARGO_BIN_EXE_ferro"),
        &["info", "--json", torrent],
        cwd,
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["info_hash"].as_str().unwrap().to_owned()
}

fn lt_info_hash(torrent: &str, cwd: &Path) -> String {
    let v: serde_json::Value = serde_json::from_str(&lt(&["load", torrent], cwd)).unwrap();
    v["info_hash"].as_str().unwrap().to_owned()
}

#[test]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
fn interop_ferro_info_agrees_with_mktorrent_and_libtorrent() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("data/sub")).unwrap();
    std::fs::write(dir.join("data/a.bin"), vec![1u8; 123_457]).unwrap();
    std::fs::write(dir.join("data/sub/b.bin"), vec![2u8; 65_536]).unwrap();

    run(
        "mktorrent",
        &[
            "-l",
            "15",
            "-a",
            "http://127.0.0.1:6969/announce",
            "-o",
            "mk.torrent",
            "data",
        ],
        dir,
    );
    let mk = ferro_info_hash("mk.torrent", dir);
    assert_eq!(mk, lt_info_hash("mk.torrent", dir));

    let reported = lt(&["create", "data", "lt.torrent", "32768", "hybrid"], dir);
    assert_eq!(ferro_info_hash("lt.torrent", dir), reported.trim());

    // Same files and piece length as mktorrent: the same info-hash.
    let out = run(
        env!("CARGO_BIN_EXE_ferro"),
        &[
            "create",
            "data",
            "--piece-length",
            "32K",
            "-t",
            "http://127.0.0.1:6969/announce",
            "-o",
            "ferro.torrent",
        ],
        dir,
    );
    let printed = out
        .lines()
        .find_map(|l| l.strip_prefix("info-hash: "))
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(printed, lt_info_hash("ferro.torrent", dir));
    assert_eq!(printed, mk);
}
