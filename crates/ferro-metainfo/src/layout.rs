//! Files laid end to end, and which byte ranges of which files a piece covers.
//!
//! BEP 3 treats a multi-file torrent's data as the concatenation of its files
//! in `files` order, cut into pieces of `piece length` bytes (the last piece
//! may be shorter). BEP 47 padding files are part of that concatenation, so
//! they shift offsets, but they are never stored: their bytes are zeros and
//! the spans below skip them.

use std::path::PathBuf;

/// BEP 47 file attributes (the `attr` string of a file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileAttr {
    /// `p`: a padding file, all zeros, never written to disk.
    pub padding: bool,
    /// `x`: the file is executable.
    pub executable: bool,
    /// `h`: the file is hidden.
    pub hidden: bool,
    /// `l`: the file is a symlink (Ferro does not create symlinks; it is only reported).
    pub symlink: bool,
}

impl FileAttr {
    /// Parses an `attr` string; unknown letters are ignored, as BEP 47 asks.
    pub fn from_bytes(attr: &[u8]) -> Self {
        FileAttr {
            padding: attr.contains(&b'p'),
            executable: attr.contains(&b'x'),
            hidden: attr.contains(&b'h'),
            symlink: attr.contains(&b'l'),
        }
    }

    /// The `attr` string, letters in BEP 47's order; empty when no flag is set.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::new();
        for (set, letter) in [
            (self.symlink, b'l'),
            (self.executable, b'x'),
            (self.hidden, b'h'),
            (self.padding, b'p'),
        ] {
            if set {
                out.push(letter);
            }
        }
        out
    }
}

/// One file of a torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Where the file goes, relative to the download directory: the torrent's
    /// name for a single-file torrent, `name/dir/.../file` for a multi-file one.
    /// Always safe to join to a download directory (see [`crate::safe_join`]).
    pub path: PathBuf,
    /// Length in bytes.
    pub length: u64,
    /// Offset of the file's first byte in the torrent's concatenated data.
    pub offset: u64,
    /// BEP 47 attributes.
    pub attr: FileAttr,
}

impl FileEntry {
    /// Whether this is a BEP 47 padding file (zeros, never stored).
    pub fn is_padding(&self) -> bool {
        self.attr.padding
    }

    /// One past the file's last byte in the torrent's concatenated data.
    pub fn end(&self) -> u64 {
        self.offset + self.length
    }
}

/// A run of bytes of one file inside a piece (or any byte range of the torrent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpan {
    /// Index into [`crate::Info::files`].
    pub file_index: usize,
    /// Offset of the span's first byte inside that file.
    pub file_offset: u64,
    /// Length of the span in bytes (never 0).
    pub len: u64,
}

/// The spans of the byte range `[start, start + len)` of the torrent, in
/// order, skipping padding files and empty files. Returned by
/// [`crate::Info::file_spans`] and [`crate::Info::range_spans`].
#[derive(Debug, Clone)]
pub struct FileSpans<'a> {
    files: &'a [FileEntry],
    index: usize,
    pos: u64,
    end: u64,
}

impl<'a> FileSpans<'a> {
    /// Spans of `[start, start + len)`; `files` must be contiguous and in offset order.
    pub(crate) fn new(files: &'a [FileEntry], start: u64, len: u64) -> Self {
        // The first file that ends after `start`: ends are non-decreasing.
        let index = files.partition_point(|f| f.end() <= start);
        FileSpans {
            files,
            index,
            pos: start,
            end: start.saturating_add(len),
        }
    }
}

impl Iterator for FileSpans<'_> {
    type Item = FileSpan;

    fn next(&mut self) -> Option<FileSpan> {
        while self.pos < self.end {
            let file_index = self.index;
            let file = self.files.get(file_index)?;
            let file_end = file.end();
            if file_end <= self.pos {
                self.index += 1;
                continue;
            }
            let take = self.end.min(file_end) - self.pos;
            let span = FileSpan {
                file_index,
                file_offset: self.pos - file.offset,
                len: take,
            };
            self.pos += take;
            if self.pos >= file_end {
                self.index += 1;
            }
            if !file.is_padding() {
                return Some(span);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn files(lengths: &[(u64, bool)]) -> Vec<FileEntry> {
        let mut offset = 0;
        lengths
            .iter()
            .enumerate()
            .map(|(i, &(length, padding))| {
                let f = FileEntry {
                    path: PathBuf::from(format!("f{i}")),
                    length,
                    offset,
                    attr: FileAttr {
                        padding,
                        ..FileAttr::default()
                    },
                };
                offset += length;
                f
            })
            .collect()
    }

    fn span(file_index: usize, file_offset: u64, len: u64) -> FileSpan {
        FileSpan {
            file_index,
            file_offset,
            len,
        }
    }

    #[test]
    fn range_crossing_several_files_with_empty_ones() {
        // f0: 10 bytes, f1: empty, f2: 3 bytes, f3: empty, f4: 20 bytes.
        let fs = files(&[(10, false), (0, false), (3, false), (0, false), (20, false)]);
        let spans: Vec<_> = FileSpans::new(&fs, 8, 10).collect();
        assert_eq!(spans, vec![span(0, 8, 2), span(2, 0, 3), span(4, 0, 5)]);
        // Starting exactly at a boundary with an empty file in front.
        let spans: Vec<_> = FileSpans::new(&fs, 10, 4).collect();
        assert_eq!(spans, vec![span(2, 0, 3), span(4, 0, 1)]);
    }

    #[test]
    fn padding_is_skipped() {
        let fs = files(&[(5, false), (11, true), (16, false)]);
        let spans: Vec<_> = FileSpans::new(&fs, 0, 16).collect();
        assert_eq!(spans, vec![span(0, 0, 5)]);
        let spans: Vec<_> = FileSpans::new(&fs, 16, 16).collect();
        assert_eq!(spans, vec![span(2, 0, 16)]);
    }

    #[test]
    fn range_past_the_end_is_cut() {
        let fs = files(&[(5, false)]);
        let spans: Vec<_> = FileSpans::new(&fs, 3, 100).collect();
        assert_eq!(spans, vec![span(0, 3, 2)]);
        assert_eq!(FileSpans::new(&fs, 5, 1).count(), 0);
        assert_eq!(FileSpans::new(&fs, u64::MAX, u64::MAX).count(), 0);
    }

    #[test]
    fn attr_round_trip() {
        let a = FileAttr::from_bytes(b"xhp?");
        assert!(a.padding && a.executable && a.hidden && !a.symlink);
        assert_eq!(a.to_bytes(), b"xhp");
        assert_eq!(FileAttr::from_bytes(&a.to_bytes()), a);
        assert!(FileAttr::default().to_bytes().is_empty());
    }

    proptest::proptest! {
        /// Cut into pieces, the spans tile exactly the non-padding bytes, in order.
        #[test]
        fn spans_tile_non_padding_bytes(
            lengths in proptest::collection::vec((0u64..300, proptest::bool::weighted(0.2)), 1..12),
            piece_length in 1u64..200,
        ) {
            let fs = files(&lengths);
            let total: u64 = fs.iter().map(|f| f.length).sum();
            let mut expected = Vec::new();
            for (i, f) in fs.iter().enumerate() {
                if !f.is_padding() {
                    expected.extend((0..f.length).map(|o| (i, o)));
                }
            }
            let mut got = Vec::new();
            let mut start = 0;
            while start < total {
                let len = piece_length.min(total - start);
                for s in FileSpans::new(&fs, start, len) {
                    proptest::prop_assert!(s.len > 0);
                    let f = &fs[s.file_index];
                    proptest::prop_assert!(f.offset + s.file_offset >= start);
                    proptest::prop_assert!(f.offset + s.file_offset + s.len <= start + len);
                    got.extend((s.file_offset..s.file_offset + s.len).map(|o| (s.file_index, o)));
                }
                start += len;
            }
            proptest::prop_assert_eq!(got, expected);
        }
    }
}
