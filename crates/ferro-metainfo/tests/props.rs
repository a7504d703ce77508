//! Property tests over generated torrents.

use std::collections::BTreeMap;

use ferro_bencode::OwnedValue;
use ferro_metainfo::Metainfo;
use proptest::prelude::*;

fn dict(entries: Vec<(&str, OwnedValue)>) -> OwnedValue {
    OwnedValue::Dict(
        entries
            .into_iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// A multi-file torrent with the given (length, padding) files.
fn torrent(files: &[(u64, bool)], piece_length: u64) -> Vec<u8> {
    let total: u64 = files.iter().map(|f| f.0).sum();
    let list = files
        .iter()
        .enumerate()
        .map(|(i, &(len, pad))| {
            let mut d = vec![
                ("length", OwnedValue::Int(len as i64)),
                (
                    "path",
                    OwnedValue::List(vec![OwnedValue::from(format!("f{i}").as_str())]),
                ),
            ];
            if pad {
                d.push(("attr", OwnedValue::from("p")));
            }
            dict(d)
        })
        .collect();
    let info = dict(vec![
        ("files", OwnedValue::List(list)),
        ("name", OwnedValue::from("t")),
        ("piece length", OwnedValue::Int(piece_length as i64)),
        (
            "pieces",
            OwnedValue::Bytes(vec![7; 20 * total.div_ceil(piece_length) as usize]),
        ),
    ]);
    dict(vec![("info", info)]).encode()
}

proptest! {
    /// The spans of all pieces of a parsed torrent tile exactly the non-padding bytes.
    #[test]
    fn spans_of_all_pieces_tile_the_data(
        mut files in proptest::collection::vec((0u64..5000, proptest::bool::weighted(0.2)), 1..20),
        piece_length in 1u64..4096,
    ) {
        files[0].0 += 1; // never an empty torrent
        let m = Metainfo::from_bytes(&torrent(&files, piece_length)).unwrap();
        let info = &m.info;
        let mut covered = vec![0u64; files.len()];
        let mut next = vec![0u64; files.len()];
        for p in 0..info.piece_count() {
            let mut in_piece = 0;
            for s in info.file_spans(p) {
                prop_assert!(!info.files()[s.file_index].is_padding());
                prop_assert_eq!(s.file_offset, next[s.file_index]);
                next[s.file_index] += s.len;
                covered[s.file_index] += s.len;
                in_piece += s.len;
            }
            prop_assert!(in_piece <= info.piece_size(p).unwrap());
        }
        for (i, f) in info.files().iter().enumerate() {
            let expected = if f.is_padding() { 0 } else { f.length };
            prop_assert_eq!(covered[i], expected);
        }
        let sizes: u64 = (0..info.piece_count()).map(|p| info.piece_size(p).unwrap()).sum();
        prop_assert_eq!(sizes, info.total_length());
    }

    /// Any mutation of a valid torrent loads or fails with an error; never a panic.
    #[test]
    fn mutated_torrents_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = torrent(&[(100, false), (16, true), (5, false)], 32);
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        for input in [&bytes[..], &bytes[..cut.index(bytes.len())]] {
            // Whatever loads keeps the invariants the accessors rely on.
            if let Ok(m) = Metainfo::from_bytes(input) {
                let info = &m.info;
                prop_assert_eq!(
                    u64::from(info.piece_count()),
                    info.total_length().div_ceil(info.piece_length())
                );
                prop_assert_eq!(info.files().last().unwrap().end(), info.total_length());
                prop_assert!(info.last_piece_size() > 0);
            }
        }
    }
}
