//! A tracker server (feature `server`): HTTP and UDP announce and scrape over
//! in-memory swarms, with peer expiry, capped `numwant`, per-IP rate limits
//! and bounded memory.
//!
//! The protocol logic is sans-IO ([`swarm`], [`http::handle_request`],
//! [`udp::handle_datagram`]); this module binds the sockets and runs them on
//! tokio.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ferro_tracker::Error> {
//! use ferro_tracker::server::{Server, ServerConfig};
//! let config = ServerConfig {
//!     http: Some("127.0.0.1:0".parse().unwrap()),
//!     udp: Some("127.0.0.1:0".parse().unwrap()),
//!     ..ServerConfig::default()
//! };
//! let server = Server::bind(config).await?;
//! let handle = server.spawn();
//! let url = format!("http://{}/announce", handle.http_addr().unwrap());
//! # let _ = url;
//! handle.stop().await;
//! # Ok(())
//! # }
//! ```

pub mod http;
pub mod limit;
pub mod swarm;
pub mod udp;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinSet;

pub use limit::{RateLimit, RateLimiter};
pub use swarm::{AnnounceOutcome, PeerAnnounce, Refusal, SwarmConfig, Swarms};

use crate::{Error, InfoHash, PeerId, ScrapeStats};

/// Everything a [`Server`] needs; defaults suit a LAN tracker.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Where to serve HTTP (`None`: no HTTP). Port 0 picks a free port.
    pub http: Option<SocketAddr>,
    /// Where to serve UDP (`None`: no UDP). Port 0 picks a free port.
    pub udp: Option<SocketAddr>,
    /// Swarm limits and timing (`interval`, expiry, numwant caps, sizes).
    pub swarm: SwarmConfig,
    /// Per-IP rate limit (`None`: unlimited).
    pub rate_limit: Option<RateLimit>,
    /// Most HTTP connections served at once; more wait in the kernel's backlog.
    pub max_http_connections: usize,
    /// Time allowed for one HTTP request, read to reply.
    pub http_request_timeout: Duration,
    /// How long a UDP connection id stays valid at least (BEP 15: a minute).
    pub connection_id_period: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            http: None,
            udp: None,
            swarm: SwarmConfig::default(),
            rate_limit: Some(RateLimit::default()),
            max_http_connections: 512,
            http_request_timeout: Duration::from_secs(10),
            connection_id_period: Duration::from_secs(60),
        }
    }
}

/// State shared by the HTTP and UDP tasks. Locks are never held across an await.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) swarms: Mutex<Swarms>,
    limiter: Option<Mutex<RateLimiter>>,
}

impl Shared {
    pub(crate) fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        match &self.limiter {
            None => true,
            Some(l) => l.lock().map(|mut l| l.allow(ip, now)).unwrap_or(false),
        }
    }
}

/// A bound, not yet running tracker.
#[derive(Debug)]
pub struct Server {
    config: ServerConfig,
    http: Option<TcpListener>,
    udp: Option<UdpSocket>,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds the configured sockets.
    pub async fn bind(config: ServerConfig) -> Result<Server, Error> {
        let bind_err = |addr, e: std::io::Error| Error::Bind {
            addr,
            reason: e.to_string(),
        };
        let http = match config.http {
            Some(a) => Some(TcpListener::bind(a).await.map_err(|e| bind_err(a, e))?),
            None => None,
        };
        let udp = match config.udp {
            Some(a) => Some(UdpSocket::bind(a).await.map_err(|e| bind_err(a, e))?),
            None => None,
        };
        let shared = Arc::new(Shared {
            swarms: Mutex::new(Swarms::new(config.swarm.clone())),
            limiter: config
                .rate_limit
                .clone()
                .map(|l| Mutex::new(RateLimiter::new(l))),
        });
        Ok(Server {
            config,
            http,
            udp,
            shared,
        })
    }

    /// The bound HTTP address.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The bound UDP address.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp.as_ref().and_then(|s| s.local_addr().ok())
    }

    /// Starts serving on the current tokio runtime.
    pub fn spawn(self) -> ServerHandle {
        let http_addr = self.http_addr();
        let udp_addr = self.udp_addr();
        let mut tasks = JoinSet::new();
        if let Some(l) = self.http {
            tasks.spawn(run_http(
                l,
                self.shared.clone(),
                self.config.max_http_connections.max(1),
                self.config.http_request_timeout,
            ));
        }
        if let Some(s) = self.udp {
            let ids = udp::ConnectionIds::new(Instant::now(), self.config.connection_id_period);
            tasks.spawn(run_udp(s, self.shared.clone(), ids));
        }
        tasks.spawn(run_expiry(self.shared.clone(), self.config.swarm.interval));
        ServerHandle {
            http_addr,
            udp_addr,
            shared: self.shared,
            tasks,
        }
    }
}

/// A running tracker. Dropping it stops the server too.
#[derive(Debug)]
pub struct ServerHandle {
    http_addr: Option<SocketAddr>,
    udp_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    tasks: JoinSet<()>,
}

impl ServerHandle {
    /// The HTTP address (announce URL: `http://ADDR/announce`).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The UDP address (announce URL: `udp://ADDR/announce`).
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp_addr
    }

    /// `http://ADDR/announce`, if HTTP is served.
    pub fn http_announce_url(&self) -> Option<String> {
        self.http_addr.map(|a| format!("http://{a}/announce"))
    }

    /// `udp://ADDR/announce`, if UDP is served.
    pub fn udp_announce_url(&self) -> Option<String> {
        self.udp_addr.map(|a| format!("udp://{a}/announce"))
    }

    /// One torrent's numbers.
    pub fn scrape(&self, info_hash: &InfoHash) -> Option<ScrapeStats> {
        self.shared.swarms.lock().ok()?.scrape(info_hash)
    }

    /// One torrent's registered peers.
    pub fn peers(&self, info_hash: &InfoHash) -> Vec<(SocketAddr, PeerId)> {
        self.shared
            .swarms
            .lock()
            .map(|s| s.peers(info_hash))
            .unwrap_or_default()
    }

    /// Number of tracked torrents.
    pub fn torrent_count(&self) -> usize {
        self.shared
            .swarms
            .lock()
            .map(|s| s.torrent_count())
            .unwrap_or(0)
    }

    /// Stops every task and waits for them to end.
    pub async fn stop(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }

    /// Waits until the server's tasks end (they only end by [`stop`](Self::stop) or a fatal socket error).
    pub async fn wait(&mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

async fn run_http(listener: TcpListener, shared: Arc<Shared>, max_conns: usize, timeout: Duration) {
    let permits = Arc::new(tokio::sync::Semaphore::new(max_conns));
    // Connection tasks live in this set, so aborting the accept task aborts them.
    let mut conns = JoinSet::new();
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        // Reap finished connections so the set stays bounded by max_conns.
        while conns.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((stream, remote)) => {
                let shared = shared.clone();
                conns.spawn(async move {
                    http::serve_connection(stream, remote, shared, timeout).await;
                    drop(permit);
                });
            }
            Err(_) => {
                // Out of file descriptors or a reset before accept: back off briefly.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn run_udp(socket: UdpSocket, shared: Arc<Shared>, ids: udp::ConnectionIds) {
    let mut buf = vec![0u8; crate::udp::packet::MAX_PACKET];
    loop {
        let Ok((n, src)) = socket.recv_from(&mut buf).await else {
            // ICMP errors from earlier sends surface here; keep serving.
            continue;
        };
        let now = Instant::now();
        if !shared.allow(src.ip(), now) {
            continue;
        }
        let reply = match shared.swarms.lock() {
            Ok(mut s) => {
                udp::handle_datagram(&mut s, &ids, src, buf.get(..n).unwrap_or_default(), now)
            }
            Err(_) => None,
        };
        if let Some(r) = reply {
            let _ = socket.send_to(&r, src).await;
        }
    }
}

async fn run_expiry(shared: Arc<Shared>, interval: Duration) {
    let period = (interval / 2).clamp(Duration::from_secs(1), Duration::from_secs(300));
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        if let Ok(mut s) = shared.swarms.lock() {
            s.expire(Instant::now());
        }
    }
}
