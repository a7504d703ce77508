//! BitTorrent .torrent files (BEP 3 metainfo): parse them, check them, map
//! pieces to files, and make new ones.
//!
//! - [`Metainfo::from_bytes`] parses a .torrent (lenient about key order, as
//!   real files need; strict about everything that matters): trackers in
//!   BEP 12 tiers, BEP 19 web seeds, BEP 27 `private`, BEP 47 padding files.
//! - [`Info`] is the checked `info` dictionary: its [`InfoHash`] is the SHA-1
//!   of the `info` bytes exactly as in the file, never a re-encoding. Every
//!   file path is safe to join to a download directory (rule in [`safe_join`]).
//! - [`Info::file_spans`] says which bytes of which files a piece covers,
//!   skipping padding: what storage needs.
//! - [`TorrentBuilder`] makes a deterministic .torrent from a file or a
//!   directory, hashing on all cores.
//!
//! ```
//! use ferro_metainfo::{Metainfo, TorrentBuilder};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::create_dir(dir.path().join("album"))?;
//! std::fs::write(dir.path().join("album/a.txt"), b"hello")?;
//! std::fs::write(dir.path().join("album/b.txt"), vec![7u8; 40_000])?;
//!
//! let made = TorrentBuilder::new(dir.path().join("album"))
//!     .tracker("http://127.0.0.1:6969/announce")
//!     .build()?;
//! let torrent = Metainfo::from_bytes(&made.bytes)?;
//! assert_eq!(torrent.info_hash(), made.metainfo.info_hash());
//! assert_eq!(torrent.info.name(), "album");
//! assert_eq!(torrent.info.total_length(), 40_005);
//! assert_eq!(torrent.info.piece_length(), 16 * 1024);
//! assert_eq!(torrent.info.piece_count(), 3);
//! // Piece 0 holds all of a.txt and the start of b.txt.
//! let spans: Vec<_> = torrent.info.file_spans(0).map(|s| (s.file_index, s.len)).collect();
//! assert_eq!(spans, [(0, 5), (1, 16_379)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

mod create;
mod error;
mod hash;
mod info;
mod layout;
mod metainfo;
pub mod path;

pub use create::{
    CreatedTorrent, MAX_AUTO_PIECE_LENGTH, MAX_PIECE_LENGTH, MIN_PIECE_LENGTH, TorrentBuilder,
    auto_piece_length,
};
pub use error::Error;
pub use ferro_core::InfoHash;
pub use info::{Info, ParseOptions};
pub use layout::{FileAttr, FileEntry, FileSpan, FileSpans};
pub use metainfo::Metainfo;
pub use path::safe_join;
