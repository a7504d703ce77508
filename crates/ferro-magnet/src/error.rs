//! The crate's one error type.

/// Errors from magnet parsing and metadata exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text does not start with `magnet:?`.
    #[error("not a magnet link: {0:?}")]
    NotMagnet(String),
    /// No `xt=urn:btih:` parameter.
    #[error("magnet link has no urn:btih: info-hash")]
    MissingInfoHash,
    /// Only a BitTorrent v2 (`urn:btmh:`) hash was given.
    #[error("BitTorrent v2 (urn:btmh:) magnet links are not supported yet")]
    V2NotSupported,
    /// The `urn:btih:` hash is neither 40 hex nor 32 base32 characters.
    #[error("invalid info-hash {0:?}")]
    InvalidInfoHash(String),
    /// Two different `urn:btih:` hashes.
    #[error("magnet link names two different info-hashes")]
    ConflictingInfoHash,
    /// A parameter whose value is malformed (`xl`, `so`, `x.pe`, percent-encoding).
    #[error("invalid magnet parameter {name}={value:?}")]
    InvalidParameter {
        /// The parameter's name.
        name: String,
        /// Its (decoded) value.
        value: String,
    },
    /// A link over the length limit.
    #[error("magnet link of {0} bytes is too long")]
    TooLong(usize),
    /// A ut_metadata message that is not valid bencode or lacks a field.
    #[error("malformed ut_metadata message: {0}")]
    BadMessage(String),
    /// A metadata size over the configured limit, or zero.
    #[error("metadata size {size} is outside 1..={limit}")]
    MetadataSize {
        /// The size claimed.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
}
