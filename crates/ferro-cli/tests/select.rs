//! `ferro download --select` / `--sequential` and the file indices of
//! `ferro info`, end to end on 127.0.0.1.

mod common;

use common::{assert_same_files, create, download_json, ferro, spawn_seeder};

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
    create(&torrent, &data.join("set"), "32K");

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

    let (_seeder, port) = spawn_seeder(&torrent, &data);
    let out_dir = tmp.path().join("out");
    let stdout = download_json(
        &torrent,
        &out_dir,
        &[
            "--select",
            "0,2",
            "--sequential",
            "--peer",
            &format!("127.0.0.1:{port}"),
        ],
    );
    assert_same_files(&out_dir.join("set"), &data.join("set"), &["a.bin", "c.bin"]);
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
