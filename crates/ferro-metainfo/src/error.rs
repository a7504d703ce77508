//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong reading or creating a .torrent file.
///
/// Each variant names what was wrong and carries the offending value, so a
/// message like `bad piece length -16384` or `path traversal in "../etc/passwd"`
/// can be shown to a user as is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bencoding itself is malformed (this includes duplicate dictionary keys).
    #[error("bad bencoding: {0}")]
    Bencode(#[from] ferro_bencode::Error),
    /// A required key is absent.
    #[error("missing field {0:?}")]
    MissingField(&'static str),
    /// A key holds a value of the wrong bencode type.
    #[error("field {field:?} must be {expected}")]
    WrongType {
        /// The key.
        field: &'static str,
        /// What it should have been ("a dictionary", "an integer", ...).
        expected: &'static str,
    },
    /// `piece length` is zero, negative or above the configured maximum.
    #[error("bad piece length {0}")]
    BadPieceLength(i64),
    /// `pieces` is not a whole number of 20-byte SHA-1 hashes.
    #[error("bad pieces length {len}: not a multiple of 20")]
    BadPiecesLength {
        /// The length of the `pieces` string in bytes.
        len: usize,
    },
    /// The number of hashes in `pieces` does not match total length / piece length.
    #[error("pieces holds {actual} hashes but the files need {expected}")]
    PieceCountMismatch {
        /// ceil(total length / piece length).
        expected: u64,
        /// The number of 20-byte hashes found.
        actual: u64,
    },
    /// A file length is negative.
    #[error("bad file length {0}")]
    BadFileLength(i64),
    /// The file lengths add up to more than fits in a u64 (or i64 for bencode).
    #[error("total length overflows")]
    TotalLengthOverflow,
    /// The torrent holds no data at all (no files, or only empty ones).
    #[error("torrent has no data (total length 0)")]
    NoData,
    /// More files than the configured limit.
    #[error("too many files: {count} (limit {max})")]
    TooManyFiles {
        /// Files seen so far (at least `max + 1`).
        count: usize,
        /// The limit in force.
        max: usize,
    },
    /// A path would leave the download directory: `..`, an absolute path, a
    /// Windows drive prefix, or a separator inside one component.
    #[error("path traversal in {0:?}")]
    PathTraversal(String),
    /// A path component is empty, `.`, or holds a NUL byte.
    #[error("bad path component in {0:?}")]
    BadPathComponent(String),
    /// A file's `path` list is empty.
    #[error("empty path for file {0}")]
    EmptyPath(usize),
    /// Two files map to the same path, or one file's path is a directory of another.
    #[error("path collision at {0:?}")]
    PathCollision(String),
    /// A BEP 52 v2-only torrent (`meta version` 2 without v1 `pieces`): not supported.
    #[error("v2-only torrent (BEP 52) is not supported")]
    V2Only,
    /// A piece index beyond the last piece.
    #[error("piece index {index} out of range ({count} pieces)")]
    PieceOutOfRange {
        /// The index asked for.
        index: u32,
        /// The number of pieces.
        count: u32,
    },
    /// An option given to the torrent builder is invalid.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// Reading the files to hash failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file (or directory) being read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}
