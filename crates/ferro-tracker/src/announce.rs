//! What a client tells a tracker and what the tracker answers, independent of
//! transport: the same types serve HTTP (BEP 3) and UDP (BEP 15).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ferro_core::{InfoHash, PeerId};

/// The `event` of an announce (BEP 3; BEP 15 numbers them 0–3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Event {
    /// A regular re-announce: no `event` key at all.
    #[default]
    None,
    /// The download finished (sent once, not when starting as a seed).
    Completed,
    /// The first announce of a session.
    Started,
    /// The client is leaving the swarm.
    Stopped,
}

impl Event {
    /// The HTTP `event` value, or `None` for [`Event::None`].
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            Event::None => None,
            Event::Completed => Some("completed"),
            Event::Started => Some("started"),
            Event::Stopped => Some("stopped"),
        }
    }

    /// Parses the HTTP `event` value; unknown or empty values are a regular announce.
    pub fn from_http(s: &[u8]) -> Event {
        match s {
            b"completed" => Event::Completed,
            b"started" => Event::Started,
            b"stopped" => Event::Stopped,
            _ => Event::None,
        }
    }

    /// The BEP 15 number: 0 none, 1 completed, 2 started, 3 stopped.
    pub fn to_udp(self) -> u32 {
        match self {
            Event::None => 0,
            Event::Completed => 1,
            Event::Started => 2,
            Event::Stopped => 3,
        }
    }

    /// Parses the BEP 15 number; unknown numbers are a regular announce.
    pub fn from_udp(n: u32) -> Event {
        match n {
            1 => Event::Completed,
            2 => Event::Started,
            3 => Event::Stopped,
            _ => Event::None,
        }
    }
}

/// One announce: the client's state in one torrent's swarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// The torrent.
    pub info_hash: InfoHash,
    /// This client's peer id.
    pub peer_id: PeerId,
    /// The port this client accepts peer connections on.
    pub port: u16,
    /// Bytes uploaded since the `started` event.
    pub uploaded: u64,
    /// Bytes downloaded since the `started` event.
    pub downloaded: u64,
    /// Bytes still needed to complete the torrent.
    pub left: u64,
    /// What happened, if anything.
    pub event: Event,
    /// How many peers the client wants; `None` lets the tracker choose.
    pub numwant: Option<u32>,
    /// A random value that identifies this client across IP changes.
    pub key: Option<u32>,
    /// Ask for the compact peer list (BEP 23). UDP trackers always answer compactly.
    pub compact: bool,
    /// An explicit IP to report (HTTP `ip`, UDP field); usually `None`.
    pub ip: Option<IpAddr>,
    /// The `tracker id` a previous HTTP response gave, sent back as `trackerid`.
    pub tracker_id: Option<Vec<u8>>,
}

impl AnnounceRequest {
    /// A `started` announce with the usual defaults (compact, tracker picks numwant).
    pub fn new(info_hash: InfoHash, peer_id: PeerId, port: u16, left: u64) -> Self {
        AnnounceRequest {
            info_hash,
            peer_id,
            port,
            uploaded: 0,
            downloaded: 0,
            left,
            event: Event::Started,
            numwant: None,
            key: None,
            compact: true,
            ip: None,
            tracker_id: None,
        }
    }
}

/// A peer as a tracker lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Where to connect.
    pub addr: SocketAddr,
    /// The peer's id, present only in the dictionary peer model (BEP 3).
    pub peer_id: Option<PeerId>,
}

impl From<SocketAddr> for Peer {
    fn from(addr: SocketAddr) -> Self {
        Peer {
            addr,
            peer_id: None,
        }
    }
}

/// A tracker's answer to an announce.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AnnounceResponse {
    /// How long to wait before the next regular announce.
    pub interval: Duration,
    /// The tracker's floor on re-announce spacing (HTTP `min interval`).
    pub min_interval: Option<Duration>,
    /// An id to send back as `trackerid` (HTTP only).
    pub tracker_id: Option<Vec<u8>>,
    /// Seeders in the swarm, if the tracker said.
    pub complete: Option<u32>,
    /// Leechers in the swarm, if the tracker said.
    pub incomplete: Option<u32>,
    /// Peers, IPv4 and IPv6 (`peers` and `peers6`, BEP 7) together.
    pub peers: Vec<Peer>,
    /// A `warning message` to show the user (the announce still succeeded).
    pub warning: Option<String>,
}

impl AnnounceResponse {
    /// The peers' addresses only.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.peers.iter().map(|p| p.addr).collect()
    }
}

/// One torrent's numbers in a scrape (BEP 48).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct ScrapeStats {
    /// Seeders.
    pub complete: u32,
    /// Completed downloads ever reported.
    pub downloaded: u32,
    /// Leechers.
    pub incomplete: u32,
}

/// A tracker's answer to a scrape: stats per info-hash it knows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScrapeResponse {
    /// Stats, in the tracker's order.
    pub files: Vec<(InfoHash, ScrapeStats)>,
}

impl ScrapeResponse {
    /// The stats for `info_hash`, if the tracker reported it.
    pub fn get(&self, info_hash: &InfoHash) -> Option<ScrapeStats> {
        self.files
            .iter()
            .find(|(h, _)| h == info_hash)
            .map(|(_, s)| *s)
    }
}
