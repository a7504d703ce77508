//! The Mainline DHT of BEP 5: a Kademlia network over UDP in which BitTorrent
//! clients find peers for an info-hash without a tracker.
//!
//! - [`krpc`]: the KRPC message codec (ping, find_node, get_peers,
//!   announce_peer, errors 201–204, `v`, `ro`, `implied_port`, `nodes6`).
//! - [`RoutingTable`]: k = 8 buckets, splitting only the bucket covering our
//!   own id, good / questionable / bad nodes, replacement caches, refresh.
//! - [`Node`]: the sans-IO node core. Feed it datagrams and `Instant`s; it
//!   returns datagrams to send, events and its next deadline. It owns no
//!   socket, no clock and no global RNG (it takes a seeded one), so
//!   [`sim`] can run thousands of nodes deterministically in one process.
//! - `driver` (feature `tokio`): the node on a tokio UDP socket.
//!
//! Defences against hostile hosts (issue #11): per-IP query rate limits
//! ([`RateLimitConfig`]), write tokens bound to the querier's IP
//! ([`TokenSecret`]), a peer store bounded per torrent, per IP and overall
//! ([`PeerStoreConfig`]), and at most one routing-table node per IP
//! ([`RoutingConfig::restrict_routing_ips`]); [`NodeStats`] counts what they
//! refused. [`DhtConfig::loopback`] turns the IP rules off for tests on one host.
//!
//! ```
//! use std::time::Instant;
//! use ferro_dht::{DhtConfig, Node, NodeId};
//! use rand::{SeedableRng, rngs::StdRng};
//!
//! let now = Instant::now();
//! let mut a = Node::new(DhtConfig::default(), NodeId([1; 20]), StdRng::seed_from_u64(1), now);
//! let mut b = Node::new(DhtConfig::default(), NodeId([2; 20]), StdRng::seed_from_u64(2), now);
//! let (addr_a, addr_b) = ("10.0.0.1:6881".parse()?, "10.0.0.2:6881".parse()?);
//!
//! // `a` pings `b`; shuttle the datagrams by hand.
//! a.add_node(addr_b, now);
//! let ping = a.poll_transmit().expect("a ping");
//! b.handle_datagram(now, addr_a, &ping.payload);
//! // `b` answers, and pings `a` back since it does not know it yet.
//! while let Some(t) = b.poll_transmit() {
//!     a.handle_datagram(now, addr_b, &t.payload);
//! }
//! assert_eq!(a.routing_table().len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod config;
mod id;
pub mod krpc;
mod lookup;
mod node;
mod peer_store;
mod persist;
mod rate_limit;
mod routing;
pub mod sim;
mod stats;
mod token;

#[cfg(feature = "tokio")]
pub mod driver;

pub use config::DhtConfig;
pub use id::{
    Distance, NODE_V4_LEN, NODE_V6_LEN, NodeId, NodeInfo, decode_nodes_v4, decode_nodes_v6,
};
pub use lookup::{LookupId, LookupKind, LookupStats};
pub use node::{Event, Node, Transmit};
pub use peer_store::{PEER_TTL, PeerStore, PeerStoreConfig, StoreOutcome};
pub use persist::SavedState;
pub use rate_limit::{RateLimitConfig, RateLimiter};
pub use routing::{GOOD_PERIOD, InsertOutcome, NodeEntry, NodeState, RoutingConfig, RoutingTable};
pub use stats::NodeStats;
pub use token::{ROTATE_EVERY, TOKEN_LEN, TokenSecret};

pub use ferro_core::InfoHash;

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The datagram is not valid bencode.
    #[error("bencode: {0}")]
    Bencode(String),
    /// The datagram is larger than any KRPC message may be.
    #[error("datagram of {0} bytes is larger than {max}", max = krpc::MAX_DATAGRAM)]
    TooLarge(usize),
    /// The top-level value is not a dictionary.
    #[error("KRPC message is not a dictionary")]
    NotADict,
    /// A required key is absent.
    #[error("missing key {0:?}")]
    MissingKey(&'static str),
    /// A key holds the wrong bencode type.
    #[error("key {0:?} has the wrong type")]
    WrongType(&'static str),
    /// `y` is not `q`, `r` or `e`.
    #[error("unknown message type {0:?}")]
    UnknownMessageType(String),
    /// `q` names a method we do not know (answered with error 204).
    #[error("unknown method {0:?}")]
    UnknownMethod(String),
    /// An id or info-hash is not 20 bytes.
    #[error("{key:?} is {len} bytes, expected 20")]
    BadId {
        /// The key.
        key: &'static str,
        /// Its length.
        len: usize,
    },
    /// A 20-byte id had another length.
    #[error("id of {0} bytes, expected 20")]
    IdLength(usize),
    /// `port` is not a valid port number.
    #[error("port {0} out of range")]
    BadPort(i64),
    /// The transaction id is longer than we accept.
    #[error("transaction id of {0} bytes is too long")]
    TransactionIdLength(usize),
    /// The token is longer than we accept.
    #[error("token of {0} bytes is too long")]
    TokenLength(usize),
    /// A compact node list's length is not a multiple of its entry size.
    #[error("compact node list of {len} bytes is not a multiple of {entry}")]
    CompactNodesLength {
        /// The list's length.
        len: usize,
        /// 26 (IPv4) or 38 (IPv6).
        entry: usize,
    },
    /// Saved routing-table state could not be read.
    #[error("saved DHT state: {0}")]
    SavedState(String),
    /// An I/O error in the driver.
    #[error("I/O: {0}")]
    Io(String),
    /// The driver task has stopped.
    #[error("the DHT driver has shut down")]
    Shutdown,
}
