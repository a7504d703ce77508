//! Disk and resume faults that need no mount (the mounted ones, disk full
//! and read-only, are in `cargo xtask chaos`): a download directory that
//! cannot be created, and a garbage resume file. One clear error line and a
//! non-zero exit, or a recheck and success; never a panic.

mod common;

use std::path::Path;
use std::process::Output;

use common::{create, download_json, ferro};

/// A small multi-file payload under `dir/set` and its torrent.
fn torrent(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(data.join("set/sub")).unwrap();
    std::fs::write(data.join("set/a.bin"), vec![7u8; 300_000]).unwrap();
    std::fs::write(
        data.join("set/sub/b.bin"),
        (0..200_000u32).map(|i| (i * 7) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let t = dir.join("set.torrent");
    create(&t, &data.join("set"), "32K");
    t
}

/// The one `ferro: error:` line of stderr (fails if not exactly one, or on a panic).
fn one_error_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("ferro: error:"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    lines[0].to_owned()
}

#[test]
fn a_download_directory_blocked_by_a_file_fails_with_one_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let t = torrent(tmp.path());
    let blocker = tmp.path().join("blocker");
    std::fs::write(&blocker, b"a file, not a directory").unwrap();
    let out = ferro()
        .arg("download")
        .arg(&t)
        .arg("-o")
        .arg(&blocker)
        .args(["--port", "0", "--no-dht", "--json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let line = one_error_line(&out);
    assert!(line.contains("blocker"), "{line}");
    // Nothing was written over the file in the way.
    assert_eq!(std::fs::read(&blocker).unwrap(), b"a file, not a directory");
}

#[test]
fn a_garbage_resume_file_means_a_recheck_and_success() {
    let tmp = tempfile::tempdir().unwrap();
    let t = torrent(tmp.path());
    let info = ferro().args(["info", "--json"]).arg(&t).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let hash = v["info_hash"].as_str().unwrap().to_owned();
    // Complete data, and a resume file of garbage beside it.
    let out_dir = tmp.path().join("dl");
    std::fs::create_dir_all(out_dir.join("set/sub")).unwrap();
    std::fs::copy(tmp.path().join("data/set/a.bin"), out_dir.join("set/a.bin")).unwrap();
    std::fs::copy(
        tmp.path().join("data/set/sub/b.bin"),
        out_dir.join("set/sub/b.bin"),
    )
    .unwrap();
    let resume = out_dir.join(".ferro").join(format!("{hash}.resume"));
    std::fs::create_dir_all(resume.parent().unwrap()).unwrap();
    std::fs::write(&resume, b"d5:filesli1e\xff\x00garbage").unwrap();
    let stdout = download_json(&t, &out_dir, &[]);
    // Every piece found by the recheck: nothing downloaded (there is no peer).
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "finished");
    assert_eq!(last["complete"], true);
    assert_eq!(last["downloaded"], 0);
    // The resume file was rewritten whole.
    let bytes = std::fs::read(&resume).unwrap();
    assert!(bytes.starts_with(b"d5:files"), "{bytes:?}");
    assert!(!bytes.windows(7).any(|w| w == b"garbage"));
}
