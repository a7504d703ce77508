//! What a torrent reports: its statistics and its events.

use std::net::SocketAddr;

/// What a torrent is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TorrentState {
    /// Hashing existing data.
    Checking,
    /// Downloading pieces.
    Downloading,
    /// Every wanted piece is verified; serving what we have.
    Seeding,
    /// Paused by the user: no connections.
    Paused,
    /// Stopped by an error (see [`TorrentStats::error`]).
    Error,
}

/// A snapshot of a torrent's numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct TorrentStats {
    /// The state.
    pub state: TorrentState,
    /// Total payload size in bytes.
    pub total_length: u64,
    /// Bytes of verified pieces.
    pub verified_bytes: u64,
    /// Bytes of the pieces to download: those holding a byte of a wanted
    /// file (`total_length` when no file is skipped).
    pub wanted_length: u64,
    /// Bytes of wanted pieces not yet verified.
    pub wanted_left: u64,
    /// Bytes of the files selected for download (priority above skip).
    pub selected_length: u64,
    /// Whether pieces are picked in order (streaming).
    pub sequential: bool,
    /// Verified pieces.
    pub pieces_have: u32,
    /// Pieces in the torrent.
    pub piece_count: u32,
    /// Payload bytes received in this session (including discarded ones).
    pub downloaded: u64,
    /// Payload bytes sent in this session.
    pub uploaded: u64,
    /// Download rate, bytes per second.
    pub download_rate: u64,
    /// Upload rate, bytes per second.
    pub upload_rate: u64,
    /// Connected peers.
    pub peers_connected: usize,
    /// Known peer addresses (trackers, `--peer`, incoming).
    pub peers_known: usize,
    /// Known peer addresses first learned through PEX (BEP 11).
    pub peers_from_pex: usize,
    /// Web seeds (BEP 19) in use: added and not dropped for corrupt data.
    pub web_seeds: usize,
    /// Payload bytes received from web seeds in this session (also counted
    /// in `downloaded`).
    pub downloaded_from_web_seeds: u64,
    /// Pieces that failed their hash check.
    pub hash_failures: u32,
    /// The error that stopped the torrent, if any.
    pub error: Option<String>,
}

impl TorrentStats {
    /// Fraction of the wanted pieces verified, 0.0 to 1.0 (of the whole
    /// payload when no file is skipped).
    pub fn progress(&self) -> f64 {
        if self.wanted_length == 0 {
            1.0
        } else {
            self.wanted_length.saturating_sub(self.wanted_left) as f64 / self.wanted_length as f64
        }
    }
}

/// Something that happened to a torrent.
#[derive(Debug, Clone, PartialEq)]
pub enum TorrentEvent {
    /// Existing data was checked; `pieces` were already there.
    Checked {
        /// Pieces found valid.
        pieces: u32,
        /// Pieces hashed (the others were trusted from the resume file).
        hashed: u32,
    },
    /// A piece passed its hash check and is on disk.
    PieceVerified(u32),
    /// A piece failed its hash check and will be downloaded again.
    HashFailed {
        /// The piece.
        piece: u32,
        /// Addresses that sent blocks of it.
        peers: Vec<SocketAddr>,
    },
    /// An address is banned for sending data that failed the hash check
    /// (port 0: the whole IP; on loopback the ban is per ip:port).
    PeerBanned(SocketAddr),
    /// A peer connection completed its handshake.
    PeerConnected(SocketAddr),
    /// A peer connection ended.
    PeerDisconnected {
        /// The peer.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// A tracker answered.
    Announced {
        /// The tracker URL.
        url: String,
        /// Peers it listed.
        peers: usize,
    },
    /// A tracker did not answer: timed out, an unreadable answer, too many
    /// redirects, a failure reason... (the message starts with its URL).
    AnnounceFailed(String),
    /// A web seed (BEP 19) is no longer used: pieces it served failed the
    /// hash check too often (`WebSeedConfig::health.max_hash_failures`).
    WebSeedDropped(String),
    /// Every wanted piece is verified on disk (every piece unless files are
    /// skipped). Sent again if a priority raised later is completed too.
    Completed,
    /// The torrent stopped on an error (disk full, permission denied, ...).
    Error(String),
}
