//! Session configuration, with documented defaults.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use ferro_core::PeerId;

/// How a [`Session`](crate::Session) behaves. `Config::default()` suits a
/// desktop client; tests usually set `listen_addr` to loopback and
/// `listen_port` to 0.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to accept peers on (default `::`, which on Linux also accepts
    /// IPv4; falls back to `0.0.0.0` when IPv6 is unavailable).
    pub listen_addr: IpAddr,
    /// Source address of outgoing peer connections (default `None`: the
    /// operating system picks one per route). With `Some(ip)` every dial
    /// binds its socket to `ip` (any port) first, like libtorrent's
    /// `outgoing_interfaces`: a multi-homed host or a test with several
    /// addresses then shows peers a chosen IP. A peer of the other IP
    /// family cannot be dialed from it and fails to connect.
    /// [`Config::bind`] sets this and [`listen_addr`](Config::listen_addr)
    /// together. Tracker announces (HTTP and UDP) and web seed requests
    /// leave from it too; a tracker or web seed of the other family then
    /// fails like such a peer.
    pub outgoing_addr: Option<IpAddr>,
    /// TCP port to accept peers on (default 6881; when taken, the next free
    /// one up to 6891, then any). 0 picks any free port.
    pub listen_port: u16,
    /// Our peer id (default: a fresh `-FE0100-…` id).
    pub peer_id: PeerId,
    /// Connections per torrent, incoming and outgoing together (default 50).
    pub max_peers_per_torrent: usize,
    /// Connections in the whole session (default 200).
    pub max_peers: usize,
    /// Incoming connections that may be handshaking at once (default 64).
    /// Beyond it the oldest gives way to the newcomer, so a burst of
    /// sockets that never finish the handshake stays cheap and cannot lock
    /// out an honest peer.
    pub max_pending_handshakes: usize,
    /// Regular unchoke slots per torrent; one more is the optimistic unchoke (default 8).
    pub unchoke_slots: usize,
    /// Download limit in bytes per second for the session (`None`: unlimited).
    pub download_limit: Option<u64>,
    /// Upload limit in bytes per second for the session (`None`: unlimited).
    pub upload_limit: Option<u64>,
    /// Requests we let a peer queue with us, sent as `reqq` (default 500).
    pub max_request_queue: u32,
    /// Connecting to a peer (default 5 s).
    pub connect_timeout: Duration,
    /// Handshake, including the remote's extended handshake (default 10 s).
    pub handshake_timeout: Duration,
    /// A peer with requests outstanding that sends no block for this long is
    /// snubbed: its requests go to others and it loses its unchoke slot (default 60 s).
    pub snub_timeout: Duration,
    /// A peer that sends nothing at all for this long is dropped (default 150 s).
    pub idle_timeout: Duration,
    /// Hash failures a peer's address may take part in before it is banned (default 2).
    pub ban_after_hash_failures: u32,
    /// How often the resume file is written while downloading (default 15 s).
    pub resume_interval: Duration,
    /// How often the choker reconsiders unchoke slots (default 10 s).
    pub choke_interval: Duration,
    /// How often the optimistic unchoke moves on (default 30 s).
    pub optimistic_interval: Duration,
    /// Floor for the time between announces to a tracker (default 30 s).
    pub min_announce_interval: Duration,
    /// One announce to one tracker (default 20 s): a tracker slower than
    /// this counts as failed and the next one is asked.
    pub tracker_timeout: Duration,
    /// Peer exchange (BEP 11) on public torrents (default on; never on
    /// private ones, BEP 27).
    pub pex: bool,
    /// Shortest time between two PEX messages to one peer, each way
    /// (default 60 s, as BEP 11 asks; tests shorten it).
    pub pex_interval: Duration,
    /// The Mainline DHT (BEP 5). `None` (the default here; the CLI turns it
    /// on with [`DhtOptions::default`](crate::DhtOptions)): no DHT node.
    pub dht: Option<crate::DhtOptions>,
    /// Web seeds (BEP 19): HTTP client, backoff, run sizes (default: on).
    pub web_seeds: crate::WebSeedConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen_addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            outgoing_addr: None,
            listen_port: 6881,
            peer_id: ferro_wire::generate_peer_id(),
            max_peers_per_torrent: 50,
            max_peers: 200,
            max_pending_handshakes: 64,
            unchoke_slots: 8,
            download_limit: None,
            upload_limit: None,
            max_request_queue: 500,
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            snub_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(150),
            ban_after_hash_failures: 2,
            resume_interval: Duration::from_secs(15),
            choke_interval: Duration::from_secs(10),
            optimistic_interval: Duration::from_secs(30),
            min_announce_interval: Duration::from_secs(30),
            tracker_timeout: Duration::from_secs(20),
            pex: true,
            pex_interval: Duration::from_secs(60),
            dht: None,
            web_seeds: crate::WebSeedConfig::default(),
        }
    }
}

impl Config {
    /// A configuration for loopback tests and demos: listens on
    /// `127.0.0.1`, any free port.
    pub fn loopback() -> Self {
        Config {
            listen_addr: IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            listen_port: 0,
            ..Config::default()
        }
    }

    /// Binds the whole session to `ip`: peers are accepted on it
    /// ([`listen_addr`](Config::listen_addr)), outgoing connections come
    /// from it ([`outgoing_addr`](Config::outgoing_addr)), and the DHT's
    /// UDP socket (unless [`DhtOptions::bind_addr`](crate::DhtOptions::bind_addr)
    /// says otherwise) uses it too.
    ///
    /// ```
    /// let cfg = ferro_client::Config::loopback().bind("127.0.0.2".parse().unwrap());
    /// assert_eq!(cfg.outgoing_addr, Some(cfg.listen_addr));
    /// ```
    #[must_use]
    pub fn bind(mut self, ip: IpAddr) -> Self {
        self.listen_addr = ip;
        self.outgoing_addr = Some(ip);
        self
    }
}
