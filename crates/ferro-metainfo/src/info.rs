//! The `info` dictionary (BEP 3): name, pieces, files. Its SHA-1 is the info-hash.

use std::borrow::Cow;
use std::ops::Range;

use ferro_bencode::{DecodeOptions, Dict, Value};
use ferro_core::InfoHash;
use sha1::{Digest, Sha1};

use crate::Error;
use crate::layout::{FileAttr, FileEntry, FileSpans};
use crate::path::{build_path, check_collisions};

/// Limits applied while parsing untrusted .torrent files or info dictionaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// Most files (padding files included) accepted. Default 1,000,000.
    pub max_files: usize,
    /// Largest `piece length` accepted, in bytes. Default 256 MiB: a client
    /// holds whole pieces in memory to verify them.
    pub max_piece_length: u64,
    /// Limits of the bencode decoder (depth, item count). Strictness is
    /// ignored: real torrents have unsorted keys, so parsing is always lenient
    /// (duplicate keys are still rejected).
    pub decode: DecodeOptions,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_files: 1_000_000,
            max_piece_length: 256 << 20,
            decode: DecodeOptions::default(),
        }
    }
}

impl ParseOptions {
    pub(crate) fn decode_options(&self) -> DecodeOptions {
        DecodeOptions {
            strict: false,
            ..self.decode.clone()
        }
    }
}

/// A parsed and checked `info` dictionary.
///
/// Every file path is safe (see [`crate::safe_join`]'s rule), the file
/// offsets are contiguous, and the number of piece hashes matches the total
/// length: the methods below cannot go out of range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    info_hash: InfoHash,
    name: String,
    piece_length: u64,
    pieces: Vec<[u8; 20]>,
    files: Vec<FileEntry>,
    total_length: u64,
    private: bool,
    multi_file: bool,
    raw: Vec<u8>,
}

impl Info {
    /// Parses a bencoded `info` dictionary on its own, e.g. one received with
    /// the metadata extension (BEP 9). The info-hash is the SHA-1 of `raw`.
    pub fn from_bytes(raw: &[u8]) -> Result<Info, Error> {
        Self::from_bytes_with(raw, &ParseOptions::default())
    }

    /// [`Info::from_bytes`] with explicit limits.
    pub fn from_bytes_with(raw: &[u8], opts: &ParseOptions) -> Result<Info, Error> {
        let doc = ferro_bencode::decode_with(raw, &opts.decode_options())?;
        Self::from_value(doc.root(), opts)
    }

    /// Parses the `info` value of a decoded document. Hashes `info.raw()`,
    /// the bytes exactly as they are in the file, never a re-encoding.
    pub(crate) fn from_value(info: Value<'_, '_>, opts: &ParseOptions) -> Result<Info, Error> {
        let dict = info.as_dict().ok_or(Error::WrongType {
            field: "info",
            expected: "a dictionary",
        })?;
        let raw = info.raw();
        let info_hash = InfoHash(Sha1::digest(raw).into());

        let pieces = match dict.get(b"pieces") {
            Some(v) => v.as_bytes().ok_or(Error::WrongType {
                field: "pieces",
                expected: "a byte string",
            })?,
            // BEP 52: a v2-only torrent has `meta version` 2 and no `pieces`.
            None if dict.get(b"meta version").and_then(|v| v.as_int()) == Some(2) => {
                return Err(Error::V2Only);
            }
            None => return Err(Error::MissingField("pieces")),
        };
        if !pieces.len().is_multiple_of(20) {
            return Err(Error::BadPiecesLength { len: pieces.len() });
        }

        let piece_length = required_int(&dict, "piece length")?;
        let piece_length = u64::try_from(piece_length)
            .ok()
            .filter(|&l| l > 0 && l <= opts.max_piece_length)
            .ok_or(Error::BadPieceLength(piece_length))?;

        let name = utf8_field(&dict, "name", "name.utf-8")?.ok_or(Error::MissingField("name"))?;

        let (files, multi_file) = match dict.get(b"files") {
            Some(list) => (parse_files(&name, list, opts)?, true),
            None => {
                let length = required_int(&dict, "length")?;
                let length = u64::try_from(length).map_err(|_| Error::BadFileLength(length))?;
                let entry = FileEntry {
                    path: build_path(&[name.as_str()])?,
                    length,
                    offset: 0,
                    attr: dict
                        .get(b"attr")
                        .and_then(|v| v.as_bytes())
                        .map(FileAttr::from_bytes)
                        .unwrap_or_default(),
                };
                (vec![entry], false)
            }
        };
        let total_length = files.last().map_or(0, FileEntry::end);
        if total_length == 0 {
            return Err(Error::NoData);
        }
        // `i64::MAX` bounds what bencode can say about the data anyway.
        if total_length > i64::MAX as u64 {
            return Err(Error::TotalLengthOverflow);
        }

        let expected = total_length.div_ceil(piece_length);
        let actual = (pieces.len() / 20) as u64;
        if expected != actual || u32::try_from(actual).is_err() {
            return Err(Error::PieceCountMismatch { expected, actual });
        }
        let pieces = pieces
            .chunks_exact(20)
            .map(|c| {
                let mut h = [0u8; 20];
                h.copy_from_slice(c);
                h
            })
            .collect();

        // BEP 27 says `private=1`; like libtorrent, any non-zero integer
        // counts, since wrongly treating a private torrent as public would
        // leak it to the DHT and PEX.
        let private = dict
            .get(b"private")
            .and_then(|v| v.as_int())
            .is_some_and(|v| v != 0);

        Ok(Info {
            info_hash,
            name,
            piece_length,
            pieces,
            files,
            total_length,
            private,
            multi_file,
            raw: raw.to_vec(),
        })
    }

    /// SHA-1 of the bencoded `info` dictionary as it appears in the file.
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// The suggested name: the file name of a single-file torrent, the
    /// directory name of a multi-file one (`name.utf-8` preferred when valid).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes per piece (the last piece may be shorter, see [`Info::piece_size`]).
    pub fn piece_length(&self) -> u64 {
        self.piece_length
    }

    /// Number of pieces (at least 1).
    pub fn piece_count(&self) -> u32 {
        // Checked at parse time to fit in u32.
        self.pieces.len() as u32
    }

    /// The SHA-1 of piece `piece`, or `None` when out of range.
    pub fn piece_hash(&self, piece: u32) -> Option<&[u8; 20]> {
        self.pieces.get(piece as usize)
    }

    /// All piece hashes in order.
    pub fn piece_hashes(&self) -> &[[u8; 20]] {
        &self.pieces
    }

    /// Size of piece `piece` in bytes: [`Info::piece_length`] for all but the
    /// last one; `None` when out of range.
    pub fn piece_size(&self, piece: u32) -> Option<u64> {
        let start = self.piece_offset(piece)?;
        // start < total_length: the parser checked that the pieces cover
        // exactly total_length, and `piece` is below their count.
        Some(self.piece_length.min(self.total_length - start))
    }

    /// Size of the last piece in bytes (between 1 and [`Info::piece_length`]).
    pub fn last_piece_size(&self) -> u64 {
        // At least one piece (total_length > 0), covering total_length exactly.
        self.total_length - (self.pieces.len() as u64 - 1) * self.piece_length
    }

    /// Offset of piece `piece`'s first byte in the torrent's data.
    pub fn piece_offset(&self, piece: u32) -> Option<u64> {
        (piece < self.piece_count()).then(|| u64::from(piece) * self.piece_length)
    }

    /// The byte ranges of files that piece `piece` covers, in order, padding
    /// files and empty files skipped. Empty when `piece` is out of range.
    ///
    /// The spans of all pieces together cover every byte of every
    /// non-padding file exactly once.
    pub fn file_spans(&self, piece: u32) -> FileSpans<'_> {
        match (self.piece_offset(piece), self.piece_size(piece)) {
            (Some(start), Some(len)) => FileSpans::new(&self.files, start, len),
            _ => FileSpans::new(&self.files, 0, 0),
        }
    }

    /// The file spans of any byte range `[offset, offset + len)` of the
    /// torrent's data (e.g. one block), cut at the end of the data.
    pub fn range_spans(&self, offset: u64, len: u64) -> FileSpans<'_> {
        FileSpans::new(&self.files, offset, len)
    }

    /// The pieces that hold at least one byte of file `file_index` (empty for
    /// empty files and out-of-range indices).
    pub fn file_pieces(&self, file_index: usize) -> Range<u32> {
        match self.files.get(file_index) {
            Some(f) if f.length > 0 => {
                let first = f.offset / self.piece_length;
                let last = (f.end() - 1) / self.piece_length;
                // Both are below piece_count, which fits in u32.
                first as u32..last as u32 + 1
            }
            _ => 0..0,
        }
    }

    /// The files in torrent order, padding files included (see
    /// [`FileEntry::is_padding`]). Paths are relative and safe.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// Whether the torrent had a `files` list (multi-file form), even with one file.
    pub fn is_multi_file(&self) -> bool {
        self.multi_file
    }

    /// Sum of all file lengths, padding included: the length of the torrent's data.
    pub fn total_length(&self) -> u64 {
        self.total_length
    }

    /// BEP 27 `private` flag: peers only from the torrent's trackers.
    pub fn is_private(&self) -> bool {
        self.private
    }

    /// The bencoded `info` dictionary exactly as parsed: what the metadata
    /// extension (BEP 9) sends, and what [`Info::info_hash`] hashes.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }
}

fn required_int(dict: &Dict<'_, '_>, key: &'static str) -> Result<i64, Error> {
    dict.get(key.as_bytes())
        .ok_or(Error::MissingField(key))?
        .as_int()
        .ok_or(Error::WrongType {
            field: key,
            expected: "an integer",
        })
}

/// Text of `key`, preferring `utf8_key` when it holds valid UTF-8. Bytes that
/// are not UTF-8 are converted lossily (see the path rule in [`crate::path`]).
fn utf8_field(
    dict: &Dict<'_, '_>,
    key: &'static str,
    utf8_key: &str,
) -> Result<Option<String>, Error> {
    if let Some(s) = dict.get(utf8_key.as_bytes()).and_then(|v| v.as_str()) {
        return Ok(Some(s.to_owned()));
    }
    match dict.get(key.as_bytes()) {
        None => Ok(None),
        Some(v) => {
            let b = v.as_bytes().ok_or(Error::WrongType {
                field: key,
                expected: "a byte string",
            })?;
            Ok(Some(String::from_utf8_lossy(b).into_owned()))
        }
    }
}

/// The components of a file's path: `path.utf-8` when every component is
/// valid UTF-8, else `path`, converted lossily.
///
/// The first component is the torrent's `name` (the directory all files go
/// in); valid UTF-8 is borrowed from the input, not copied.
fn path_components<'a>(file: &Dict<'_, 'a>, name: &'a str) -> Result<Vec<Cow<'a, str>>, Error> {
    let head = std::iter::once(Cow::Borrowed(name));
    if let Some(list) = file.get(b"path.utf-8").and_then(|v| v.as_list()) {
        let parts: Option<Vec<Cow<'a, str>>> = head
            .clone()
            .map(Some)
            .chain(list.iter().map(|c| c.as_str().map(Cow::Borrowed)))
            .collect();
        if let Some(parts) = parts {
            return Ok(parts);
        }
    }
    let list = file
        .get(b"path")
        .ok_or(Error::MissingField("path"))?
        .as_list()
        .ok_or(Error::WrongType {
            field: "path",
            expected: "a list",
        })?;
    head.map(Ok)
        .chain(list.iter().map(|c| {
            c.as_bytes()
                .map(String::from_utf8_lossy)
                .ok_or(Error::WrongType {
                    field: "path",
                    expected: "a list of byte strings",
                })
        }))
        .collect()
}

fn parse_files(
    name: &str,
    files: Value<'_, '_>,
    opts: &ParseOptions,
) -> Result<Vec<FileEntry>, Error> {
    let list = files.as_list().ok_or(Error::WrongType {
        field: "files",
        expected: "a list",
    })?;
    if list.len() > opts.max_files {
        return Err(Error::TooManyFiles {
            count: list.len(),
            max: opts.max_files,
        });
    }
    let mut out = Vec::with_capacity(list.len());
    let mut offset = 0u64;
    for (index, file) in list.iter().enumerate() {
        let file = file.as_dict().ok_or(Error::WrongType {
            field: "files",
            expected: "a list of dictionaries",
        })?;
        let length = required_int(&file, "length")?;
        let length = u64::try_from(length).map_err(|_| Error::BadFileLength(length))?;
        let components = path_components(&file, name)?;
        // Only the name: the file's own `path` list is empty.
        if components.len() < 2 {
            return Err(Error::EmptyPath(index));
        }
        let path = build_path(&components)?;
        let attr = file
            .get(b"attr")
            .and_then(|v| v.as_bytes())
            .map(FileAttr::from_bytes)
            .unwrap_or_default();
        out.push(FileEntry {
            path,
            length,
            offset,
            attr,
        });
        offset = offset
            .checked_add(length)
            .ok_or(Error::TotalLengthOverflow)?;
    }
    // Padding files may share a path (BEP 47 names them `.pad/N`); they are never stored.
    check_collisions(
        out.iter()
            .filter(|f| !f.is_padding())
            .map(|f| f.path.as_path()),
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNSORTED: &[u8] = b"d4:name1:a6:lengthi20000e12:piece lengthi16384e6:pieces40:xxxxxxxxxxxxxxxxxxxxyyyyyyyyyyyyyyyyyyyye";

    #[test]
    fn parsing_is_lenient_even_if_strict_is_asked() {
        let opts = ParseOptions {
            decode: DecodeOptions::strict(),
            ..ParseOptions::default()
        };
        let info = Info::from_bytes_with(UNSORTED, &opts).unwrap();
        assert_eq!(info.raw(), UNSORTED);
        assert_eq!(info.info_hash(), InfoHash(Sha1::digest(UNSORTED).into()));
    }

    #[test]
    fn piece_accessors() {
        let info = Info::from_bytes(UNSORTED).unwrap();
        assert_eq!(info.piece_count(), 2);
        assert_eq!(info.piece_hash(1), Some(&[b'y'; 20]));
        assert_eq!(info.piece_hash(2), None);
        assert_eq!(info.piece_offset(1), Some(16384));
        assert_eq!(info.piece_size(1), Some(20000 - 16384));
        assert_eq!(info.last_piece_size(), 20000 - 16384);
        assert_eq!(info.file_spans(2).count(), 0);
        assert_eq!(info.file_pieces(0), 0..2);
        assert_eq!(info.file_pieces(1), 0..0);
        assert_eq!(info.piece_hashes().len(), 2);
    }

    #[test]
    fn item_limits_apply() {
        let opts = ParseOptions {
            decode: DecodeOptions {
                max_items: 4,
                ..DecodeOptions::default()
            },
            ..ParseOptions::default()
        };
        assert!(matches!(
            Info::from_bytes_with(UNSORTED, &opts),
            Err(Error::Bencode(_))
        ));
    }
}
