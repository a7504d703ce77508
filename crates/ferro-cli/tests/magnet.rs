//! `ferro magnet`: the printed link parses back to the torrent's info-hash, name and trackers.

use std::process::Command;

#[test]
fn magnet_link_of_a_created_torrent() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("my data")).unwrap();
    std::fs::write(tmp.path().join("my data/a.bin"), vec![1u8; 40_000]).unwrap();
    let ferro = env!("CARGO_BIN_EXE_ferro");
    let create = Command::new(ferro)
        .current_dir(tmp.path())
        .args([
            "create",
            "my data",
            "-t",
            "http://127.0.0.1:6969/announce",
            "-w",
            "http://127.0.0.1:8080/",
        ])
        .args(["--no-date", "-o", "t.torrent"])
        .output()
        .unwrap();
    assert!(
        create.status.success(),
        "{}",
        String::from_utf8_lossy(&create.stderr)
    );
    let hash = String::from_utf8(create.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("info-hash: ").map(|h| h.trim().to_string()))
        .unwrap();

    let out = Command::new(ferro)
        .current_dir(tmp.path())
        .args(["magnet", "t.torrent"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let link = ferro_magnet::MagnetLink::parse(text.trim()).unwrap();
    assert_eq!(link.info_hash.to_hex(), hash);
    assert_eq!(link.display_name.as_deref(), Some("my data"));
    assert_eq!(link.exact_length, Some(40_000));
    assert_eq!(link.trackers, ["http://127.0.0.1:6969/announce"]);
    assert_eq!(link.web_seeds, ["http://127.0.0.1:8080/"]);
    assert!(text.starts_with(&format!("magnet:?xt=urn:btih:{hash}&dn=my%20data")));

    let missing = Command::new(ferro)
        .args(["magnet", "/nonexistent.torrent"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
}
