//! Writing verified pieces around the page cache (`O_DIRECT`, Linux only).
//!
//! A downloaded piece is written once and rarely read back soon, so copying
//! it into the page cache buys little and costs a fresh page-cache page for
//! every 4 KiB. Where the kernel has to find that memory (after a cache drop,
//! and always on virtual machines that return free memory to their host),
//! allocating it is most of a download's CPU time: bench-swarm's `dd` row
//! and docs/benchmarks.md. With `O_DIRECT` the device takes the bytes from
//! our buffer instead.
//!
//! `O_DIRECT` wants the buffer address, the file offset and the length to be
//! multiples of the device's logical block size; [`ALIGN`] (4 KiB) covers
//! 512-byte and 4K devices. A span's aligned middle is written directly:
//! from the piece's buffer when that is aligned (a
//! [`PieceData`](super::PieceData)), else through an aligned bounce buffer;
//! its unaligned head and tail go through the ordinary handle, so
//! direct and buffered writes never share a page. Before a direct write the
//! kernel writes back and drops any cached page of its range, so readers
//! through the ordinary handle always see the data. A file system that
//! refuses `O_DIRECT` (`EINVAL` at open or on a write, e.g. tmpfs before
//! Linux 6.6) is remembered, and that file is written through the page cache.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Alignment of direct writes: buffer address, file offset and length.
pub(crate) const ALIGN: usize = 4096;
/// The most a bounce buffer holds; longer spans take several writes.
const BOUNCE_LEN: usize = 1 << 20;
/// Bounce buffers kept for reuse (one per concurrent writer).
const MAX_BOUNCE_BUFFERS: usize = 4;
/// Direct handles kept open; files past this are written through the cache.
const MAX_DIRECT_FILES: usize = 512;

/// A [`BOUNCE_LEN`] buffer whose usable part starts on an [`ALIGN`] boundary.
struct Bounce {
    /// Never resized, so the address of `raw[start]` stays aligned.
    raw: Vec<u8>,
    start: usize,
}

impl Bounce {
    fn new() -> Bounce {
        let raw = vec![0u8; BOUNCE_LEN + ALIGN];
        let start = (ALIGN - raw.as_ptr() as usize % ALIGN) % ALIGN;
        Bounce { raw, start }
    }

    fn window(&mut self, len: usize) -> Option<&mut [u8]> {
        self.raw
            .get_mut(self.start..self.start + len.min(BOUNCE_LEN))
    }
}

#[derive(Debug, Clone)]
enum Handle {
    Unopened,
    Open(Arc<File>),
    /// The file system refused `O_DIRECT` (or too many files are open).
    Refused,
}

/// Per-file `O_DIRECT` handles and the bounce buffers they write from.
pub(crate) struct DirectWriter {
    enabled: bool,
    handles: Mutex<Vec<Handle>>,
    bounce: Mutex<Vec<Bounce>>,
    /// Set when any write needed a fallback (for tests and diagnostics).
    fell_back: AtomicBool,
}

impl std::fmt::Debug for DirectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectWriter")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl DirectWriter {
    /// A writer for `files` files; `enabled: false` writes everything
    /// through the page cache.
    pub(crate) fn new(files: usize, enabled: bool) -> DirectWriter {
        DirectWriter {
            enabled: enabled && cfg!(target_os = "linux"),
            handles: Mutex::new(vec![Handle::Unopened; files]),
            bounce: Mutex::new(Vec::new()),
            fell_back: AtomicBool::new(false),
        }
    }

    /// Whether some write went through the page cache because the file
    /// system refused `O_DIRECT`.
    #[cfg(test)]
    pub(crate) fn fell_back(&self) -> bool {
        self.fell_back.load(Ordering::Relaxed)
    }

    /// Writes all of `src` at `offset` of file `index` (at `path`, open as
    /// `buffered`): the aligned middle directly, the rest through `buffered`.
    pub(crate) fn write(
        &self,
        index: usize,
        path: &Path,
        buffered: &File,
        src: &[u8],
        offset: u64,
    ) -> std::io::Result<()> {
        let head =
            ((ALIGN as u64 - offset % ALIGN as u64) % ALIGN as u64).min(src.len() as u64) as usize;
        let body = (src.len() - head) / ALIGN * ALIGN;
        let direct = match body {
            0 => None,
            _ => self.handle(index, path),
        };
        let Some(direct) = direct else {
            return buffered.write_all_at(src, offset);
        };
        let (h, rest) = src.split_at(head);
        let (mid, tail) = rest.split_at(body);
        buffered.write_all_at(h, offset)?;
        let mid_at = offset + head as u64;
        if let Err(e) = self.write_direct(&direct, mid, mid_at) {
            if e.kind() != std::io::ErrorKind::InvalidInput {
                return Err(e);
            }
            // Refused after all (alignment stricter than ALIGN, or a file
            // system that accepts the flag but not the write).
            self.refuse(index);
            buffered.write_all_at(mid, mid_at)?;
        }
        buffered.write_all_at(tail, mid_at + body as u64)
    }

    fn write_direct(&self, file: &File, src: &[u8], mut offset: u64) -> std::io::Result<()> {
        if (src.as_ptr() as usize).is_multiple_of(ALIGN) {
            // A piece buffer (storage::PieceData) is aligned: no copy.
            return file.write_all_at(src, offset);
        }
        let pooled = self.bounce.lock().ok().and_then(|mut b| b.pop());
        let mut buf = pooled.unwrap_or_else(Bounce::new);
        let mut result = Ok(());
        for chunk in src.chunks(BOUNCE_LEN) {
            let Some(dst) = buf.window(chunk.len()) else {
                result = Err(std::io::ErrorKind::InvalidInput.into());
                break;
            };
            dst.copy_from_slice(chunk);
            if let Err(e) = file.write_all_at(dst, offset) {
                result = Err(e);
                break;
            }
            offset += chunk.len() as u64;
        }
        if let Ok(mut pool) = self.bounce.lock()
            && pool.len() < MAX_BOUNCE_BUFFERS
        {
            pool.push(buf);
        }
        result
    }

    fn refuse(&self, index: usize) {
        self.fell_back.store(true, Ordering::Relaxed);
        if let Ok(mut h) = self.handles.lock()
            && let Some(slot) = h.get_mut(index)
        {
            *slot = Handle::Refused;
        }
    }

    /// The direct handle of file `index`, opened on first use.
    fn handle(&self, index: usize, path: &Path) -> Option<Arc<File>> {
        if !self.enabled {
            return None;
        }
        let mut handles = self.handles.lock().ok()?;
        match handles.get(index)? {
            Handle::Open(f) => return Some(f.clone()),
            Handle::Refused => return None,
            Handle::Unopened => {}
        }
        let open = handles
            .iter()
            .filter(|h| matches!(h, Handle::Open(_)))
            .count();
        let file = if open < MAX_DIRECT_FILES {
            open_direct(path).ok().map(Arc::new)
        } else {
            None
        };
        let slot = handles.get_mut(index)?;
        match &file {
            Some(f) => *slot = Handle::Open(f.clone()),
            None => {
                self.fell_back.store(true, Ordering::Relaxed);
                *slot = Handle::Refused;
            }
        }
        file
    }
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> std::io::Result<File> {
    Err(std::io::ErrorKind::Unsupported.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new empty file at `path`, open for reading and writing.
    fn create_rw(path: &Path) -> File {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .unwrap()
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    }

    #[test]
    fn aligned_unaligned_and_long_writes_land_where_they_should() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let len = 3 * BOUNCE_LEN + 3 * ALIGN + 100;
        let file = create_rw(&path);
        file.set_len(len as u64).unwrap();
        let w = DirectWriter::new(1, true);
        let mut expect = vec![0u8; len];
        // Aligned, unaligned head and tail, shorter than a page, longer
        // than a bounce buffer, and overwriting what was written before.
        for (i, (at, n)) in [
            (0, 16384),
            (ALIGN + 7, 3 * ALIGN),
            (10, 50),
            (ALIGN * 5 - 1, 2 * BOUNCE_LEN + 2 * ALIGN + 3),
            (len - 100, 100),
            (0, len),
            (ALIGN * 2, ALIGN),
        ]
        .into_iter()
        .enumerate()
        {
            let data = pattern(n, i as u8);
            w.write(0, &path, &file, &data, at as u64).unwrap();
            expect[at..at + n].copy_from_slice(&data);
            // Read through the ordinary handle, as seeding does.
            let mut back = vec![0u8; len];
            file.read_exact_at(&mut back, 0).unwrap();
            assert!(back == expect, "write {i} at {at}+{n}");
        }
        assert_eq!(std::fs::read(&path).unwrap(), expect);
        // From an aligned piece buffer: written as it is, no bounce copy.
        let piece = super::super::PieceData::copy_from(&pattern(BOUNCE_LEN + ALIGN, 99));
        assert_eq!(piece.as_ptr() as usize % ALIGN, 0);
        w.write(0, &path, &file, &piece, ALIGN as u64).unwrap();
        expect[ALIGN..ALIGN + piece.len()].copy_from_slice(&piece);
        assert_eq!(std::fs::read(&path).unwrap(), expect);
    }

    #[test]
    fn disabled_or_refused_writes_go_through_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = create_rw(&path);
        let w = DirectWriter::new(1, false);
        let data = pattern(4 * ALIGN, 9);
        w.write(0, &path, &file, &data, 0).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data);
        // A path that cannot be opened for direct writes falls back.
        let w = DirectWriter::new(1, true);
        let missing = dir.path().join("missing");
        w.write(0, &missing, &file, &data, ALIGN as u64).unwrap();
        assert!(w.fell_back());
        assert_eq!(&std::fs::read(&path).unwrap()[ALIGN..], &data[..]);
    }

    #[test]
    fn bounce_windows_are_aligned() {
        for _ in 0..8 {
            let mut b = Bounce::new();
            let w = b.window(BOUNCE_LEN).unwrap();
            assert_eq!(w.as_ptr() as usize % ALIGN, 0);
            assert_eq!(w.len(), BOUNCE_LEN);
        }
    }
}
