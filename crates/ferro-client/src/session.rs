//! The session: one TCP listener, the tracker client, limits, and the torrents.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use ferro_core::InfoHash;
use ferro_metainfo::Metainfo;
use ferro_tracker::driver::{TrackerClient, TrackerClientConfig};
use ferro_wire::HandshakeDecoder;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};

use crate::handle::TorrentHandle;
use crate::rate::RateLimiter;
use crate::torrent::TorrentShared;
use crate::{Config, Error, connect};

mod pending;

/// What to add to a session.
#[derive(Debug, Clone)]
pub struct AddTorrent {
    /// The torrent.
    pub metainfo: Metainfo,
    /// Where its files go (created if missing). Nothing is written outside it.
    pub download_dir: PathBuf,
    /// Peers to dial directly, besides those trackers give.
    pub peers: Vec<SocketAddr>,
    /// Trackers to use besides the torrent's own, each its own tier.
    pub extra_trackers: Vec<String>,
    /// Skip the torrent's trackers (only `extra_trackers` and `peers` are used).
    pub no_trackers: bool,
    /// The priority of each file (`info.files()` order, padding included);
    /// `None`: the priorities saved in the resume data, or every file
    /// [`Normal`](crate::FilePriority::Normal). A list of another length is
    /// an error. Skipped files are not created (see [`crate::selection`]).
    pub file_priorities: Option<Vec<crate::FilePriority>>,
    /// Download pieces in order, for streaming (default false).
    pub sequential: bool,
    /// Read and write resume data (default true).
    pub use_resume: bool,
    /// Web seed URLs (BEP 19) to use besides the torrent's `url-list`, e.g.
    /// a magnet link's `ws=` or `ferro download --web-seed`.
    pub web_seeds: Vec<String>,
}

impl AddTorrent {
    /// Adds `metainfo`, downloading into `download_dir`.
    pub fn new(metainfo: Metainfo, download_dir: impl Into<PathBuf>) -> Self {
        AddTorrent {
            metainfo,
            download_dir: download_dir.into(),
            peers: Vec::new(),
            extra_trackers: Vec::new(),
            no_trackers: false,
            file_priorities: None,
            sequential: false,
            use_resume: true,
            web_seeds: Vec::new(),
        }
    }

    /// Adds a peer to dial.
    pub fn peer(mut self, addr: SocketAddr) -> Self {
        self.peers.push(addr);
        self
    }

    /// Sets every file's priority (see [`file_priorities`](Self::file_priorities)).
    pub fn with_file_priorities(mut self, priorities: Vec<crate::FilePriority>) -> Self {
        self.file_priorities = Some(priorities);
        self
    }

    /// Downloads pieces in order (see [`sequential`](Self::sequential)).
    pub fn with_sequential(mut self, on: bool) -> Self {
        self.sequential = on;
        self
    }

    /// Adds a tracker URL.
    pub fn tracker(mut self, url: impl Into<String>) -> Self {
        self.extra_trackers.push(url.into());
        self
    }

    /// Adds a web seed URL (BEP 19).
    pub fn web_seed(mut self, url: impl Into<String>) -> Self {
        self.web_seeds.push(url.into());
        self
    }
}

pub(crate) struct SessionInner {
    pub config: Arc<Config>,
    pub listen_addr: SocketAddr,
    pub torrents: Mutex<HashMap<InfoHash, Arc<TorrentShared>>>,
    pub tracker: Arc<TrackerClient>,
    pub stop: watch::Sender<bool>,
    pub session_peers: Arc<AtomicU64>,
    pub download_limit: Option<Arc<RateLimiter>>,
    pub upload_limit: Option<Arc<RateLimiter>>,
    /// The DHT node, when [`Config::dht`] is set.
    pub dht: Option<crate::dht::SessionDht>,
    /// Incoming connections still handshaking.
    pub pending: Arc<pending::PendingHandshakes>,
    /// The HTTP client of every torrent's web seeds (one pool, one limit per host).
    pub web_client: ferro_webseed::WebSeedClient,
}

/// A BitTorrent session: listens for peers and runs torrents. Cheap to clone.
///
/// Must be created inside a tokio runtime (multi-threaded recommended).
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("listen_addr", &self.inner.listen_addr)
            .finish()
    }
}

async fn bind(config: &Config) -> Result<TcpListener, Error> {
    let mut addrs = vec![config.listen_addr];
    if config.listen_addr.is_unspecified() && config.listen_addr.is_ipv6() {
        addrs.push(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
    let ports: Vec<u16> = if config.listen_port == 0 {
        vec![0]
    } else {
        // The fixed default port, a few after it, then any free port.
        (config.listen_port..config.listen_port.saturating_add(10))
            .chain([0])
            .collect()
    };
    let mut last = None;
    for ip in addrs {
        for &port in &ports {
            match TcpListener::bind(SocketAddr::new(ip, port)).await {
                Ok(l) => return Ok(l),
                Err(e) => last = Some(e),
            }
        }
    }
    Err(Error::Net(last.unwrap_or_else(|| {
        std::io::ErrorKind::AddrNotAvailable.into()
    })))
}

impl Session {
    /// Starts a session: binds the listener and starts accepting peers.
    pub async fn new(config: Config) -> Result<Session, Error> {
        let listener = bind(&config).await?;
        let listen_addr = listener.local_addr()?;
        // Tracker and web seed requests leave from the address peer dials
        // leave from (`Config::outgoing_addr`, set by `Config::bind`).
        let mut tracker_config = TrackerClientConfig::default();
        tracker_config.http.local_address = config.outgoing_addr;
        let tracker = TrackerClient::new(tracker_config)?;
        let (stop, _) = watch::channel(false);
        let dht = match &config.dht {
            Some(o) => Some(crate::dht::SessionDht::start(o, listen_addr).await?),
            None => None,
        };
        let mut web_config = config.web_seeds.client.clone();
        web_config.local_address = web_config.local_address.or(config.outgoing_addr);
        let web_client = ferro_webseed::WebSeedClient::new(web_config)
            .map_err(|e| Error::Internal(format!("web seed HTTP client: {e}")))?;
        let inner = Arc::new(SessionInner {
            download_limit: config.download_limit.map(|r| Arc::new(RateLimiter::new(r))),
            upload_limit: config.upload_limit.map(|r| Arc::new(RateLimiter::new(r))),
            config: Arc::new(config),
            listen_addr,
            torrents: Mutex::new(HashMap::new()),
            tracker: Arc::new(tracker),
            stop,
            session_peers: Arc::new(AtomicU64::new(0)),
            dht,
            pending: Default::default(),
            web_client,
        });
        tokio::spawn(accept_loop(inner.clone(), listener));
        Ok(Session { inner })
    }

    /// The address peers can reach this session on (port included).
    pub fn listen_addr(&self) -> SocketAddr {
        self.inner.listen_addr
    }

    /// The DHT node's UDP address, when the DHT is on.
    pub fn dht_addr(&self) -> Option<SocketAddr> {
        self.inner.dht.as_ref().map(|d| d.dht.local_addr())
    }

    /// Incoming connections still handshaking now: at most
    /// [`Config::max_pending_handshakes`], the oldest giving way to newcomers.
    pub fn pending_handshakes(&self) -> usize {
        self.inner.pending.len()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Adds a torrent: creates its files, checks existing data (trusting the
    /// resume file where it still matches), then downloads or seeds.
    pub async fn add_torrent(&self, add: AddTorrent) -> Result<TorrentHandle, Error> {
        crate::handle::add_torrent(&self.inner, add).await
    }

    /// Adds a torrent from a magnet link: fetches its metadata from the
    /// link's `x.pe` peers (and [`AddMagnet::peers`](crate::AddMagnet::peers)) with ut_metadata
    /// (BEP 9), saves it as `<download_dir>/.ferro/<info-hash>.torrent`
    /// (reused on the next call), then adds it like [`add_torrent`](Self::add_torrent)
    /// with the link's trackers and web seeds.
    pub async fn add_magnet(&self, add: crate::AddMagnet) -> Result<TorrentHandle, Error> {
        let add = crate::magnet::resolve(&self.inner, add).await?;
        self.add_torrent(add).await
    }

    /// The torrents in the session.
    pub fn torrents(&self) -> Vec<TorrentHandle> {
        let map = self
            .inner
            .torrents
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.values()
            .map(|t| TorrentHandle::new(t.clone(), self.inner.clone()))
            .collect()
    }

    /// Stops every torrent (writing resume data, announcing `stopped`) and
    /// the listener.
    pub async fn shutdown(&self) {
        for t in self.torrents() {
            t.remove().await;
        }
        if let Some(d) = &self.inner.dht {
            d.shutdown().await;
        }
        self.inner.stop.send_replace(true);
    }
}

/// An IPv4 peer accepted on a dual-stack (`[::]`) listener arrives as an
/// IPv4-mapped IPv6 address (`[::ffff:127.0.0.1]`); every other place
/// (trackers, dials, PEX, bans) names it in IPv4. Unmapped, an incoming
/// peer's address and its listen address compare equal to the ones we dial,
/// so we never dial a peer already connected to us, and two simultaneous
/// connections between the same two peers are recognised as duplicates of
/// one host, where the peer-id rule keeps the same one on both sides
/// (bench-swarm's 10 s first byte: each side kept a different one).
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

async fn accept_loop(inner: Arc<SessionInner>, listener: TcpListener) {
    let mut stop = inner.stop.subscribe();
    let pending = inner.pending.clone();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, addr)) => {
                    let addr = canonical(addr);
                    let slot = pending.admit(inner.config.max_pending_handshakes);
                    let inner = inner.clone();
                    tokio::spawn(async move {
                        if let Err(e) = accept_one(inner, stream, addr, slot).await {
                            tracing::debug!(%addr, error = %e, "incoming peer refused");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = stop.changed() => return,
        }
    }
}

/// An incoming connection: read the info-hash (first 48 bytes), answer with
/// our handshake for that torrent, then read the rest of theirs. `slot`
/// holds a pending-handshake place until the handshake is done; the
/// handshake is abandoned if a newer connection takes the place.
async fn accept_one(
    inner: Arc<SessionInner>,
    mut stream: TcpStream,
    addr: SocketAddr,
    slot: pending::PendingSlot,
) -> Result<(), Error> {
    let replaced = slot.replaced.clone();
    let (torrent, theirs, rbuf) = tokio::select! {
        r = handshake_incoming(&inner, &mut stream, addr) => r?,
        _ = replaced.notified() => {
            return Err(Error::Timeout("incoming handshake (replaced by a newer connection)"));
        }
    };
    drop(slot);
    connect::run(torrent, stream, addr, theirs, rbuf).await
}

/// The handshake of an incoming connection, each half within the
/// handshake timeout.
async fn handshake_incoming(
    inner: &SessionInner,
    stream: &mut TcpStream,
    addr: SocketAddr,
) -> Result<(Arc<TorrentShared>, ferro_wire::Handshake, BytesMut), Error> {
    stream.set_nodelay(true)?;
    let timeout = inner.config.handshake_timeout;
    // Small until the peer is admitted: the peer task grows it as needed.
    let mut rbuf = BytesMut::with_capacity(ferro_wire::HANDSHAKE_LEN * 2);
    let info_hash = tokio::time::timeout(timeout, async {
        // Bounded: each pass reads at least one byte; 48 are enough.
        for _ in 0..48 {
            if let Some(h) = HandshakeDecoder::peek_info_hash(&rbuf)? {
                return Ok(h);
            }
            if tokio::io::AsyncReadExt::read_buf(stream, &mut rbuf).await? == 0 {
                return Err(Error::Net(std::io::ErrorKind::UnexpectedEof.into()));
            }
        }
        Err(Error::Internal("handshake not complete".into()))
    })
    .await
    .map_err(|_| Error::Timeout("incoming handshake"))??;
    let torrent = {
        let map = inner.torrents.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&info_hash).cloned()
    };
    let Some(torrent) = torrent else {
        return Err(Error::Peer {
            addr,
            reason: format!("unknown info-hash {}", info_hash.to_hex()),
        });
    };
    if torrent.lock().is_banned(addr) {
        return Err(Error::Peer {
            addr,
            reason: "banned".into(),
        });
    }
    stream
        .write_all(&connect::our_handshake(&torrent).to_bytes())
        .await?;
    let theirs = tokio::time::timeout(timeout, connect::read_handshake(stream, &mut rbuf))
        .await
        .map_err(|_| Error::Timeout("incoming handshake"))??;
    Ok((torrent, theirs, rbuf))
}

pub(crate) fn new_shared(
    inner: &SessionInner,
    info: Arc<ferro_metainfo::Info>,
    storage: Arc<crate::storage::Storage>,
    resume_path: PathBuf,
    picker: crate::picker::PiecePicker,
) -> Arc<TorrentShared> {
    let (events, _) = broadcast::channel(1024);
    let (complete, _) = watch::channel(false);
    let (stop, _) = watch::channel(false);
    Arc::new(TorrentShared {
        info_hash: info.info_hash(),
        info,
        storage,
        config: inner.config.clone(),
        listen_port: inner.listen_addr.port(),
        dht: inner.dht.clone(),
        state: Mutex::new(crate::torrent::State {
            picker,
            buffers: HashMap::new(),
            peers: HashMap::new(),
            verified_log: Vec::new(),
            known: HashMap::new(),
            known_pex: Default::default(),
            connecting: Default::default(),
            banned: Default::default(),
            hash_fails: HashMap::new(),
            failed_blocks: HashMap::new(),
            hash_failures: 0,
            paused: false,
            checking: true,
            checked: None,
            error: None,
            file_priorities: Vec::new(),
            next_key: 1,
            download_rate: Default::default(),
            upload_rate: Default::default(),
            web: crate::webseed::WebSeedState::new(inner.config.web_seeds.health.clone()),
        }),
        events,
        downloaded: AtomicU64::new(0),
        uploaded: AtomicU64::new(0),
        wake: tokio::sync::Notify::new(),
        complete,
        stop,
        download_limit: inner.download_limit.clone(),
        upload_limit: inner.upload_limit.clone(),
        resume_path,
        session_peers: inner.session_peers.clone(),
        announcer: Mutex::new(None),
        resume_saved_at: AtomicU64::new(u64::MAX),
        resume_save: tokio::sync::Mutex::new(()),
        pending_verify: AtomicU64::new(0),
        verify_slots: tokio::sync::Semaphore::new(crate::storage::hashing_threads() + 1),
    })
}

#[cfg(test)]
mod canonical_tests {
    use super::canonical;
    use std::net::SocketAddr;

    #[test]
    fn ipv4_mapped_peers_are_named_in_ipv4() {
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:6881".parse().unwrap();
        let v4: SocketAddr = "127.0.0.1:6881".parse().unwrap();
        assert_eq!(canonical(mapped), v4);
        assert_eq!(canonical(v4), v4);
        let v6: SocketAddr = "[::1]:6881".parse().unwrap();
        assert_eq!(canonical(v6), v6);
    }
}
