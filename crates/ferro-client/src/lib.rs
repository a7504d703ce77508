//! Ferro's BitTorrent client.
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod error;
pub mod picker;
pub mod storage;

pub use error::Error;
