//! The fixture corpus in tests/data (made by tests/data/gen.py), in the
//! categories of libtorrent's test_torrents: each file loads or fails with a
//! named error.

use std::path::Path;

use ferro_bencode::ErrorKind;
use ferro_metainfo::{Error, FileSpan, Metainfo, ParseOptions};

fn load(name: &str) -> Result<Metainfo, Error> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(format!("{name}.torrent"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Metainfo::from_bytes(&bytes)
}

fn err(name: &str) -> Error {
    match load(name) {
        Ok(m) => panic!("{name} loaded: {m:?}"),
        Err(e) => e,
    }
}

#[test]
fn every_fixture_is_covered() {
    // A new fixture must get an expectation here.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".torrent").map(str::to_owned))
        .collect();
    names.sort();
    for name in &names {
        let result = load(name);
        let expected_ok = LOADS.contains(&name.as_str());
        assert_eq!(result.is_ok(), expected_ok, "{name}: {result:?}");
    }
    assert_eq!(names.len(), LOADS.len() + FAILS.len(), "{names:?}");
}

const LOADS: &[&str] = &[
    "single_file",
    "multi_file",
    "zero_length_files",
    "padding_files",
    "unordered_info",
    "case_variants",
    "trackers_and_seeds",
    "url_list_list",
    "path_utf8",
];

const FAILS: &[&str] = &[
    "duplicate_keys",
    "negative_piece_length",
    "zero_piece_length",
    "missing_pieces",
    "bad_pieces_length",
    "piece_count_mismatch",
    "negative_file_size",
    "path_traversal",
    "path_absolute",
    "path_backslash",
    "path_empty_component",
    "path_dot",
    "name_traversal",
    "empty_path",
    "path_collision",
    "file_dir_collision",
    "missing_info",
    "info_not_dict",
    "missing_name",
    "no_data",
    "v2_only",
    "trailing_garbage",
    "truncated",
    "not_bencode",
];

#[test]
fn single_file() {
    let m = load("single_file").unwrap();
    assert_eq!(m.info.name(), "file.bin");
    assert!(!m.info.is_multi_file());
    assert_eq!(m.info.total_length(), 100_000);
    assert_eq!(m.info.piece_count(), 7);
    assert_eq!(m.info.last_piece_size(), 100_000 - 6 * 16384);
    assert_eq!(m.info.piece_size(6), Some(m.info.last_piece_size()));
    assert_eq!(m.info.piece_size(7), None);
    assert_eq!(m.files()[0].path, Path::new("file.bin"));
    assert_eq!(m.name(), "file.bin");
    assert_eq!(m.file_spans(6).count(), 1);
    assert_eq!(m.comment.as_deref(), Some("hello"));
    assert_eq!(m.created_by.as_deref(), Some("gen.py"));
    assert_eq!(m.creation_date, Some(1_700_000_000));
    assert_eq!(
        m.trackers,
        vec![vec!["http://127.0.0.1:6969/announce".to_owned()]]
    );
    assert!(!m.info.is_private());
}

#[test]
fn multi_file_paths_include_the_name() {
    let m = load("multi_file").unwrap();
    let paths: Vec<_> = m
        .info
        .files()
        .iter()
        .map(|f| f.path.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(paths, ["dir/a.txt", "dir/sub/b.bin", "dir/sub/c"]);
    // Piece 0 crosses two files; piece 2 (the last) crosses two as well.
    let spans: Vec<_> = m.info.file_spans(0).collect();
    assert_eq!(
        spans,
        [
            FileSpan {
                file_index: 0,
                file_offset: 0,
                len: 5
            },
            FileSpan {
                file_index: 1,
                file_offset: 0,
                len: 16379
            }
        ]
    );
    let spans: Vec<_> = m.info.file_spans(2).collect();
    assert_eq!(
        spans,
        [
            FileSpan {
                file_index: 1,
                file_offset: 32763,
                len: 7237
            },
            FileSpan {
                file_index: 2,
                file_offset: 0,
                len: 7
            }
        ]
    );
    assert_eq!(m.info.file_pieces(1), 0..3);
    assert_eq!(m.info.file_pieces(2), 2..3);
}

#[test]
fn zero_length_files_load_and_take_no_span() {
    let m = load("zero_length_files").unwrap();
    assert_eq!(m.info.files().len(), 6);
    assert_eq!(m.info.total_length(), 40_000);
    for p in 0..m.info.piece_count() {
        for s in m.info.file_spans(p) {
            assert!(m.info.files()[s.file_index].length > 0);
        }
    }
    assert_eq!(m.info.file_pieces(0), 0..0);
    // Piece 1 (16384..32768) crosses a -> [empty2, empty3] -> b.
    let files: Vec<_> = m.info.file_spans(1).map(|s| s.file_index).collect();
    assert_eq!(files, [1, 4]);
}

#[test]
fn padding_files_are_marked_and_skipped() {
    let m = load("padding_files").unwrap();
    let pads: Vec<_> = m.info.files().iter().map(|f| f.is_padding()).collect();
    assert_eq!(pads, [false, true, false, false, true, false]);
    // Piece 0 = a + padding: only a.
    let spans: Vec<_> = m
        .info
        .file_spans(0)
        .map(|s| (s.file_index, s.len))
        .collect();
    assert_eq!(spans, [(0, 1000)]);
    // Piece 2 = c + padding, piece 3 = d.
    let spans: Vec<_> = m
        .info
        .file_spans(2)
        .map(|s| (s.file_index, s.len))
        .collect();
    assert_eq!(spans, [(3, 100)]);
    let spans: Vec<_> = m
        .info
        .file_spans(3)
        .map(|s| (s.file_index, s.len))
        .collect();
    assert_eq!(spans, [(5, 5)]);
}

#[test]
fn unordered_info_loads_and_hashes_the_raw_bytes() {
    let m = load("unordered_info").unwrap();
    let expected = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/unordered_info.hash"),
    )
    .unwrap();
    assert_eq!(m.info_hash().to_hex(), expected.trim());
    // Written back, the info bytes (and so the hash) stay as they were.
    let again = Metainfo::from_bytes(&m.to_bytes()).unwrap();
    assert_eq!(again.info_hash(), m.info_hash());
}

#[test]
fn named_errors() {
    assert!(
        matches!(err("duplicate_keys"), Error::Bencode(e) if matches!(e.kind(), ErrorKind::DuplicateKey(k) if k == b"name"))
    );
    assert!(matches!(
        err("negative_piece_length"),
        Error::BadPieceLength(-16384)
    ));
    assert!(matches!(err("zero_piece_length"), Error::BadPieceLength(0)));
    assert!(matches!(
        err("missing_pieces"),
        Error::MissingField("pieces")
    ));
    assert!(matches!(
        err("bad_pieces_length"),
        Error::BadPiecesLength { len: 19 }
    ));
    assert!(matches!(
        err("piece_count_mismatch"),
        Error::PieceCountMismatch {
            expected: 7,
            actual: 2
        }
    ));
    assert!(matches!(
        err("negative_file_size"),
        Error::BadFileLength(-5)
    ));
    assert!(
        matches!(err("path_traversal"), Error::PathTraversal(p) if p == "dir/../../etc/passwd")
    );
    assert!(matches!(err("path_absolute"), Error::PathTraversal(_)));
    assert!(matches!(err("path_backslash"), Error::PathTraversal(_)));
    assert!(matches!(err("name_traversal"), Error::PathTraversal(_)));
    assert!(matches!(
        err("path_empty_component"),
        Error::BadPathComponent(_)
    ));
    assert!(matches!(err("path_dot"), Error::BadPathComponent(_)));
    assert!(matches!(err("empty_path"), Error::EmptyPath(1)));
    assert!(matches!(err("path_collision"), Error::PathCollision(p) if p == "dir/a/b"));
    assert!(matches!(err("file_dir_collision"), Error::PathCollision(p) if p == "dir/a"));
    assert!(matches!(err("missing_info"), Error::MissingField("info")));
    assert!(matches!(
        err("info_not_dict"),
        Error::WrongType { field: "info", .. }
    ));
    assert!(matches!(err("missing_name"), Error::MissingField("name")));
    assert!(matches!(err("no_data"), Error::NoData));
    assert!(matches!(err("v2_only"), Error::V2Only));
    assert!(
        matches!(err("trailing_garbage"), Error::Bencode(e) if *e.kind() == ErrorKind::TrailingData)
    );
    assert!(matches!(err("truncated"), Error::Bencode(_)));
    assert!(matches!(err("not_bencode"), Error::Bencode(_)));
    // Messages carry the offending value.
    assert_eq!(
        err("negative_piece_length").to_string(),
        "bad piece length -16384"
    );
    assert_eq!(
        err("path_traversal").to_string(),
        "path traversal in \"dir/../../etc/passwd\""
    );
}

#[test]
fn case_variants_are_two_files() {
    // Collisions are case-sensitive (documented in ferro_metainfo::path).
    assert_eq!(load("case_variants").unwrap().info.files().len(), 2);
}

#[test]
fn trackers_seeds_and_utf8_fields() {
    let m = load("trackers_and_seeds").unwrap();
    // BEP 12: announce-list wins over announce; empty tiers and URLs are dropped.
    assert_eq!(
        m.trackers,
        vec![
            vec![
                "http://127.0.0.1:2/a".to_owned(),
                "udp://127.0.0.1:3".to_owned()
            ],
            vec!["http://127.0.0.1:4/b".to_owned()],
        ]
    );
    assert_eq!(
        m.announce.as_deref(),
        Some("http://127.0.0.1:1/ignored-when-list-present")
    );
    assert_eq!(m.web_seeds, ["http://127.0.0.1:6/ws/"]);
    assert_eq!(m.http_seeds, ["http://127.0.0.1:5/seed"]);
    assert_eq!(m.comment.as_deref(), Some("utf-8 é"));
    assert_eq!(m.info.name(), "café.bin");
    assert!(m.info.is_private());

    let m = load("url_list_list").unwrap();
    assert_eq!(
        m.web_seeds,
        ["http://127.0.0.1:6/a/", "http://127.0.0.1:6/b/"]
    );

    let m = load("path_utf8").unwrap();
    let paths: Vec<_> = m
        .info
        .files()
        .iter()
        .map(|f| f.path.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(paths, ["dir/ünïcode", "dir/bad\u{fffd}name"]);
}

#[test]
fn write_back_keeps_everything() {
    for name in LOADS {
        let m = load(name).unwrap();
        let again = Metainfo::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(again.info, m.info, "{name}");
        assert_eq!(again.trackers, m.trackers, "{name}");
        assert_eq!(again.web_seeds, m.web_seeds, "{name}");
        assert_eq!(again.http_seeds, m.http_seeds, "{name}");
        assert_eq!(again.comment, m.comment, "{name}");
        assert_eq!(again.creation_date, m.creation_date, "{name}");
    }
}

#[test]
fn huge_file_counts_hit_the_limit() {
    let mut files = String::new();
    for i in 0..1001 {
        files.push_str(&format!(
            "d6:lengthi1e4:pathl{}:f{i}ee",
            format!("f{i}").len()
        ));
    }
    let pieces = "x".repeat(20);
    let torrent =
        format!("d4:infod5:filesl{files}e4:name1:d12:piece lengthi16384e6:pieces20:{pieces}ee");
    let opts = ParseOptions {
        max_files: 1000,
        ..ParseOptions::default()
    };
    assert!(matches!(
        Metainfo::from_bytes_with(torrent.as_bytes(), &opts),
        Err(Error::TooManyFiles {
            count: 1001,
            max: 1000
        })
    ));
    let m = Metainfo::from_bytes(torrent.as_bytes()).unwrap();
    assert_eq!(m.info.files().len(), 1001);
}

#[test]
fn piece_length_limit() {
    let torrent = b"d4:infod6:lengthi100e4:name1:a12:piece lengthi1073741824e6:pieces20:xxxxxxxxxxxxxxxxxxxxee";
    assert!(matches!(
        Metainfo::from_bytes(torrent),
        Err(Error::BadPieceLength(1_073_741_824))
    ));
    let opts = ParseOptions {
        max_piece_length: 1 << 30,
        ..ParseOptions::default()
    };
    assert!(Metainfo::from_bytes_with(torrent, &opts).is_ok());
}

#[test]
fn bare_info_dict_parses_to_the_same_info() {
    // The BEP 9 path: only the info dictionary is at hand.
    for name in LOADS {
        let m = load(name).unwrap();
        let info = ferro_metainfo::Info::from_bytes(m.info.raw()).unwrap();
        assert_eq!(info, m.info, "{name}");
    }
}

#[test]
fn range_spans_cover_any_block() {
    let m = load("multi_file").unwrap();
    // A 16 KiB block at offset 16000 crosses b.bin only; one at 0 crosses two files.
    let spans: Vec<_> = m
        .info
        .range_spans(16_000, 16_384)
        .map(|s| (s.file_index, s.file_offset, s.len))
        .collect();
    assert_eq!(spans, [(1, 15_995, 16_384)]);
    let spans: Vec<_> = m
        .info
        .range_spans(0, 10)
        .map(|s| (s.file_index, s.len))
        .collect();
    assert_eq!(spans, [(0, 5), (1, 5)]);
    // Cut at the end of the data.
    let total: u64 = m.info.range_spans(40_000, 1 << 20).map(|s| s.len).sum();
    assert_eq!(total, m.info.total_length() - 40_000);
}

#[test]
fn private_flag_values() {
    let with = |private: &str| {
        let t = format!(
            "d4:infod6:lengthi1e4:name1:a12:piece lengthi16384e6:pieces20:xxxxxxxxxxxxxxxxxxxx{private}ee"
        );
        Metainfo::from_bytes(t.as_bytes())
            .unwrap()
            .info
            .is_private()
    };
    assert!(with("7:privatei1e"));
    assert!(
        with("7:privatei2e"),
        "any non-zero integer is private, as in libtorrent"
    );
    assert!(!with("7:privatei0e"));
    assert!(!with("7:private1:1"));
    assert!(!with(""));
}
