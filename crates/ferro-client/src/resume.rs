//! Resume data: which pieces were verified, and the size and mtime of every
//! file when that was true, so a restart neither downloads nor re-hashes
//! what is already there. A file whose size or mtime changed since is
//! rechecked (its pieces only); a missing or unreadable resume file means a
//! full recheck.
//!
//! The file is bencoded (`d5:filesl...e9:info-hash20:...6:pieces...e`) and
//! written atomically (a temporary file renamed over the old one).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::time::UNIX_EPOCH;

use ferro_core::InfoHash;
use ferro_metainfo::Info;
use ferro_wire::Bitfield;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::storage::Storage;

/// Trusted pieces hashed anyway at start (at most this many)...
const SPOT_CHECKS: usize = 16;
/// ...and at most this many bytes of them.
const SPOT_CHECK_BYTES: u64 = 64 * 1024 * 1024;

/// Where a torrent's resume file lives: inside the download directory, so
/// Ferro writes nowhere else.
pub fn resume_path(download_dir: &Path, info_hash: &InfoHash) -> PathBuf {
    download_dir
        .join(".ferro")
        .join(format!("{}.resume", info_hash.to_hex()))
}

/// One file's identity when the resume data was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch (0 if unknown).
    pub mtime_ns: i64,
}

/// A file modified this close before the resume data was captured is "hot":
/// pieces verified after the bitfield was taken, or written again within
/// one tick of the file system's clock, can be on disk without a visible
/// change of the stamp, so its pieces outside the bitfield are hashed.
const HOT_NS: i64 = 2_000_000_000;

/// The stamp of a file that does not exist (a skipped file never created).
const NO_FILE: FileStamp = FileStamp {
    size: 0,
    mtime_ns: 0,
};

/// The persisted state of one torrent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeData {
    /// The torrent.
    #[serde(rename = "info-hash", with = "ferro_bencode::bytes")]
    pub info_hash: Vec<u8>,
    /// Verified pieces, as a BEP 3 bitfield.
    #[serde(with = "ferro_bencode::bytes")]
    pub pieces: Vec<u8>,
    /// Stamps of the torrent's files in order (padding files: size 0, mtime 0).
    pub files: Vec<FileStamp>,
    /// File priorities ([`FilePriority::level`](crate::FilePriority::level))
    /// in torrent order; absent (empty) in files written before selection
    /// existed, which means every file is wanted.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "ferro_bencode::bytes"
    )]
    pub priorities: Vec<u8>,
    /// When the data was captured, nanoseconds since the Unix epoch (0:
    /// unknown, as in files written before this field existed).
    #[serde(rename = "saved-ns", default, skip_serializing_if = "is_zero")]
    pub saved_ns: i64,
}

/// Leaves `saved-ns` out when unknown: old files re-encode as they were.
fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// The stamp of a file on disk now (`None` when it cannot be read).
pub fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Some(FileStamp {
        size: meta.len(),
        mtime_ns,
    })
}

impl ResumeData {
    /// Resume data for `have`, stamping the files at `paths` (None = padding).
    pub fn capture(info_hash: &InfoHash, have: &Bitfield, paths: &[Option<PathBuf>]) -> Self {
        // Taken before the files are stamped: a write after this instant is
        // either seen in a stamp or makes the file hot.
        let saved_ns = std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        ResumeData {
            info_hash: info_hash.as_bytes().to_vec(),
            pieces: have.as_bytes().to_vec(),
            files: paths
                .iter()
                .map(|p| {
                    p.as_deref().and_then(stamp).unwrap_or(FileStamp {
                        size: 0,
                        mtime_ns: 0,
                    })
                })
                .collect(),
            priorities: Vec::new(),
            saved_ns,
        }
    }

    /// Records the file priorities (see [`file_priorities`](Self::file_priorities)).
    pub fn with_priorities(mut self, priorities: &[crate::FilePriority]) -> Self {
        self.priorities = priorities.iter().map(|p| p.level()).collect();
        self
    }

    /// The saved file priorities, if any were saved for `file_count` files
    /// (untrusted: a list of another length is ignored, any byte is a priority).
    pub fn file_priorities(&self, file_count: usize) -> Option<Vec<crate::FilePriority>> {
        (!self.priorities.is_empty() && self.priorities.len() == file_count).then(|| {
            self.priorities
                .iter()
                .map(|&b| crate::FilePriority::from_level(b))
                .collect()
        })
    }

    /// Writes the file atomically.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let bytes = ferro_bencode::to_bytes(self).map_err(|e| Error::Resume {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        }
        let tmp = path.with_extension("resume.tmp");
        if let Err(e) = std::fs::write(&tmp, &bytes) {
            // A full disk leaves a partial temporary file: remove it; the
            // previous resume file stays whole.
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io("write", &tmp, e));
        }
        std::fs::rename(&tmp, path).map_err(|e| Error::io("rename", path, e))
    }

    /// Parses resume data (untrusted: a damaged file is an error, never a panic).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        ferro_bencode::from_bytes(bytes).map_err(|e| e.to_string())
    }

    /// The bencoded form written by [`save`](Self::save).
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        ferro_bencode::to_bytes(self).map_err(|e| e.to_string())
    }

    /// Reads a resume file; `Ok(None)` when there is none.
    pub fn load(path: &Path) -> Result<Option<Self>, Error> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read", path, e)),
        };
        Self::from_bytes(&bytes)
            .map(Some)
            .map_err(|reason| Error::Resume {
                path: path.to_owned(),
                reason,
            })
    }

    /// Splits the torrent's pieces: those to trust as verified without
    /// hashing, and those to hash. A piece is trusted when the resume data
    /// says it was verified and none of its files changed since; everything
    /// else that has a chance of being on disk is hashed.
    pub fn plan(
        &self,
        info: &Info,
        paths: &[Option<PathBuf>],
    ) -> Result<(Bitfield, Vec<u32>), String> {
        if self.info_hash != info.info_hash().as_bytes() {
            return Err("resume data is for another torrent".into());
        }
        if self.files.len() != info.files().len() {
            return Err("file count differs".into());
        }
        let pieces = info.piece_count() as usize;
        let saved = Bitfield::from_bytes(&self.pieces, pieces).map_err(|e| e.to_string())?;
        let changed: Vec<bool> = paths
            .iter()
            .zip(&self.files)
            .map(|(p, s)| match p {
                None => false,
                // A skipped file never created was stamped 0/0 and still is.
                Some(p) => stamp(p).unwrap_or(NO_FILE) != *s,
            })
            .collect();
        let hot: Vec<bool> = self
            .files
            .iter()
            .map(|s| {
                self.saved_ns != 0
                    && s.mtime_ns != 0
                    && s.mtime_ns >= self.saved_ns.saturating_sub(HOT_NS)
            })
            .collect();
        let mut trusted = Bitfield::new(pieces);
        let mut to_hash = Vec::new();
        for piece in 0..info.piece_count() {
            let touches = |of: &[bool]| {
                info.file_spans(piece)
                    .any(|s| of.get(s.file_index).copied().unwrap_or(true))
            };
            let touches_changed = touches(&changed);
            if saved.get(piece) && !touches_changed {
                trusted.set(piece, true);
            } else if touches_changed || touches(&hot) {
                to_hash.push(piece);
            }
        }
        Ok((trusted, to_hash))
    }
}

impl ResumeData {
    /// The startup check of `storage` with this resume data: the pieces
    /// [`plan`](Self::plan) trusts, plus those found by hashing the rest.
    /// Returns the verified pieces and how many were hashed, or `None` when
    /// the resume data cannot be used (another torrent, a wrong piece or
    /// file count, or a claimed piece whose data is wrong) and the caller
    /// must recheck everything.
    ///
    /// The size/mtime stamps catch every change made through the file
    /// system's clock, but not data lost with its stamp intact (restored
    /// mtimes, a copy that keeps times, a crafted file): a few trusted
    /// pieces, evenly spaced, are hashed too ([`spot_checks`]), and one
    /// wrong piece among them discredits the whole file.
    pub fn check(
        &self,
        storage: &Storage,
        threads: usize,
        progress: &AtomicU64,
    ) -> Result<Option<(Bitfield, u32)>, Error> {
        let (mut trusted, mut to_hash) = match self.plan(storage.info(), storage.paths()) {
            Ok(plan) => plan,
            Err(reason) => {
                tracing::warn!(%reason, "resume data not used: full recheck");
                return Ok(None);
            }
        };
        let spots = spot_checks(&trusted, storage.info().piece_length());
        to_hash.extend(&spots);
        let found = storage.recheck(Some(&to_hash), threads, progress)?;
        if let Some(bad) = spots.iter().find(|p| !found.get(**p)) {
            tracing::warn!(
                piece = bad,
                "resume data claims a piece whose data is wrong: full recheck"
            );
            return Ok(None);
        }
        for p in found.iter_ones() {
            trusted.set(p, true);
        }
        Ok(Some((trusted, to_hash.len() as u32)))
    }
}

/// Up to 16 pieces of `trusted` (and at most 64 MiB of them),
/// evenly spaced over them, always including the first and the last.
pub fn spot_checks(trusted: &Bitfield, piece_length: u64) -> Vec<u32> {
    let ones: Vec<u32> = trusted.iter_ones().collect();
    let n = SPOT_CHECKS
        .min((SPOT_CHECK_BYTES / piece_length.max(1)).max(1) as usize)
        .min(ones.len());
    let mut out: Vec<u32> = (0..n)
        .filter_map(|i| ones.get(i * (ones.len() - 1) / (n - 1).max(1)).copied())
        .collect();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferro_metainfo::TorrentBuilder;

    /// Files `d/a` and `d/b` (40 000 bytes each) under `root`, their
    /// 16 KiB-piece torrent's info and each file's path.
    fn two_files(root: &Path) -> (Info, Vec<Option<PathBuf>>) {
        let dir = root.join("d");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("a"), vec![1u8; 40_000]).unwrap();
        std::fs::write(dir.join("b"), vec![2u8; 40_000]).unwrap();
        let info = TorrentBuilder::new(&dir)
            .piece_length(16384)
            .build()
            .unwrap()
            .metainfo
            .info;
        let paths = info
            .files()
            .iter()
            .map(|f| Some(root.join(&f.path)))
            .collect();
        (info, paths)
    }

    #[test]
    fn round_trip_and_plan() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        let (info, paths) = two_files(tmp.path());
        let mut have = Bitfield::new(info.piece_count() as usize);
        have.set(0, true);
        have.set(4, true);
        let mut data = ResumeData::capture(&info.info_hash(), &have, &paths);
        // Hot files are the next test's subject: here the data was captured
        // long after the files were last written.
        data.saved_ns += 10 * HOT_NS;
        let path = resume_path(tmp.path(), &info.info_hash());
        data.save(&path).unwrap();
        let loaded = ResumeData::load(&path).unwrap().unwrap();
        assert_eq!(loaded, data);
        // Nothing changed: trust the saved pieces, hash nothing.
        let (trusted, to_hash) = loaded.plan(&info, &paths).unwrap();
        assert_eq!(trusted.iter_ones().collect::<Vec<_>>(), vec![0, 4]);
        assert!(to_hash.is_empty());
        // File b changes: its pieces (2 to 4; 2 is shared with a) are hashed.
        std::fs::write(dir.join("b"), vec![3u8; 40_001]).unwrap();
        let (trusted, to_hash) = loaded.plan(&info, &paths).unwrap();
        assert_eq!(trusted.iter_ones().collect::<Vec<_>>(), vec![0]);
        assert_eq!(to_hash, vec![2, 3, 4]);
        assert!(
            ResumeData::load(&tmp.path().join("none"))
                .unwrap()
                .is_none()
        );
        std::fs::write(&path, b"garbage").unwrap();
        assert!(ResumeData::load(&path).is_err());
    }

    #[test]
    fn spot_checks_are_spread_and_bounded() {
        let mut have = Bitfield::new(1000);
        assert!(spot_checks(&have, 16384).is_empty());
        have.set(7, true);
        assert_eq!(spot_checks(&have, 16384), vec![7]);
        for p in 100..1000 {
            have.set(p, true);
        }
        let s = spot_checks(&have, 16384);
        assert_eq!(s.len(), SPOT_CHECKS);
        assert_eq!(s.first(), Some(&7));
        assert_eq!(s.last(), Some(&999));
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        // Huge pieces: the byte cap wins, one piece at least.
        assert_eq!(spot_checks(&have, 32 * 1024 * 1024).len(), 2);
        assert_eq!(spot_checks(&have, 1 << 40).len(), 1);
    }

    #[test]
    fn pieces_outside_the_bitfield_of_a_hot_file_are_hashed() {
        let tmp = tempfile::tempdir().unwrap();
        let (info, paths) = two_files(tmp.path());
        let mut have = Bitfield::new(info.piece_count() as usize);
        have.set(0, true);
        // Both files were written just now: a piece verified after the
        // bitfield was taken could be on disk with the stamps unchanged.
        let data = ResumeData::capture(&info.info_hash(), &have, &paths);
        let again = ResumeData::from_bytes(&data.to_bytes().unwrap()).unwrap();
        assert_eq!(again, data);
        let (trusted, to_hash) = again.plan(&info, &paths).unwrap();
        assert_eq!(trusted.iter_ones().collect::<Vec<_>>(), vec![0]);
        assert_eq!(to_hash, vec![1, 2, 3, 4]);
        // Files written long before the capture: nothing to hash.
        let mut cold = data.clone();
        cold.saved_ns += 10 * HOT_NS;
        assert!(cold.plan(&info, &paths).unwrap().1.is_empty());
        // Resume files from before the field: never hot.
        let mut old = data;
        old.saved_ns = 0;
        assert!(old.plan(&info, &paths).unwrap().1.is_empty());
    }
}
