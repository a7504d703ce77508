//! Tokio drivers for the sans-IO core (feature `tokio`): HTTP(S) trackers via
//! reqwest with rustls, UDP trackers via a tokio socket, and
//! [`TrackerClient`], which picks one by URL scheme and walks BEP 12 tiers.

mod client;
mod http;
mod udp;

pub use client::{TrackerClient, TrackerClientConfig};
pub use http::{HttpConfig, HttpTracker};
pub use udp::UdpTracker;
