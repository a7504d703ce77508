//! HTTP trackers (BEP 3): announce/scrape URLs and response bodies.

pub mod request;
pub mod response;

pub use request::{announce_url, scrape_url, scrape_url_for};
pub use response::{encode_announce, encode_failure, encode_scrape, parse_announce, parse_scrape};
