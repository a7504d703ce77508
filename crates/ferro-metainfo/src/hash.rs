//! Hashing pieces in parallel on all cores, with positional reads.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use sha1::{Digest, Sha1};

use crate::Error;
use crate::layout::{FileEntry, FileSpans};

/// Pieces a worker takes at a time: enough to read sequentially, few enough
/// that the cores finish together.
const CHUNK_PIECES: u32 = 16;

/// (piece index, SHA-1) pairs hashed by one worker.
type Hashed = Vec<(u32, [u8; 20])>;

/// Where the bytes of the torrent's files are on disk.
pub(crate) struct Source<'a> {
    /// The torrent's files in order (padding included; their bytes are zeros).
    pub files: &'a [FileEntry],
    /// The path on disk of each entry of `files` (ignored for padding files).
    pub disk_paths: &'a [PathBuf],
    pub piece_length: u64,
    pub total_length: u64,
}

/// SHA-1 of every piece. `threads` workers (at least 1) each take chunks of
/// pieces; `progress(hashed_bytes, total_bytes)` is called after each piece.
pub(crate) fn hash_pieces(
    src: &Source<'_>,
    threads: usize,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Vec<[u8; 20]>, Error> {
    let count = u32::try_from(src.total_length.div_ceil(src.piece_length)).map_err(|_| {
        Error::InvalidOption(format!("too many pieces for {} bytes", src.total_length))
    })?;
    let next_chunk = AtomicU32::new(0);
    let done = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let threads = threads.clamp(1, count.div_ceil(CHUNK_PIECES).max(1) as usize);

    let results: Vec<Result<Hashed, Error>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let r = worker(src, count, &next_chunk, &done, &failed, progress);
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    r
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(Error::InvalidOption("a hashing thread panicked".into()))
                })
            })
            .collect()
    });

    let mut hashes = vec![[0u8; 20]; count as usize];
    for r in results {
        for (piece, hash) in r? {
            if let Some(slot) = hashes.get_mut(piece as usize) {
                *slot = hash;
            }
        }
    }
    Ok(hashes)
}

fn worker(
    src: &Source<'_>,
    count: u32,
    next_chunk: &AtomicU32,
    done: &AtomicU64,
    failed: &AtomicBool,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Hashed, Error> {
    let mut out = Vec::new();
    let mut buf = vec![
        0u8;
        usize::try_from(src.piece_length)
            .unwrap_or(usize::MAX)
            .min(1 << 30)
    ];
    let mut open: Option<(usize, File)> = None;
    loop {
        let first = next_chunk.fetch_add(CHUNK_PIECES, Ordering::Relaxed);
        if first >= count || failed.load(Ordering::Relaxed) {
            return Ok(out);
        }
        for piece in first..count.min(first.saturating_add(CHUNK_PIECES)) {
            let start = u64::from(piece) * src.piece_length;
            let size = src.piece_length.min(src.total_length - start) as usize;
            let data = buf.get_mut(..size).ok_or_else(|| {
                Error::InvalidOption(format!("piece length {} too large", src.piece_length))
            })?;
            // Padding files are not read: their bytes stay zero.
            data.fill(0);
            for span in FileSpans::new(src.files, start, size as u64) {
                let (Some(entry), Some(path)) = (
                    src.files.get(span.file_index),
                    src.disk_paths.get(span.file_index),
                ) else {
                    continue;
                };
                let at = (entry.offset + span.file_offset - start) as usize;
                let Some(dst) = data.get_mut(at..at + span.len as usize) else {
                    continue;
                };
                let file = match &open {
                    Some((i, f)) if *i == span.file_index => f,
                    _ => {
                        let f = File::open(path).map_err(|e| io(path, e))?;
                        &open.insert((span.file_index, f)).1
                    }
                };
                read_exact_at(file, dst, span.file_offset).map_err(|e| io(path, e))?;
            }
            out.push((piece, Sha1::digest(&*data).into()));
            let total = done.fetch_add(size as u64, Ordering::Relaxed) + size as u64;
            progress(total, src.total_length);
        }
    }
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::FileAttr;

    #[test]
    fn padding_hashes_as_zeros_and_threads_do_not_matter() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, [1u8; 10]).unwrap();
        std::fs::write(&b, [2u8; 40]).unwrap();
        let entry = |offset, length, padding| FileEntry {
            path: PathBuf::from("x"),
            length,
            offset,
            attr: FileAttr {
                padding,
                ..FileAttr::default()
            },
        };
        let files = [
            entry(0, 10, false),
            entry(10, 6, true),
            entry(16, 40, false),
        ];
        let disk = [a, PathBuf::new(), b];
        let src = Source {
            files: &files,
            disk_paths: &disk,
            piece_length: 16,
            total_length: 56,
        };
        let one = hash_pieces(&src, 1, &|_, _| {}).unwrap();
        let many = hash_pieces(&src, 64, &|_, _| {}).unwrap();
        assert_eq!(one, many);
        let mut first = vec![1u8; 10];
        first.extend([0u8; 6]);
        assert_eq!(one[0], <[u8; 20]>::from(Sha1::digest(&first)));
        assert_eq!(one[3], <[u8; 20]>::from(Sha1::digest([2u8; 8])));
        assert_eq!(one.len(), 4);
    }

    #[test]
    fn a_file_shorter_than_listed_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, [1u8; 10]).unwrap();
        let files = [FileEntry {
            path: PathBuf::from("a"),
            length: 20,
            offset: 0,
            attr: FileAttr::default(),
        }];
        let src = Source {
            files: &files,
            disk_paths: std::slice::from_ref(&a),
            piece_length: 16,
            total_length: 20,
        };
        assert!(
            matches!(hash_pieces(&src, 2, &|_, _| {}), Err(Error::Io { path, .. }) if path == a)
        );
    }
}
