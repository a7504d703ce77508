//! Shared BitTorrent types for Ferro's crates.
//!
//! Several protocol crates (wire, tracker, DHT, PEX, magnet) speak of the same
//! few things: a 20-byte [`InfoHash`], a 20-byte [`PeerId`], and peer addresses
//! in the "compact" encodings of BEP 23 (IPv4) and BEP 7 (IPv6). They are
//! defined here once, with their encodings and nothing else: no logic, no I/O.
//!
//! ```
//! use ferro_core::InfoHash;
//! let ih: InfoHash = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK".parse()?; // base32, as in magnet links
//! assert_eq!(ih.to_hex(), "c12fe1c06bba254a9dc9f519b335aa7c1367a88a");
//! # Ok::<(), ferro_core::Error>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

pub mod compact;
mod id;

pub use id::{InfoHash, PeerId};

/// Errors from parsing the shared types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A hash or id string was neither 40 hex digits nor 32 base32 characters.
    #[error("invalid 20-byte id {0:?}: expected 40 hex digits or 32 base32 characters")]
    InvalidId(String),
    /// A byte slice that must hold exactly 20 bytes had another length.
    #[error("invalid id length {0}: expected 20 bytes")]
    IdLength(usize),
    /// A compact address list's length is not a multiple of its entry size.
    #[error("compact address list of {len} bytes is not a multiple of {entry}")]
    CompactLength {
        /// The list's length in bytes.
        len: usize,
        /// The size of one entry (6 for IPv4, 18 for IPv6).
        entry: usize,
    },
}
