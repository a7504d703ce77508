//! Magnet links and metadata exchange (BEP 9), sans-IO.
//!
//! - [`MagnetLink`]: parse and format `magnet:?` URIs: `xt=urn:btih:` (40 hex or
//!   32 base32 characters), `dn`, `tr`, `x.pe`, `ws` (web seeds), `xl`, `so`
//!   (BEP 53 select-only), `as`/`xs` kept as data, unknown parameters kept.
//! - [`MetadataMessage`]: the ut_metadata codec (request, data, reject).
//! - [`MetadataAssembler`]: fetches the info dictionary from several peers at
//!   once, times out slow ones, refuses oversized claims, and verifies the
//!   SHA-1 against the info-hash before handing the bytes out.
//!
//! No sockets and no clock: the caller feeds messages and `Instant`s in and
//! sends what the assembler asks for.
//!
//! ```
//! use ferro_magnet::MagnetLink;
//! let m: MagnetLink = "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=Some%20File&tr=udp%3A%2F%2F127.0.0.1%3A6969&x.pe=127.0.0.1:6881"
//!     .parse()?;
//! assert_eq!(m.display_name.as_deref(), Some("Some File"));
//! assert_eq!(m.trackers, ["udp://127.0.0.1:6969"]);
//! assert_eq!(m.peers[0].to_string(), "127.0.0.1:6881");
//! # Ok::<(), ferro_magnet::Error>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod assembler;
mod error;
mod message;
mod uri;

pub use assembler::{AssemblerConfig, AssemblerEvent, MetadataAssembler, PeerKey};
pub use error::Error;
pub use message::{METADATA_PIECE_SIZE, MetadataMessage, serve_request};
pub use uri::{MagnetLink, PeerAddr, SelectRange};
