//! Runs the built `ferro` binary: create then info, errors and exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn ferro(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferro"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run ferro")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// A directory `data` with two files in `dir`.
fn sample(dir: &Path) {
    std::fs::create_dir_all(dir.join("data/sub")).unwrap();
    std::fs::write(dir.join("data/a.bin"), vec![42u8; 50_000]).unwrap();
    std::fs::write(dir.join("data/sub/b.txt"), b"hello").unwrap();
}

#[test]
fn create_then_info_text_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    sample(tmp.path());
    let out = ferro(
        &[
            "create",
            "data",
            "-t",
            "http://127.0.0.1:6969/announce",
            "-t",
            "udp://127.0.0.1:1,udp://127.0.0.1:2",
            "-w",
            "http://127.0.0.1:8080/ws/",
            "--piece-length",
            "16K",
            "--private",
            "--comment",
            "made by a test",
            "--no-date",
            "--pad",
            "-o",
            "t.torrent",
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let hash = text
        .lines()
        .find_map(|l| l.strip_prefix("info-hash: "))
        .expect("info-hash line")
        .trim()
        .to_owned();
    assert_eq!(hash.len(), 40);
    assert!(text.contains("t.torrent"));

    let info = ferro(&["info", "t.torrent"], tmp.path());
    assert!(info.status.success(), "{}", stderr(&info));
    let text = stdout(&info);
    assert!(text.contains(&format!("info-hash:    {hash}")), "{text}");
    assert!(text.contains("name:         data"), "{text}");
    assert!(
        text.contains("50005 bytes") || text.contains("(65541 bytes)"),
        "{text}"
    );
    assert!(text.contains("private:      yes"), "{text}");
    assert!(
        text.contains("tier 2: udp://127.0.0.1:1 udp://127.0.0.1:2"),
        "{text}"
    );
    assert!(text.contains("[padding]"), "{text}");
    assert!(!text.contains("created:"), "--no-date: {text}");

    let json = ferro(&["info", "--json", "t.torrent"], tmp.path());
    assert!(json.status.success(), "{}", stderr(&json));
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(v["info_hash"], hash.as_str());
    assert_eq!(v["name"], "data");
    assert_eq!(v["piece_length"], 16384);
    assert_eq!(v["private"], true);
    assert_eq!(v["comment"], "made by a test");
    assert_eq!(v["trackers"][0][0], "http://127.0.0.1:6969/announce");
    assert_eq!(v["trackers"][1][1], "udp://127.0.0.1:2");
    assert_eq!(v["web_seeds"][0], "http://127.0.0.1:8080/ws/");
    let files = v["files"].as_array().unwrap();
    let real: Vec<_> = files
        .iter()
        .filter(|f| f["padding"] == false)
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        real,
        [
            ("data/a.bin".to_owned(), 50_000),
            ("data/sub/b.txt".to_owned(), 5)
        ]
    );
    assert!(files.iter().any(|f| f["padding"] == true));
    // Piece count is consistent with the sizes.
    let total = v["total_size"].as_u64().unwrap();
    assert_eq!(v["piece_count"].as_u64().unwrap(), total.div_ceil(16384));
}

#[test]
fn same_files_same_torrent_without_date() {
    let tmp = tempfile::tempdir().unwrap();
    sample(tmp.path());
    for out in ["one.torrent", "two.torrent"] {
        let o = ferro(&["create", "data", "--no-date", "-o", out], tmp.path());
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let one = std::fs::read(tmp.path().join("one.torrent")).unwrap();
    let two = std::fs::read(tmp.path().join("two.torrent")).unwrap();
    assert_eq!(one, two);
}

#[test]
fn default_output_name_and_no_clobber() {
    let tmp = tempfile::tempdir().unwrap();
    sample(tmp.path());
    let o = ferro(&["create", "data/a.bin"], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(tmp.path().join("a.bin.torrent").exists());
    let again = ferro(&["create", "data/a.bin"], tmp.path());
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("exists"));
    let forced = ferro(&["create", "data/a.bin", "--force"], tmp.path());
    assert!(forced.status.success(), "{}", stderr(&forced));
}

#[test]
fn bad_torrent_exits_1_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.torrent");
    std::fs::write(
        &bad,
        b"d4:infod5:filesld6:lengthi5e4:pathl2:..6:passwdeee4:name1:d12:piece lengthi16384e6:pieces20:xxxxxxxxxxxxxxxxxxxxee",
    )
    .unwrap();
    let o = ferro(&["info", "bad.torrent"], tmp.path());
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("ferro: error: "), "{err}");
    assert!(err.contains("path traversal"), "{err}");
    assert!(stdout(&o).is_empty());

    let missing = ferro(&["info", "nope.torrent"], tmp.path());
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(stderr(&missing).lines().count(), 1);

    let bad_len = ferro(&["create", ".", "--piece-length", "1000"], tmp.path());
    assert_eq!(bad_len.status.code(), Some(1));
    assert!(stderr(&bad_len).contains("piece length 1000"));
}

#[test]
fn bad_usage_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["info"][..],
        &["frobnicate"],
        &["create"],
        &["create", "x", "--piece-length", "lots"],
        &["info", "a", "--bogus"],
    ] {
        let o = ferro(args, tmp.path());
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!stderr(&o).is_empty());
    }
}
