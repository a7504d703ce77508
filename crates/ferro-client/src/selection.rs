//! File selection: per-file priorities, the piece priorities derived from
//! them, BEP 53 `so=` selections, and per-file progress.
//!
//! A piece's priority is the highest priority of the files it holds bytes
//! of (padding files excluded), so a piece is downloaded as soon as one of
//! its files is wanted. Such a piece may *straddle* a wanted and a skipped
//! file. Ferro's choice for the skipped part: the skipped file is created
//! (sparse, at its full length) when a straddling piece is written, and holds
//! only those bytes; a skipped file that shares no piece with a wanted file
//! is never created or written. This keeps the bytes where a later raise of
//! the file's priority, a recheck and serving peers expect them, with no
//! side file to manage (libtorrent's part file is the other common choice).

use std::path::PathBuf;

use ferro_magnet::SelectRange;
use ferro_metainfo::Info;
use ferro_wire::Bitfield;

/// How much a file is wanted. Higher priorities are picked first; a file
/// whose priority is [`Skip`](FilePriority::Skip) is not downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum FilePriority {
    /// Don't download (the file is not created unless a piece it shares
    /// with a wanted file is written; see the module docs).
    Skip,
    /// Download after normal and high files.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Download first.
    High,
}

impl FilePriority {
    /// The piece priority this file priority gives (0: not wanted). Also the
    /// value stored in resume data.
    pub fn level(self) -> u8 {
        match self {
            FilePriority::Skip => 0,
            FilePriority::Low => 1,
            FilePriority::Normal => 4,
            FilePriority::High => 7,
        }
    }

    /// The priority for a stored level (resume data is untrusted: any value
    /// maps to the nearest priority, never an error).
    pub fn from_level(level: u8) -> Self {
        match level {
            0 => FilePriority::Skip,
            1..=2 => FilePriority::Low,
            3..=5 => FilePriority::Normal,
            _ => FilePriority::High,
        }
    }

    /// Whether the file is to be downloaded.
    pub fn is_wanted(self) -> bool {
        self != FilePriority::Skip
    }
}

impl std::fmt::Display for FilePriority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FilePriority::Skip => "skip",
            FilePriority::Low => "low",
            FilePriority::Normal => "normal",
            FilePriority::High => "high",
        })
    }
}

/// The priority of every piece of `info` given the priority of every file
/// (`files[i]` for `info.files()[i]`; missing entries count as
/// [`FilePriority::Normal`]). Padding files give no priority: their bytes
/// are zeros that belong to no one.
pub fn piece_priorities(info: &Info, files: &[FilePriority]) -> Vec<u8> {
    let mut prio = vec![0u8; info.piece_count() as usize];
    for (i, f) in info.files().iter().enumerate() {
        if f.is_padding() {
            continue;
        }
        let level = files.get(i).copied().unwrap_or_default().level();
        for p in info.file_pieces(i) {
            if let Some(slot) = prio.get_mut(p as usize) {
                *slot = (*slot).max(level);
            }
        }
    }
    prio
}

/// File priorities for a BEP 53 `so` selection over `file_count` files: the
/// selected files are [`Normal`](FilePriority::Normal), all others
/// [`Skip`](FilePriority::Skip). Entries that name no file are returned
/// apart (a magnet link is untrusted input; the caller warns). When no
/// entry names a file at all the selection is void and every file is
/// wanted, as when `so` is absent.
pub fn select_only(file_count: usize, so: &[SelectRange]) -> (Vec<FilePriority>, Vec<SelectRange>) {
    let ignored: Vec<SelectRange> = so
        .iter()
        .filter(|r| r.first >= file_count)
        .copied()
        .collect();
    if so.is_empty() || ignored.len() == so.len() {
        return (vec![FilePriority::Normal; file_count], ignored);
    }
    let prios = (0..file_count)
        .map(|i| {
            if so.iter().any(|r| r.contains(i)) {
                FilePriority::Normal
            } else {
                FilePriority::Skip
            }
        })
        .collect();
    (prios, ignored)
}

/// Download progress of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProgress {
    /// Index in the torrent's file list (`info.files()`, padding included;
    /// the index BEP 53 `so` and `ferro download --select` use).
    pub index: usize,
    /// Path relative to the download directory.
    pub path: PathBuf,
    /// Length in bytes.
    pub length: u64,
    /// Its priority.
    pub priority: FilePriority,
    /// Bytes of the file inside verified pieces.
    pub verified_bytes: u64,
    /// Whether it is a BEP 47 padding file (never stored).
    pub padding: bool,
}

impl FileProgress {
    /// Whether every byte of the file is verified.
    pub fn is_complete(&self) -> bool {
        self.verified_bytes == self.length
    }
}

/// Progress of every file of `info` given the verified pieces `have`.
pub fn file_progress(info: &Info, have: &Bitfield, prios: &[FilePriority]) -> Vec<FileProgress> {
    let mut out: Vec<FileProgress> = info
        .files()
        .iter()
        .enumerate()
        .map(|(index, f)| FileProgress {
            index,
            path: f.path.clone(),
            length: f.length,
            priority: prios.get(index).copied().unwrap_or_default(),
            verified_bytes: 0,
            padding: f.is_padding(),
        })
        .collect();
    for piece in have.iter_ones() {
        for span in info.file_spans(piece) {
            if let Some(p) = out.get_mut(span.file_index) {
                p.verified_bytes += span.len;
            }
        }
    }
    out
}

/// Bytes of the files selected for download (padding excluded).
pub fn selected_length(info: &Info, prios: &[FilePriority]) -> u64 {
    info.files()
        .iter()
        .enumerate()
        .filter(|(i, f)| !f.is_padding() && prios.get(*i).copied().unwrap_or_default().is_wanted())
        .map(|(_, f)| f.length)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferro_metainfo::TorrentBuilder;

    /// Files a, b0, b1, c of 40000, 0, 20000, 30000 bytes in 16 KiB pieces:
    /// a = pieces 0-2, b0 = none, b1 = pieces 2-3, c = pieces 3-5.
    fn info() -> (tempfile::TempDir, Info) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("t");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("a"), vec![1u8; 40_000]).unwrap();
        std::fs::write(dir.join("b0"), b"").unwrap();
        std::fs::write(dir.join("b1"), vec![2u8; 20_000]).unwrap();
        std::fs::write(dir.join("c"), vec![3u8; 30_000]).unwrap();
        let made = TorrentBuilder::new(&dir)
            .piece_length(16384)
            .build()
            .unwrap();
        (tmp, made.metainfo.info)
    }

    #[test]
    fn piece_priority_is_the_highest_of_its_files() {
        let (_t, info) = info();
        let names: Vec<_> = info.files().iter().map(|f| f.path.clone()).collect();
        assert!(
            names[0].ends_with("a") && names[3].ends_with("c"),
            "{names:?}"
        );
        use FilePriority::*;
        // a and b0 skipped, b1 high, c low.
        let prio = piece_priorities(&info, &[Skip, Skip, High, Low]);
        assert_eq!(prio, vec![0, 0, 7, 7, 1, 1]);
        let all = piece_priorities(&info, &[]);
        assert!(all.iter().all(|&p| p == Normal.level()));
        assert_eq!(selected_length(&info, &[Skip, Skip, High, Low]), 50_000);
    }

    #[test]
    fn select_only_maps_ranges_and_ignores_bad_indices() {
        let r = |first, last| SelectRange { first, last };
        use FilePriority::*;
        let (p, bad) = select_only(4, &[r(0, 0), r(2, 9), r(7, 8)]);
        assert_eq!(p, vec![Normal, Skip, Normal, Normal]);
        assert_eq!(bad, vec![r(7, 8)]);
        // Nothing valid: every file, as without `so`.
        let (p, bad) = select_only(2, &[r(5, 5)]);
        assert_eq!(p, vec![Normal, Normal]);
        assert_eq!(bad.len(), 1);
        assert_eq!(select_only(2, &[]).0, vec![Normal, Normal]);
    }

    #[test]
    fn levels_round_trip_and_any_byte_is_a_priority() {
        for p in [
            FilePriority::Skip,
            FilePriority::Low,
            FilePriority::Normal,
            FilePriority::High,
        ] {
            assert_eq!(FilePriority::from_level(p.level()), p);
        }
        for b in 0..=255u8 {
            assert_eq!(FilePriority::from_level(b).is_wanted(), b != 0);
        }
    }

    /// An info dictionary with files of `lengths` in pieces of 16 KiB.
    fn info_of(lengths: &[u64]) -> Info {
        let total: u64 = lengths.iter().sum();
        let pieces = total.div_ceil(16384).max(1);
        let mut raw = b"d5:filesl".to_vec();
        for (i, len) in lengths.iter().enumerate() {
            raw.extend(format!("d6:lengthi{len}e4:pathl{}:f{i}ee", format!("f{i}").len()).bytes());
        }
        raw.extend(format!("e4:name1:t12:piece lengthi16384e6:pieces{}:", pieces * 20).bytes());
        raw.extend(std::iter::repeat_n(0u8, pieces as usize * 20));
        raw.push(b'e');
        Info::from_bytes(&raw).unwrap()
    }

    proptest::proptest! {
        /// Every byte of a wanted file lies in a wanted piece of at least its
        /// priority, and a piece is wanted only if it holds a wanted byte.
        #[test]
        fn piece_priorities_cover_exactly_the_wanted_files(
            files in proptest::collection::vec((proptest::prop_oneof![proptest::strategy::Just(0u64), 1u64..50_000], 0u8..4), 1..8),
        ) {
            let lengths: Vec<u64> = files.iter().map(|f| f.0).collect();
            proptest::prop_assume!(lengths.iter().sum::<u64>() > 0);
            let info = info_of(&lengths);
            let all = [FilePriority::Skip, FilePriority::Low, FilePriority::Normal, FilePriority::High];
            let prios: Vec<FilePriority> = files.iter().map(|f| all[f.1 as usize]).collect();
            let pieces = piece_priorities(&info, &prios);
            proptest::prop_assert_eq!(pieces.len(), info.piece_count() as usize);
            for (i, p) in prios.iter().enumerate() {
                for piece in info.file_pieces(i) {
                    proptest::prop_assert!(pieces[piece as usize] >= p.level());
                }
            }
            for (piece, &level) in pieces.iter().enumerate() {
                let best = info
                    .file_spans(piece as u32)
                    .map(|s| prios[s.file_index].level())
                    .max()
                    .unwrap_or(0);
                proptest::prop_assert_eq!(level, best, "piece {}", piece);
            }
        }
    }

    #[test]
    fn progress_counts_bytes_of_verified_pieces_per_file() {
        let (_t, info) = info();
        let mut have = Bitfield::new(info.piece_count() as usize);
        have.set(2, true);
        let p = file_progress(&info, &have, &[]);
        // Piece 2 = bytes 32768..49152: the end of a, the start of b1 (at 40000).
        assert_eq!(p[0].verified_bytes, 40_000 - 32_768);
        assert_eq!(p[2].verified_bytes, 49_152 - 40_000);
        assert_eq!(p[1].verified_bytes, 0);
        assert!(p[1].is_complete(), "an empty file is always complete");
        assert!(!p[0].is_complete());
    }
}
