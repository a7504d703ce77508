//! The crate's one error type.

use std::time::Duration;

/// Everything that can go wrong talking to, or being, a tracker.
///
/// Every failure caused by untrusted input (a response body, a datagram, a
/// request) is one of these variants with the offending value in its message;
/// nothing in this crate panics on such input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The tracker URL could not be parsed.
    #[error("invalid tracker URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The URL's scheme is not one this operation speaks.
    #[error("unsupported tracker URL scheme {0:?}")]
    UnsupportedScheme(String),
    /// BEP 48: the announce URL's last path component does not start with
    /// `announce`, so the tracker has no derivable scrape URL.
    #[error("announce URL {0:?} has no scrape URL (last path component is not `announce`)")]
    NoScrapeUrl(String),
    /// An HTTP tracker body was not valid bencode.
    #[error("tracker response is not valid bencode: {0}")]
    Bencode(String),
    /// The response's root (or a required part) has the wrong shape.
    #[error("malformed tracker response: {0}")]
    Malformed(String),
    /// A required key is missing from an HTTP tracker response.
    #[error("tracker response lacks the required key {0:?}")]
    MissingField(&'static str),
    /// A key of an HTTP tracker response has a value of the wrong type or range.
    #[error("tracker response key {field:?} has an invalid value: {value}")]
    InvalidField {
        /// The key.
        field: &'static str,
        /// The offending value, printed.
        value: String,
    },
    /// A compact peer list had a bad length (BEP 23 / BEP 7).
    #[error("bad compact peer list: {0}")]
    Compact(#[from] ferro_core::Error),
    /// The tracker answered with `failure reason` (BEP 3) or a UDP error
    /// action (BEP 15).
    #[error("tracker failure: {0}")]
    TrackerFailure(String),
    /// A UDP datagram was shorter than its action requires.
    #[error("UDP tracker packet truncated: {len} bytes, action {action} needs at least {need}")]
    UdpTruncated {
        /// The action field (or `u32::MAX` when even that was missing).
        action: u32,
        /// The datagram's length.
        len: usize,
        /// The minimum length for that action.
        need: usize,
    },
    /// A UDP datagram carried an action this side does not accept.
    #[error("UDP tracker packet with unexpected action {0}")]
    UdpAction(u32),
    /// A UDP request did not start with the BEP 15 protocol id.
    #[error("UDP connect request with wrong protocol id {0:#x}")]
    UdpProtocolId(u64),
    /// A UDP reply carried a transaction id we did not send (BEP 15: the
    /// client must check it).
    #[error("UDP tracker reply with transaction id {got:#010x}, expected {expected:#010x}")]
    UdpTransaction {
        /// The id of the outstanding request.
        expected: u32,
        /// The id in the reply.
        got: u32,
    },
    /// A UDP reply arrived while no request was outstanding.
    #[error("unsolicited UDP tracker reply (transaction id {0:#010x})")]
    UdpUnsolicited(u32),
    /// A UDP scrape asked for more info-hashes than fit in one packet.
    #[error("UDP scrape of {0} info-hashes exceeds the limit of {1}")]
    TooManyHashes(usize, usize),
    /// The UDP client retransmitted the maximum number of times (BEP 15: n ≤ 8)
    /// without an answer.
    #[error("UDP tracker did not answer after {attempts} attempts")]
    UdpGaveUp {
        /// How many times the request was sent.
        attempts: u32,
    },
    /// The UDP client already has a request outstanding.
    #[error("UDP tracker client is busy with another request")]
    Busy,
    /// The HTTP body grew past the configured cap while streaming.
    #[error("tracker response body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// More redirects than allowed (default 5).
    #[error("tracker redirected more than {0} times")]
    TooManyRedirects(usize),
    /// The request took longer than allowed.
    #[error("tracker request timed out after {0:?}")]
    Timeout(Duration),
    /// The HTTP tracker answered with a non-success status.
    #[error("tracker answered HTTP status {0}")]
    HttpStatus(u16),
    /// A transport-level failure (connection refused, TLS, DNS, ...).
    #[error("tracker transport error: {0}")]
    Transport(String),
    /// A server socket could not be bound.
    #[error("cannot bind {addr}: {reason}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The OS error.
        reason: String,
    },
    /// A torrent has no tracker left to try.
    #[error("no tracker answered ({0} tried)")]
    AllTrackersFailed(usize),
}
