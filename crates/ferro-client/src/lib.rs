//! Ferro's BitTorrent client: sessions, torrents, peer connections.
//!
//! - [`Session`]: one TCP listener (IPv4 and IPv6), the tracker client,
//!   rate limits and connection caps, and the torrents.
//! - [`TorrentHandle`]: statistics, an event stream, waiting for completion,
//!   pause / resume / remove.
//! - Inside: [`picker::PiecePicker`] (rarest first, end-game; sans-IO),
//!   [`storage::Storage`] (pieces over files, positional IO, parallel
//!   hashing), one task per peer over ferro-wire's codec, a tit-for-tat
//!   choker, a BEP 12 announcer, and [`resume`] data.
//! - Web seeds (BEP 19, [`WebSeedConfig`]): one task per `url-list` /
//!   magnet `ws=` / [`AddTorrent::web_seeds`] URL fetches runs of whole
//!   pieces the picker reserves for it, into the same hash-and-write path.
//! - File selection ([`selection`]): per-file [`FilePriority`] (skip, low,
//!   normal, high) set in [`AddTorrent::file_priorities`], by a magnet's BEP
//!   53 `so=`, or with [`TorrentHandle::set_file_priority`] while running;
//!   a sequential mode for streaming; completion counts wanted pieces only.
//!
//! ```no_run
//! use ferro_client::{AddTorrent, Config, Session};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let torrent = ferro_metainfo::Metainfo::from_bytes(&std::fs::read("file.torrent")?)?;
//! let session = Session::new(Config::default()).await?;
//! let handle = session.add_torrent(AddTorrent::new(torrent, "downloads")).await?;
//! handle.wait_until_complete().await?;
//! println!("{} bytes verified", handle.stats().verified_bytes);
//! session.shutdown().await;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub mod choker;
mod config;
mod connect;
mod dht;
mod error;
mod event;
mod handle;
mod magnet;
mod metadata;
mod peer;
mod pex;
pub mod picker;
pub mod rate;
pub mod resume;
pub mod selection;
mod session;
pub mod storage;
mod torrent;
mod webseed;

pub use config::Config;
pub use dht::DhtOptions;
pub use error::Error;
pub use event::{TorrentEvent, TorrentState, TorrentStats};
pub use ferro_core::{InfoHash, PeerId};
pub use handle::TorrentHandle;
pub use magnet::{AddMagnet, torrent_path};
pub use peer::PeerQueues;
pub use pex::PeerSource;
pub use selection::{FilePriority, FileProgress};
pub use session::{AddTorrent, Session};
pub use webseed::WebSeedConfig;
