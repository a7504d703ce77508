//! Counters of what a node did with its input, for operators and tests: how
//! many queries it served or refused and why, so an attack shows up as
//! numbers (issue #11) instead of as silence.

/// What a [`Node`](crate::Node) has counted since it started. Every field only
/// grows (saturating).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Datagrams handed to the node.
    pub datagrams_received: u64,
    /// Datagrams the node queued for sending.
    pub datagrams_sent: u64,
    /// Well-formed queries received (before the rate limit).
    pub queries_received: u64,
    /// Queries dropped silently because their source IP was over its rate.
    pub queries_rate_limited: u64,
    /// Datagrams that were not valid KRPC (answered with error 203 when they
    /// carried a transaction id and the sender was within its rate, else
    /// dropped). They never change the routing table or the peer store.
    pub malformed: u64,
    /// KRPC errors sent (201–204): to malformed datagrams and refused queries.
    pub errors_sent: u64,
    /// `announce_peer` queries refused for a token that was not ours for
    /// that IP, or had expired (error 203, nothing stored).
    pub bad_tokens: u64,
    /// `announce_peer` queries stored in the peer store.
    pub announces_stored: u64,
    /// Stored announces that displaced another one (store or IP at its cap).
    pub announces_evicted: u64,
    /// Responses that matched no query of ours, or came from another address
    /// than the one asked (ignored).
    pub unexpected_responses: u64,
    /// Nodes that answered but were kept out of the routing table by the
    /// per-IP / per-subnet restriction.
    pub nodes_rejected_ip: u64,
    /// Nodes dropped from lookups because their IP (or /24) was already
    /// among the lookup's candidates.
    pub lookup_nodes_rejected_ip: u64,
}
