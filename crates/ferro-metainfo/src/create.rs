//! Making a .torrent from a file or a directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ferro_bencode::OwnedValue;

use crate::hash::{Source, hash_pieces};
use crate::layout::{FileAttr, FileEntry};
use crate::path::check_component;
use crate::{Error, Metainfo};

/// Smallest piece length the builder uses or accepts: one 16 KiB block.
pub const MIN_PIECE_LENGTH: u64 = 16 << 10;
/// Largest piece length chosen automatically.
pub const MAX_AUTO_PIECE_LENGTH: u64 = 16 << 20;
/// Largest piece length accepted (the parser's default limit).
pub const MAX_PIECE_LENGTH: u64 = 256 << 20;

/// The piece length [`TorrentBuilder`] picks for `total_length` bytes: the
/// smallest power of two from 16 KiB to 16 MiB that keeps the torrent at or
/// below 2,000 pieces, so torrents between 16 MiB and 32 GiB get 1,000 to
/// 2,000 pieces (a small `pieces` string, yet fine-grained verification).
pub fn auto_piece_length(total_length: u64) -> u64 {
    let mut len = MIN_PIECE_LENGTH;
    while len < MAX_AUTO_PIECE_LENGTH && total_length.div_ceil(len) > 2000 {
        len *= 2;
    }
    len
}

/// The sum of the file lengths, at most `i64::MAX` (what bencode and the
/// parser accept). Sparse files can claim any size, so the sum is checked;
/// below that bound the offsets with BEP 47 padding (under 256 MiB a file)
/// cannot overflow a `u64` either.
fn total_length(lengths: impl IntoIterator<Item = u64>) -> Result<u64, Error> {
    lengths
        .into_iter()
        .try_fold(0u64, u64::checked_add)
        .filter(|&t| t <= i64::MAX as u64)
        .ok_or(Error::TotalLengthOverflow)
}

/// Builds a .torrent from a file (single-file torrent) or a directory
/// (multi-file torrent), hashing on all cores.
///
/// Output is deterministic: files are sorted by path (component by
/// component, byte order), keys are sorted, and nothing time-dependent is
/// written unless [`TorrentBuilder::creation_date`] is set. Symbolic links
/// and special files inside a directory are skipped; hidden files are kept;
/// file and directory names must be UTF-8 ([`Error::BadPathComponent`] otherwise).
///
/// ```no_run
/// use ferro_metainfo::TorrentBuilder;
/// let made = TorrentBuilder::new("my-album")
///     .tracker("http://tracker.example/announce")
///     .comment("my album")
///     .build()?;
/// std::fs::write("my-album.torrent", &made.bytes).ok();
/// println!("{}", made.metainfo.info_hash());
/// # Ok::<(), ferro_metainfo::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct TorrentBuilder {
    path: PathBuf,
    name: Option<String>,
    piece_length: Option<u64>,
    trackers: Vec<Vec<String>>,
    web_seeds: Vec<String>,
    private: bool,
    comment: Option<String>,
    created_by: Option<String>,
    creation_date: Option<i64>,
    pad: bool,
    threads: Option<usize>,
}

/// A torrent made by [`TorrentBuilder`].
#[derive(Debug, Clone)]
pub struct CreatedTorrent {
    /// The .torrent file's bytes.
    pub bytes: Vec<u8>,
    /// The same torrent, parsed back.
    pub metainfo: Metainfo,
}

impl TorrentBuilder {
    /// A builder for the file or directory at `path`, with defaults: automatic
    /// piece length, no trackers, public, no padding, no date, all cores.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TorrentBuilder {
            path: path.into(),
            name: None,
            piece_length: None,
            trackers: Vec::new(),
            web_seeds: Vec::new(),
            private: false,
            comment: None,
            created_by: None,
            creation_date: None,
            pad: false,
            threads: None,
        }
    }

    /// The torrent's `name` (default: the file or directory name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A fixed piece length: a power of two from 16 KiB to 256 MiB
    /// (default: [`auto_piece_length`]).
    pub fn piece_length(mut self, len: u64) -> Self {
        self.piece_length = Some(len);
        self
    }

    /// Adds a tracker in a tier of its own (BEP 12: tiers are tried in order).
    pub fn tracker(mut self, url: impl Into<String>) -> Self {
        self.trackers.push(vec![url.into()]);
        self
    }

    /// Adds a tier of trackers (tried in random order by clients).
    pub fn tracker_tier(mut self, urls: Vec<String>) -> Self {
        if !urls.is_empty() {
            self.trackers.push(urls);
        }
        self
    }

    /// Adds a web seed (BEP 19 `url-list`).
    pub fn web_seed(mut self, url: impl Into<String>) -> Self {
        self.web_seeds.push(url.into());
        self
    }

    /// Sets the BEP 27 `private` flag.
    pub fn private(mut self, private: bool) -> Self {
        self.private = private;
        self
    }

    /// Sets `comment`.
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// Sets `created by`.
    pub fn created_by(mut self, created_by: impl Into<String>) -> Self {
        self.created_by = Some(created_by.into());
        self
    }

    /// Sets `creation date` (seconds since the Unix epoch); unset by default
    /// so that the same files give the same bytes.
    pub fn creation_date(mut self, secs: i64) -> Self {
        self.creation_date = Some(secs);
        self
    }

    /// BEP 47: insert padding files so every file starts on a piece boundary
    /// (pieces then never mix two files, which helps partial downloads and
    /// deduplication).
    pub fn pad_files(mut self, pad: bool) -> Self {
        self.pad = pad;
        self
    }

    /// Hashing threads (default: all cores).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    /// Reads and hashes the files and returns the torrent.
    pub fn build(&self) -> Result<CreatedTorrent, Error> {
        self.build_with_progress(&|_, _| {})
    }

    /// [`TorrentBuilder::build`], calling `progress(hashed_bytes, total_bytes)`
    /// after each piece, from the hashing threads.
    pub fn build_with_progress(
        &self,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<CreatedTorrent, Error> {
        let meta = std::fs::metadata(&self.path).map_err(|e| io(&self.path, e))?;
        let name = match &self.name {
            Some(n) => n.clone(),
            None => default_name(&self.path)?,
        };
        check_component(&name, || name.clone())?;

        // (relative components, length, path on disk), sorted.
        let found: Vec<(Vec<String>, u64, PathBuf)> = if meta.is_dir() {
            let mut found = Vec::new();
            walk(&self.path, &mut Vec::new(), &mut found)?;
            found.sort_by(|a, b| a.0.cmp(&b.0));
            found
        } else {
            vec![(Vec::new(), meta.len(), self.path.clone())]
        };
        let total = total_length(found.iter().map(|f| f.1))?;
        if total == 0 {
            return Err(Error::NoData);
        }
        let piece_length = match self.piece_length {
            None => auto_piece_length(total),
            Some(l)
                if l.is_power_of_two() && (MIN_PIECE_LENGTH..=MAX_PIECE_LENGTH).contains(&l) =>
            {
                l
            }
            Some(l) => {
                return Err(Error::InvalidOption(format!(
                    "piece length {l}: must be a power of two from 16 KiB to 256 MiB"
                )));
            }
        };

        // Lay the files out, with BEP 47 padding before each unaligned file.
        let mut entries = Vec::new();
        let mut components = Vec::new();
        let mut disk_paths = Vec::new();
        let mut offset = 0u64;
        for (comps, length, disk) in found {
            let misaligned = offset % piece_length;
            if self.pad && length > 0 && misaligned != 0 && meta.is_dir() {
                let pad = piece_length - misaligned;
                entries.push(FileEntry {
                    path: PathBuf::from(".pad").join(pad.to_string()),
                    length: pad,
                    offset,
                    attr: FileAttr {
                        padding: true,
                        ..FileAttr::default()
                    },
                });
                components.push(vec![".pad".to_owned(), pad.to_string()]);
                disk_paths.push(PathBuf::new());
                offset += pad;
            }
            entries.push(FileEntry {
                path: comps.iter().collect(),
                length,
                offset,
                attr: FileAttr::default(),
            });
            components.push(comps);
            disk_paths.push(disk);
            offset += length;
        }
        let src = Source {
            files: &entries,
            disk_paths: &disk_paths,
            piece_length,
            total_length: offset,
        };
        let threads = self
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        let pieces = hash_pieces(&src, threads, progress)?;

        let info = self.info_dict(
            &name,
            meta.is_dir(),
            &entries,
            &components,
            piece_length,
            &pieces,
        )?;
        let raw = info.encode();
        let metainfo = Metainfo {
            info: crate::Info::from_bytes(&raw)?,
            announce: None,
            trackers: self
                .trackers
                .iter()
                .filter(|t| !t.is_empty())
                .cloned()
                .collect(),
            web_seeds: self.web_seeds.clone(),
            http_seeds: Vec::new(),
            creation_date: self.creation_date,
            comment: self.comment.clone(),
            created_by: self.created_by.clone(),
        };
        let bytes = metainfo.to_bytes();
        // Parse the result back, so the returned value is exactly what a reader sees.
        let metainfo = Metainfo::from_bytes(&bytes)?;
        Ok(CreatedTorrent { bytes, metainfo })
    }

    fn info_dict(
        &self,
        name: &str,
        multi: bool,
        entries: &[FileEntry],
        components: &[Vec<String>],
        piece_length: u64,
        pieces: &[[u8; 20]],
    ) -> Result<OwnedValue, Error> {
        let int = |v: u64| {
            i64::try_from(v)
                .map(OwnedValue::Int)
                .map_err(|_| Error::TotalLengthOverflow)
        };
        let mut info = BTreeMap::new();
        if multi {
            let mut files = Vec::with_capacity(entries.len());
            for (entry, comps) in entries.iter().zip(components) {
                let mut f = BTreeMap::new();
                let attr = entry.attr.to_bytes();
                if !attr.is_empty() {
                    f.insert(b"attr".to_vec(), OwnedValue::Bytes(attr));
                }
                f.insert(b"length".to_vec(), int(entry.length)?);
                let path = comps.iter().map(|c| OwnedValue::from(c.as_str())).collect();
                f.insert(b"path".to_vec(), OwnedValue::List(path));
                files.push(OwnedValue::Dict(f));
            }
            info.insert(b"files".to_vec(), OwnedValue::List(files));
        } else {
            let length = entries.first().map_or(0, |e| e.length);
            info.insert(b"length".to_vec(), int(length)?);
        }
        info.insert(b"name".to_vec(), OwnedValue::from(name));
        info.insert(b"piece length".to_vec(), int(piece_length)?);
        info.insert(b"pieces".to_vec(), OwnedValue::Bytes(pieces.concat()));
        if self.private {
            info.insert(b"private".to_vec(), OwnedValue::Int(1));
        }
        Ok(OwnedValue::Dict(info))
    }
}

fn default_name(path: &Path) -> Result<String, Error> {
    let named = match path.file_name() {
        Some(n) => n.to_os_string(),
        // `.` or `dir/..`: name it after the directory it resolves to.
        None => std::fs::canonicalize(path)
            .map_err(|e| io(path, e))?
            .file_name()
            .map(|n| n.to_os_string())
            .ok_or_else(|| {
                Error::InvalidOption(format!("cannot name a torrent of {}", path.display()))
            })?,
    };
    named
        .into_string()
        .map_err(|n| Error::BadPathComponent(n.to_string_lossy().into_owned()))
}

/// Collects the regular files under `dir` with their components relative to the root.
fn walk(
    dir: &Path,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, u64, PathBuf)>,
) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| io(&path, e))?;
        let name = entry
            .file_name()
            .into_string()
            .map_err(|n| Error::BadPathComponent(n.to_string_lossy().into_owned()))?;
        prefix.push(name);
        if kind.is_dir() {
            walk(&path, prefix, out)?;
        } else if kind.is_file() {
            let len = entry.metadata().map_err(|e| io(&path, e))?.len();
            out.push((prefix.clone(), len, path));
        }
        prefix.pop();
    }
    Ok(())
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_length_is_checked() {
        assert_eq!(total_length([1, 2, 3]).unwrap(), 6);
        assert_eq!(total_length([i64::MAX as u64]).unwrap(), i64::MAX as u64);
        for lengths in [vec![u64::MAX, 1], vec![i64::MAX as u64, 1]] {
            assert!(matches!(
                total_length(lengths),
                Err(Error::TotalLengthOverflow)
            ));
        }
    }
}
