//! BitTorrent trackers, client and server: HTTP (BEP 3, 7, 23, 48) and UDP
//! (BEP 15), with BEP 12 multitracker tiers.
//!
//! The core is sans-IO: [`http`] builds announce/scrape URLs and parses (or,
//! for the server, encodes) bencoded bodies; [`udp`] holds the BEP 15 packet
//! codec and [`UdpClient`], a state machine fed datagrams and
//! [`Instant`](std::time::Instant)s; [`TrackerTiers`] orders an announce-list.
//! With the `tokio` feature, [`driver`] runs them over reqwest and tokio
//! sockets; with the `server` feature, [`server`] is a complete in-memory
//! tracker.
//!
//! ```
//! use ferro_core::{InfoHash, PeerId};
//! use ferro_tracker::{AnnounceRequest, http};
//!
//! let req = AnnounceRequest::new(InfoHash([0xab; 20]), PeerId(*b"-FE0001-000000000000"), 6881, 1024);
//! let url = http::announce_url("http://tracker.example/announce?passkey=k", &req)?;
//! assert!(url.as_str().starts_with("http://tracker.example/announce?passkey=k&info_hash=%AB%AB"));
//!
//! // A compact (BEP 23) response with one peer, 127.0.0.1:6881.
//! let body = b"d8:intervali1800e5:peers6:\x7f\x00\x00\x01\x1a\xe1e";
//! let resp = http::parse_announce(body)?;
//! assert_eq!(resp.addrs(), ["127.0.0.1:6881".parse().unwrap()]);
//! assert_eq!(http::scrape_url("http://t.example/x/announce.php")?.as_str(), "http://t.example/x/scrape.php");
//! # Ok::<(), ferro_tracker::Error>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod announce;
mod error;
pub mod http;
mod tiers;
pub mod udp;

#[cfg(feature = "tokio")]
pub mod driver;
#[cfg(feature = "server")]
pub mod server;

pub use announce::{AnnounceRequest, AnnounceResponse, Event, Peer, ScrapeResponse, ScrapeStats};
pub use error::Error;
pub use ferro_core::{InfoHash, PeerId};
pub use tiers::{TierCursor, TrackerTiers};
pub use udp::{UdpClient, UdpConfig, UdpEvent, UdpOperation};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
