//! HTTP web seeding (BEP 19, "GetRight style"): a sans-IO core and, behind
//! the `tokio` feature, the HTTP transfer.
//!
//! A web seed is an HTTP server that holds the torrent's files. The core turns
//! torrent byte ranges into HTTP requests, judges the answers and keeps each
//! seed's health; it owns no socket and reads no clock.
//!
//! - [`file_url`]: BEP 19's URL rule. For a single-file torrent the URL is the
//!   file, or, when it ends in `/`, the directory holding a file named after the
//!   torrent. For a multi-file torrent it is `url/name/path/to/file`, each
//!   component percent-encoded.
//! - [`plan_range`]: a byte range of the torrent (a piece, or a run of pieces)
//!   as one HTTP Range request per file it touches, skipping BEP 47 padding.
//! - [`check_response`]: accepts a `206` whose `Content-Range` matches, or a
//!   `200` (a server that ignores `Range`) by skipping to the wanted bytes;
//!   `404`/`410` mean the seed lacks that file; `5xx`/`429` mean back off.
//! - [`SeedHealth`]: per-URL exponential backoff, files known missing, and
//!   dropping a URL that keeps serving data that fails the hash check.
//! - [`WebSeeds`]: the seeds of one torrent (`url-list` and magnet `ws=`):
//!   picks a usable seed for a range and routes each outcome to its health.
//! - [`verify_piece`]: SHA-1 of a piece against the info dictionary.
//!
//! With the `tokio` feature (reqwest with rustls + ring):
//!
//! - `WebSeedClient::fetch`: a byte range from one seed, one streamed Range
//!   request per file, bounded concurrency per host, stall timeouts, bounded
//!   redirects, padding filled with zeros; exactly the bytes asked for.
//! - `WebSeedWorker::fetch_piece`: a hash-checked piece from whichever seed
//!   is usable, reporting every outcome to that seed's health.
//!
//! ```
//! # let raw = ferro_bencode::to_bytes(&ferro_bencode::OwnedValue::Dict([
//! #     (b"name".to_vec(), ferro_bencode::OwnedValue::from("dir")),
//! #     (b"piece length".to_vec(), ferro_bencode::OwnedValue::Int(16384)),
//! #     (b"pieces".to_vec(), ferro_bencode::OwnedValue::Bytes(vec![0; 20])),
//! #     (b"files".to_vec(), ferro_bencode::OwnedValue::List(vec![
//! #         ferro_bencode::OwnedValue::Dict([(b"length".to_vec(), ferro_bencode::OwnedValue::Int(10)),
//! #             (b"path".to_vec(), ferro_bencode::OwnedValue::List(vec!["a b.txt".into()]))].into()),
//! #         ferro_bencode::OwnedValue::Dict([(b"length".to_vec(), ferro_bencode::OwnedValue::Int(20)),
//! #             (b"path".to_vec(), ferro_bencode::OwnedValue::List(vec!["c".into()]))].into()),
//! #     ])),
//! # ].into())).unwrap();
//! let info = ferro_metainfo::Info::from_bytes(&raw)?;
//! let plan = ferro_webseed::plan_range(&info, "http://127.0.0.1:8080/seed/", 5, 10);
//! assert_eq!(plan[0].url, "http://127.0.0.1:8080/seed/dir/a%20b.txt");
//! assert_eq!(plan[0].range_header(), "bytes=5-9");
//! assert_eq!(plan[1].url, "http://127.0.0.1:8080/seed/dir/c");
//! assert_eq!(plan[1].range_header(), "bytes=0-4");
//! # Ok::<(), ferro_metainfo::Error>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

/// The README's examples, compiled and run as doctests (they use the `tokio` feature).
#[doc = include_str!("../README.md")]
#[cfg(all(doctest, feature = "tokio"))]
pub struct ReadmeDoctests;

#[cfg(feature = "tokio")]
mod client;
mod health;
mod plan;
mod seeds;
#[cfg(feature = "tokio")]
mod worker;

#[cfg(feature = "tokio")]
pub use client::{ClientConfig, MAX_REDIRECTS, WebSeedClient};
pub use health::{HealthConfig, SeedHealth};
pub use plan::{BodyPlan, Error, FetchError, RangeRequest, check_response, file_url, plan_range};
pub use seeds::{SeedId, WebSeeds, verify_piece};
#[cfg(feature = "tokio")]
pub use worker::WebSeedWorker;
