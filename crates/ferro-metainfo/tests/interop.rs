//! Cross-checks with real tools: mktorrent (Debian) and libtorrent
//! (python3-libtorrent, through xtask/interop/metainfo_lt.py).
//!
//! - torrents made by mktorrent and by libtorrent (v1-only and hybrid) parse
//!   in Ferro to the info-hash libtorrent reports, with the same files;
//! - Ferro's TorrentBuilder gives byte-identical `info` (same info-hash) to
//!   mktorrent for the same files and options;
//! - torrents made by Ferro load in libtorrent with the same info-hash, and
//!   libtorrent verifies every piece against the data.
//!
//! Run with `cargo test -p ferro-metainfo -- --ignored` or `cargo xtask interop`.
//! A missing tool makes the test fail, never pass.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ferro_metainfo::{Metainfo, TorrentBuilder};

const PYTHON: &str = "/usr/bin/python3";

fn helper() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../xtask/interop/metainfo_lt.py"
    ))
}

/// Kills the child if the test fails before it exits.
struct Reap(Option<Child>);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs a program with a hard timeout; panics with a clear message if it is
/// missing, times out or fails.
fn run(program: &str, args: &[&str], cwd: &Path, timeout: Duration) -> String {
    let child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} (install it: apt-get install mktorrent python3-libtorrent): {e}"));
    let mut guard = Reap(Some(child));
    let start = Instant::now();
    loop {
        let child = guard.0.as_mut().unwrap();
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            start.elapsed() < timeout,
            "{program} {args:?} timed out after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out: Output = guard.0.take().unwrap().wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn python(args: &[&str], cwd: &Path) -> String {
    let helper = helper();
    let mut all = vec![helper.to_str().unwrap()];
    all.extend_from_slice(args);
    run(PYTHON, &all, cwd, Duration::from_secs(90))
}

/// libtorrent's view of a .torrent file.
fn lt_load(torrent: &Path) -> serde_json::Value {
    let out = python(&["load", torrent.to_str().unwrap()], Path::new("/"));
    serde_json::from_str(&out).unwrap()
}

/// Deterministic pseudo-random bytes.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// `set/` (a multi-file tree with an empty file) and `single.bin` under `dir`.
fn sample(dir: &Path) {
    std::fs::create_dir_all(dir.join("set/sub")).unwrap();
    std::fs::write(dir.join("set/a.bin"), data(300_000, 1)).unwrap();
    std::fs::write(dir.join("set/empty"), b"").unwrap();
    std::fs::write(dir.join("set/sub/b.txt"), b"hello interop").unwrap();
    std::fs::write(dir.join("set/sub/c.bin"), data(70_001, 2)).unwrap();
    std::fs::write(dir.join("single.bin"), data(1_000_003, 3)).unwrap();
}

/// (path, size) of the non-padding files, as libtorrent lists them.
fn lt_files(view: &serde_json::Value) -> Vec<(String, u64)> {
    view["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["pad"] == false)
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn ferro_files(m: &Metainfo) -> Vec<(String, u64)> {
    m.info
        .files()
        .iter()
        .filter(|f| !f.is_padding())
        .map(|f| (f.path.to_str().unwrap().to_owned(), f.length))
        .collect()
}

fn parse(path: &Path) -> Metainfo {
    Metainfo::from_bytes(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
fn interop_mktorrent_torrents_parse_and_match_ferro_create() {
    let tmp = tempfile::tempdir().unwrap();
    sample(tmp.path());
    for (input, private) in [("set", false), ("set", true), ("single.bin", false)] {
        let out = tmp.path().join(format!("{input}-{private}.mk.torrent"));
        let mut args = vec![
            "-l",
            "15",
            "-a",
            "http://127.0.0.1:6969/announce",
            "-c",
            "made by mktorrent",
        ];
        if private {
            args.push("-p");
        }
        args.extend(["-o", out.to_str().unwrap(), input]);
        run("mktorrent", &args, tmp.path(), Duration::from_secs(60));

        let reference = lt_load(&out);
        let m = parse(&out);
        assert_eq!(
            m.info_hash().to_hex(),
            reference["info_hash"].as_str().unwrap(),
            "{input}"
        );
        assert_eq!(ferro_files(&m), lt_files(&reference), "{input}");
        assert_eq!(
            u64::from(m.info.piece_count()),
            reference["num_pieces"].as_u64().unwrap()
        );
        assert_eq!(m.info.is_private(), private);
        assert_eq!(
            m.trackers,
            vec![vec!["http://127.0.0.1:6969/announce".to_owned()]]
        );
        assert_eq!(m.comment.as_deref(), Some("made by mktorrent"));

        // The same files and options through Ferro give the same info dictionary.
        let ours = TorrentBuilder::new(tmp.path().join(input))
            .piece_length(1 << 15)
            .private(private)
            .build()
            .unwrap();
        assert_eq!(
            ours.metainfo.info_hash(),
            m.info_hash(),
            "ferro create vs mktorrent on {input}"
        );
        assert_eq!(ours.metainfo.info.raw(), m.info.raw());
    }
}

#[test]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
fn interop_libtorrent_torrents_parse_in_ferro() {
    let tmp = tempfile::tempdir().unwrap();
    sample(tmp.path());
    for input in ["set", "single.bin"] {
        // v1-only, and hybrid v1+v2 (BEP 52 + BEP 47 padding): Ferro reads the v1 part.
        for kind in ["v1", "hybrid"] {
            let out = tmp.path().join(format!("{input}.{kind}.lt.torrent"));
            let reported = python(
                &["create", input, out.to_str().unwrap(), "16384", kind],
                tmp.path(),
            );
            let m = parse(&out);
            assert_eq!(m.info_hash().to_hex(), reported.trim(), "{input} {kind}");
            let view = lt_load(&out);
            assert_eq!(ferro_files(&m), lt_files(&view), "{input} {kind}");
            assert_eq!(
                m.info.total_length(),
                view["total_size"].as_u64().unwrap(),
                "{input} {kind}"
            );
            assert_eq!(
                u64::from(m.info.piece_count()),
                view["num_pieces"].as_u64().unwrap()
            );
            let pads = view["files"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["pad"] == true)
                .count();
            assert_eq!(
                m.info.files().iter().filter(|f| f.is_padding()).count(),
                pads,
                "{input} {kind}"
            );
        }
    }
}

#[test]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
fn interop_ferro_torrents_load_and_verify_in_libtorrent() {
    let tmp = tempfile::tempdir().unwrap();
    sample(tmp.path());
    for input in ["set", "single.bin"] {
        for pad in [false, true] {
            let made = TorrentBuilder::new(tmp.path().join(input))
                .piece_length(16_384)
                .pad_files(pad)
                .tracker("http://127.0.0.1:6969/announce")
                .tracker_tier(vec![
                    "udp://127.0.0.1:6970".into(),
                    "udp://127.0.0.1:6971".into(),
                ])
                .web_seed("http://127.0.0.1:8080/files/")
                .comment("made by ferro")
                .build()
                .unwrap();
            let out = tmp.path().join(format!("{input}.{pad}.ferro.torrent"));
            std::fs::write(&out, &made.bytes).unwrap();

            let view = lt_load(&out);
            let m = &made.metainfo;
            assert_eq!(
                view["info_hash"].as_str().unwrap(),
                m.info_hash().to_hex(),
                "{input} pad={pad}"
            );
            assert_eq!(lt_files(&view), ferro_files(m), "{input} pad={pad}");
            assert_eq!(view["total_size"].as_u64().unwrap(), m.info.total_length());
            assert_eq!(
                view["num_pieces"].as_u64().unwrap(),
                u64::from(m.info.piece_count())
            );
            // (tier, url) pairs, sorted: libtorrent shuffles within a tier.
            assert_eq!(
                view["trackers"],
                serde_json::json!([
                    [0, "http://127.0.0.1:6969/announce"],
                    [1, "udp://127.0.0.1:6970"],
                    [1, "udp://127.0.0.1:6971"]
                ])
            );
            assert_eq!(
                view["web_seeds"],
                serde_json::json!(["http://127.0.0.1:8080/files/"])
            );

            // libtorrent hashes the data itself: every piece must verify.
            let plain = TorrentBuilder::new(tmp.path().join(input))
                .piece_length(16_384)
                .pad_files(pad)
                .build()
                .unwrap();
            let check_torrent = tmp.path().join(format!("{input}.{pad}.check.torrent"));
            std::fs::write(&check_torrent, &plain.bytes).unwrap();
            let checked: serde_json::Value = serde_json::from_str(&python(
                &[
                    "check",
                    check_torrent.to_str().unwrap(),
                    tmp.path().to_str().unwrap(),
                ],
                tmp.path(),
            ))
            .unwrap();
            assert_eq!(
                checked["info_hash"].as_str().unwrap(),
                plain.metainfo.info_hash().to_hex()
            );
            assert_eq!(
                checked["num_pieces"].as_u64().unwrap(),
                u64::from(plain.metainfo.info.piece_count()),
                "{input} pad={pad}: {checked}"
            );
        }
    }
    // Control: with one byte changed, libtorrent finds exactly one bad piece.
    let made = TorrentBuilder::new(tmp.path().join("single.bin"))
        .piece_length(16_384)
        .build()
        .unwrap();
    let torrent = tmp.path().join("control.torrent");
    std::fs::write(&torrent, &made.bytes).unwrap();
    let mut bytes = std::fs::read(tmp.path().join("single.bin")).unwrap();
    bytes[500_000] ^= 1;
    std::fs::write(tmp.path().join("single.bin"), bytes).unwrap();
    let checked: serde_json::Value = serde_json::from_str(&python(
        &[
            "check",
            torrent.to_str().unwrap(),
            tmp.path().to_str().unwrap(),
        ],
        tmp.path(),
    ))
    .unwrap();
    assert_eq!(
        checked["num_pieces"].as_u64().unwrap(),
        u64::from(made.metainfo.info.piece_count()) - 1,
        "{checked}"
    );
}
