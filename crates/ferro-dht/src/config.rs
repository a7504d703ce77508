//! One configuration struct for a DHT node, with documented defaults.

use std::time::Duration;

use crate::peer_store::PeerStoreConfig;
use crate::rate_limit::RateLimitConfig;
use crate::routing::RoutingConfig;

/// Settings of a DHT node (the sans-IO core and the driver).
#[derive(Clone, Debug, PartialEq)]
pub struct DhtConfig {
    /// Routing-table settings (k = 8, one node per IP, ...).
    pub routing: RoutingConfig,
    /// Peer-store bounds (30-minute expiry).
    pub peer_store: PeerStoreConfig,
    /// Per-IP limits on incoming queries; `None` turns them off (simulations).
    pub rate_limit: Option<RateLimitConfig>,
    /// Parallel queries per lookup (Kademlia's α = 3).
    pub alpha: usize,
    /// How long to wait for an answer before a query counts as failed.
    pub query_timeout: Duration,
    /// After this long without an answer, a lookup sends another query in
    /// the slow one's place (still accepting its late answer).
    pub query_stall: Duration,
    /// Host names or addresses (`host:port`) the driver resolves and bootstraps
    /// from when the routing table is empty. Default: the well-known public
    /// routers. Tests must set this to empty or to loopback addresses.
    pub bootstrap_nodes: Vec<String>,
    /// BEP 43 read-only mode: send `ro=1`, answer no queries.
    pub read_only: bool,
    /// The `v` key we send: two client letters and two version bytes.
    pub version: Option<Vec<u8>>,
    /// A reply may be at most this many times larger than the query that
    /// asked for it (anti-amplification); values, then nodes, are trimmed.
    pub max_amplification: usize,
    /// A reply is never larger than this many bytes (one unfragmented datagram).
    pub max_reply_size: usize,
    /// Peers returned in one get_peers reply at most.
    pub max_values: usize,
    /// Concurrent lookups at most; further starts finish at once, empty.
    pub max_lookups: usize,
    /// Outstanding queries at most (lookups, pings, announces).
    pub max_pending: usize,
}

impl Default for DhtConfig {
    fn default() -> Self {
        DhtConfig {
            routing: RoutingConfig::default(),
            peer_store: PeerStoreConfig::default(),
            rate_limit: Some(RateLimitConfig::default()),
            alpha: 3,
            query_timeout: Duration::from_secs(2),
            query_stall: Duration::from_millis(500),
            bootstrap_nodes: [
                "router.bittorrent.com:6881",
                "router.utorrent.com:6881",
                "dht.transmissionbt.com:6881",
                "dht.libtorrent.org:25401",
            ]
            .map(String::from)
            .to_vec(),
            read_only: false,
            version: Some(b"FE\x00\x01".to_vec()),
            max_amplification: 10,
            max_reply_size: 1280,
            max_values: 50,
            max_lookups: 64,
            max_pending: 1024,
        }
    }
}

impl DhtConfig {
    /// Settings for tests on one host: no public bootstrap routers, many nodes
    /// per IP (they all share 127.0.0.1), no rate limits.
    pub fn loopback() -> Self {
        DhtConfig {
            routing: RoutingConfig {
                restrict_routing_ips: false,
                ..RoutingConfig::default()
            },
            rate_limit: None,
            bootstrap_nodes: Vec::new(),
            ..DhtConfig::default()
        }
    }
}
