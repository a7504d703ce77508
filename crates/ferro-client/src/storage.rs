//! Disk storage: the torrent's pieces mapped onto its files.
//!
//! BEP 3 lays a torrent's files end to end and cuts the result into pieces;
//! [`Info::file_spans`] says which bytes of which files a piece covers. BEP 47
//! padding files take part in the layout (their bytes are zeros in every
//! piece hash) but are never created or written. Every file is created under
//! the download directory through the metainfo's checked relative paths and
//! [`safe_join`], so a torrent cannot make Ferro write elsewhere.
//!
//! With file selection ([`Storage::open_selected`]) a skipped file is not
//! created; it reads as zeros, and is created (sparse, at its full length)
//! the first time a piece it shares with a wanted file is written, or when
//! it is wanted later ([`Storage::ensure_file`]). See [`crate::selection`].
//!
//! All calls here are blocking (positional `read_at`/`write_at`); async code
//! calls them through `tokio::task::spawn_blocking`.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ferro_metainfo::{Info, safe_join};
use ferro_wire::Bitfield;
use sha1::{Digest, Sha1};

use crate::Error;

mod direct;
mod pool;

pub(crate) use pool::PieceData;

/// Spare piece buffers kept for reuse, in bytes (see [`pool`]).
const POOL_BYTES: usize = 32 * 1024 * 1024;

/// Files kept open at once; past this, handles are opened per operation.
const MAX_OPEN_FILES: usize = 512;

/// A torrent's data on disk.
#[derive(Debug)]
pub struct Storage {
    info: Arc<Info>,
    /// Disk path of each file of `info.files()`; `None` for padding files.
    paths: Vec<Option<PathBuf>>,
    /// Open handles, by file index.
    open: Mutex<Vec<Option<Arc<File>>>>,
    /// Whether the files could be opened for writing (seeding from a
    /// read-only directory works without).
    writable: bool,
    /// Whether any file held data before (if not, there is nothing to check).
    existing_data: bool,
    /// Whether each file exists on disk (skipped files are created lazily).
    created: Vec<AtomicBool>,
    /// Direct (`O_DIRECT`) writes of verified pieces.
    direct: direct::DirectWriter,
    /// Piece buffers for reuse.
    pool: pool::BufferPool,
}

impl Storage {
    /// Creates (or opens) every non-padding file of `info` under `dir`:
    /// missing directories are made, zero-length files created, shorter files
    /// extended (sparse) to their length. Existing data is kept.
    pub fn open(info: Arc<Info>, dir: &Path) -> Result<Storage, Error> {
        Self::open_selected(info, dir, &[])
    }

    /// Like [`open`](Self::open), except that a file whose entry in `wanted`
    /// is `false` (a skipped file) is not created if it does not exist yet;
    /// it is created when first written or by [`ensure_file`](Self::ensure_file).
    /// Files without an entry are wanted.
    pub fn open_selected(info: Arc<Info>, dir: &Path, wanted: &[bool]) -> Result<Storage, Error> {
        let mut paths = Vec::with_capacity(info.files().len());
        let mut created = Vec::with_capacity(info.files().len());
        let mut writable = true;
        let mut existing_data = false;
        for (i, f) in info.files().iter().enumerate() {
            if f.is_padding() {
                paths.push(None);
                created.push(AtomicBool::new(false));
                continue;
            }
            let path = safe_join(dir, &f.path)?;
            let skipped = !wanted.get(i).copied().unwrap_or(true);
            created.push(AtomicBool::new(!skipped || path.exists()));
            if skipped && !path.exists() {
                paths.push(Some(path));
                continue;
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
            }
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
            {
                Ok(file) => {
                    let len = file
                        .metadata()
                        .map_err(|e| Error::io("stat", &path, e))?
                        .len();
                    existing_data |= len > 0;
                    if len < f.length {
                        file.set_len(f.length)
                            .map_err(|e| Error::io("allocate", &path, e))?;
                    }
                }
                // A read-only file of complete data can still be seeded
                // (a read-only mount says so even to root).
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::PermissionDenied
                            | std::io::ErrorKind::ReadOnlyFilesystem
                    ) && path.is_file() =>
                {
                    writable = false;
                    existing_data = true;
                }
                Err(e) => return Err(Error::io("create", &path, e)),
            }
            paths.push(Some(path));
        }
        let count = paths.len();
        Ok(Storage {
            info,
            paths,
            open: Mutex::new(vec![None; count]),
            writable,
            existing_data,
            created,
            direct: direct::DirectWriter::new(count, true),
            pool: pool::BufferPool::new(POOL_BYTES),
        })
    }

    /// Whether file `index` exists on disk (a skipped file may not).
    pub fn is_created(&self, index: usize) -> bool {
        self.created
            .get(index)
            .is_some_and(|c| c.load(Ordering::Acquire))
    }

    /// Creates file `index` (sparse, at its full length, with its
    /// directories) if it does not exist yet: a skipped file that became
    /// wanted. Padding files and read-only storage are left alone.
    pub fn ensure_file(&self, index: usize) -> Result<(), Error> {
        if !self.writable || self.is_created(index) {
            return Ok(());
        }
        let (Some(Some(path)), Some(entry)) = (self.paths.get(index), self.info.files().get(index))
        else {
            return Ok(());
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io("create", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io("stat", path, e))?
            .len();
        if len < entry.length {
            file.set_len(entry.length)
                .map_err(|e| Error::io("allocate", path, e))?;
        }
        if let Some(c) = self.created.get(index) {
            c.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// File `index` if it exists on disk (`None`: a skipped file never
    /// written, which reads as zeros).
    fn existing_file(&self, index: usize) -> Result<Option<Arc<File>>, Error> {
        if self.is_created(index) {
            return self.file(index).map(Some);
        }
        Ok(None)
    }

    /// Whether any file already held data when opened (a fresh download
    /// needs no recheck).
    pub fn had_existing_data(&self) -> bool {
        self.existing_data
    }

    /// The torrent's `info`.
    pub fn info(&self) -> &Arc<Info> {
        &self.info
    }

    /// Disk paths of the files, `None` for padding files, in torrent order.
    pub fn paths(&self) -> &[Option<PathBuf>] {
        &self.paths
    }

    fn file(&self, index: usize) -> Result<Arc<File>, Error> {
        let Some(Some(path)) = self.paths.get(index) else {
            return Err(Error::Internal(format!(
                "no disk file for file index {index}"
            )));
        };
        let mut open = self
            .open
            .lock()
            .map_err(|_| Error::Internal("storage lock poisoned".into()))?;
        if let Some(Some(f)) = open.get(index) {
            return Ok(f.clone());
        }
        // A skipped file is created when a piece it shares with a wanted
        // file is written (under the lock: one creation per file).
        self.ensure_file(index)?;
        let file = OpenOptions::new()
            .read(true)
            .write(self.writable)
            .open(path)
            .map_err(|e| Error::io("open", path, e))?;
        let file = Arc::new(file);
        let cached = open.iter().filter(|f| f.is_some()).count();
        if cached < MAX_OPEN_FILES
            && let Some(slot) = open.get_mut(index)
        {
            *slot = Some(file.clone());
        }
        Ok(file)
    }

    fn path_of(&self, index: usize) -> PathBuf {
        self.paths.get(index).cloned().flatten().unwrap_or_default()
    }

    /// Reads `buf.len()` bytes of the torrent's data at `offset`. Padding
    /// reads as zeros, and so do bytes past the end of a short file.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        buf.fill(0);
        for span in self.info.range_spans(offset, buf.len() as u64) {
            let Some(entry) = self.info.files().get(span.file_index) else {
                continue;
            };
            let at = (entry.offset + span.file_offset - offset) as usize;
            let Some(dst) = buf.get_mut(at..at + span.len as usize) else {
                continue;
            };
            // A skipped file not created yet reads as zeros.
            let Some(file) = self.existing_file(span.file_index)? else {
                continue;
            };
            read_full(&file, dst, span.file_offset)
                .map_err(|e| Error::io("read", self.path_of(span.file_index), e))?;
        }
        Ok(())
    }

    /// Writes `data` at the torrent offset `offset`, skipping padding files.
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<(), Error> {
        if !self.writable {
            // Say why, rather than the "bad file descriptor" of a write
            // through a handle opened read-only.
            let at = self.info.range_spans(offset, 1).next();
            let path = at.map(|s| self.path_of(s.file_index)).unwrap_or_default();
            return Err(Error::io(
                "write",
                path,
                std::io::Error::new(
                    std::io::ErrorKind::ReadOnlyFilesystem,
                    "the torrent's files are read-only (opened for seeding only)",
                ),
            ));
        }
        for span in self.info.range_spans(offset, data.len() as u64) {
            let Some(entry) = self.info.files().get(span.file_index) else {
                continue;
            };
            let at = (entry.offset + span.file_offset - offset) as usize;
            let Some(src) = data.get(at..at + span.len as usize) else {
                continue;
            };
            let file = self.file(span.file_index)?;
            let path = self.path_of(span.file_index);
            self.direct
                .write(span.file_index, &path, &file, src, span.file_offset)
                .map_err(|e| Error::io("write", path, e))?;
        }
        Ok(())
    }

    /// A buffer of `len` bytes for assembling a piece; its contents are
    /// unspecified (an earlier piece's bytes): fill all of it before use.
    pub(crate) fn piece_buffer(&self, len: usize) -> PieceData {
        self.pool.take(len)
    }

    /// Returns a piece buffer for reuse once its piece is written or rejected.
    pub(crate) fn recycle(&self, buf: PieceData) {
        self.pool.give(buf);
    }

    /// Reads all of piece `piece`.
    pub fn read_piece(&self, piece: u32) -> Result<Vec<u8>, Error> {
        let (offset, size) = self.piece_range(piece)?;
        let mut buf = vec![0u8; size as usize];
        self.read(offset, &mut buf)?;
        Ok(buf)
    }

    /// Writes a whole piece.
    pub fn write_piece(&self, piece: u32, data: &[u8]) -> Result<(), Error> {
        let (offset, size) = self.piece_range(piece)?;
        if data.len() as u64 != size {
            return Err(Error::Internal(format!(
                "piece {piece} is {size} bytes, got {}",
                data.len()
            )));
        }
        self.write(offset, data)
    }

    fn piece_range(&self, piece: u32) -> Result<(u64, u64), Error> {
        match (self.info.piece_offset(piece), self.info.piece_size(piece)) {
            (Some(o), Some(s)) => Ok((o, s)),
            _ => Err(Error::Internal(format!("piece {piece} out of range"))),
        }
    }

    /// Whether `data` is piece `piece` (its SHA-1 matches the metainfo's).
    pub fn piece_matches(&self, piece: u32, data: &[u8]) -> bool {
        let digest: [u8; 20] = Sha1::digest(data).into();
        self.info.piece_hash(piece) == Some(&digest)
    }

    /// Whether piece `piece` on disk matches its hash.
    pub fn check_piece(&self, piece: u32) -> Result<bool, Error> {
        let data = self.read_piece(piece)?;
        Ok(self.piece_matches(piece, &data))
    }

    /// Hashes the `pieces` given (all when `None`) on `threads` threads and
    /// returns the bitfield of those that match. `progress` counts pieces done.
    pub fn recheck(
        &self,
        pieces: Option<&[u32]>,
        threads: usize,
        progress: &AtomicU64,
    ) -> Result<Bitfield, Error> {
        let count = self.info.piece_count();
        let all: Vec<u32>;
        let list = match pieces {
            Some(p) => p,
            None => {
                all = (0..count).collect();
                &all
            }
        };
        let next = AtomicU32::new(0);
        let threads = threads.clamp(1, list.len().max(1));
        let results: Vec<Result<Vec<u32>, Error>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut good = Vec::new();
                        let mut buf = Vec::new();
                        // Bounded by the list length: each pass takes one index.
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                            let Some(&piece) = list.get(i) else { break };
                            let (offset, size) = self.piece_range(piece)?;
                            buf.resize(size as usize, 0);
                            self.read(offset, &mut buf)?;
                            if self.piece_matches(piece, &buf) {
                                good.push(piece);
                            }
                            progress.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(good)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|_| Err(Error::Internal("hashing thread panicked".into())))
                })
                .collect()
        });
        let mut have = Bitfield::new(count as usize);
        for r in results {
            for piece in r? {
                have.set(piece, true);
            }
        }
        Ok(have)
    }
}

/// Reads the requested blocks, one `pread` per run of adjacent blocks
/// (peers usually ask for a piece's blocks in order); each block is a
/// zero-copy slice of its run's buffer.
pub(crate) fn read_blocks(
    storage: &Storage,
    info: &Info,
    reqs: Vec<ferro_wire::BlockRequest>,
) -> Vec<(ferro_wire::BlockRequest, Result<bytes::Bytes, Error>)> {
    let offset_of =
        |r: &ferro_wire::BlockRequest| info.piece_offset(r.index).unwrap_or(0) + u64::from(r.begin);
    let mut out = Vec::with_capacity(reqs.len());
    let mut i = 0;
    // Bounded: each pass consumes at least one request.
    while let Some(first) = reqs.get(i) {
        let start = offset_of(first);
        let mut end = start + u64::from(first.length);
        let mut j = i + 1;
        while let Some(next) = reqs.get(j) {
            if offset_of(next) != end {
                break;
            }
            end += u64::from(next.length);
            j += 1;
        }
        let mut buf = vec![0u8; (end - start) as usize];
        match storage.read(start, &mut buf) {
            Ok(()) => {
                let run = bytes::Bytes::from(buf);
                for r in reqs.get(i..j).unwrap_or(&[]) {
                    let at = (offset_of(r) - start) as usize;
                    out.push((*r, Ok(run.slice(at..at + r.length as usize))));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for r in reqs.get(i..j).unwrap_or(&[]) {
                    out.push((*r, Err(Error::Internal(msg.clone()))));
                }
            }
        }
        i = j;
    }
    out
}

/// `read_exact_at`, except that bytes past the end of the file stay zero.
fn read_full(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    // Bounded: each pass reads at least one byte or stops.
    while !buf.is_empty() {
        match file.read_at(buf, offset) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Threads worth using for hashing on this machine.
pub fn hashing_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferro_metainfo::{Metainfo, TorrentBuilder};

    /// A multi-file torrent with a zero-length file and pieces crossing files.
    pub(crate) fn sample(dir: &Path, pad: bool) -> (Metainfo, Vec<(PathBuf, Vec<u8>)>) {
        let src = dir.join("src/album");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        let files = vec![
            (
                PathBuf::from("a.bin"),
                (0..40_000u32).map(|i| (i % 251) as u8).collect(),
            ),
            (PathBuf::from("empty"), Vec::new()),
            (
                PathBuf::from("sub/b.bin"),
                (0..70_001u32).map(|i| (i % 13) as u8).collect::<Vec<u8>>(),
            ),
            (PathBuf::from("z.bin"), vec![9u8; 5]),
        ];
        for (p, d) in &files {
            std::fs::write(src.join(p), d).unwrap();
        }
        let made = TorrentBuilder::new(&src)
            .piece_length(16384)
            .pad_files(pad)
            .build()
            .unwrap();
        (made.metainfo, files)
    }

    #[test]
    fn pieces_round_trip_across_files_and_padding() {
        for pad in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let (meta, files) = sample(tmp.path(), pad);
            let info = Arc::new(meta.info.clone());
            let source = Storage::open(info.clone(), &tmp.path().join("src")).unwrap();
            let out = tmp.path().join("out");
            let dest = Storage::open(info.clone(), &out).unwrap();
            // Zero-length file created, padding never.
            assert!(out.join("album/empty").is_file());
            assert!(
                !std::fs::read_dir(out.join("album"))
                    .unwrap()
                    .any(|e| { e.unwrap().file_name().to_string_lossy().contains("pad") })
            );
            let progress = AtomicU64::new(0);
            assert!(dest.recheck(None, 2, &progress).unwrap().none());
            for piece in (0..info.piece_count()).rev() {
                let data = source.read_piece(piece).unwrap();
                assert!(
                    source.piece_matches(piece, &data),
                    "piece {piece} pad {pad}"
                );
                dest.write_piece(piece, &data).unwrap();
            }
            assert!(dest.recheck(None, 3, &progress).unwrap().all());
            for (p, d) in &files {
                assert_eq!(&std::fs::read(out.join("album").join(p)).unwrap(), d);
            }
        }
    }

    #[test]
    fn recheck_finds_a_corrupt_piece() {
        let tmp = tempfile::tempdir().unwrap();
        let (meta, _) = sample(tmp.path(), false);
        let info = Arc::new(meta.info.clone());
        let s = Storage::open(info.clone(), &tmp.path().join("src")).unwrap();
        s.write(20_000, b"oops").unwrap();
        let have = s.recheck(None, 2, &AtomicU64::new(0)).unwrap();
        assert!(!have.get(1));
        assert_eq!(have.count_ones(), info.piece_count() as usize - 1);
        assert!(!s.check_piece(1).unwrap());
        assert!(s.check_piece(0).unwrap());
        let some = s.recheck(Some(&[0, 1]), 2, &AtomicU64::new(0)).unwrap();
        assert_eq!(some.iter_ones().collect::<Vec<_>>(), vec![0]);
    }

    #[test]
    fn out_of_range_piece_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let (meta, _) = sample(tmp.path(), false);
        let s = Storage::open(Arc::new(meta.info.clone()), &tmp.path().join("src")).unwrap();
        assert!(s.read_piece(1_000).is_err());
        assert!(s.write_piece(0, b"short").is_err());
    }
}
