//! The session's Mainline DHT node (BEP 5): started with the session when
//! [`Config::dht`](crate::Config::dht) is set, bootstrapped from the
//! configured nodes and the saved routing table, saved again on shutdown.
//!
//! Every torrent that is not private (BEP 27: a private torrent gets peers
//! from its trackers only) looks its info-hash up and announces our listen
//! port, at start and then every [`DhtOptions::lookup_interval`]. Magnet
//! links use the same lookup to find peers for their metadata.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferro_core::InfoHash;
use ferro_dht::DhtConfig;
use ferro_dht::driver::Dht;
use tokio::sync::{mpsc, watch};

use crate::torrent::TorrentShared;

/// Longest wait for the first bootstrap before a torrent's first lookup.
const BOOTSTRAP_WAIT: Duration = Duration::from_secs(30);
/// Longest one get_peers or announce lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How the session's DHT node runs.
#[derive(Debug, Clone)]
pub struct DhtOptions {
    /// UDP address to bind. `None` (default): the session's listen IP (`::`
    /// becomes `0.0.0.0`, since the Mainline DHT is IPv4) on its listen port,
    /// or any port when that one is taken.
    pub bind_addr: Option<SocketAddr>,
    /// Nodes to bootstrap from, as `host:port` (default: the well-known
    /// public routers; tests pass loopback nodes or none).
    pub bootstrap_nodes: Vec<String>,
    /// Where the routing table is read on start and written on shutdown
    /// (default `None`: not kept).
    pub state_file: Option<PathBuf>,
    /// Time between a torrent's lookups and announces (default 10 min).
    pub lookup_interval: Duration,
    /// The node's own settings; its `bootstrap_nodes` are ignored in favour
    /// of [`bootstrap_nodes`](Self::bootstrap_nodes). Its defences against a
    /// single host (`routing.restrict_routing_ips`: one routing-table node per
    /// IP; `rate_limit`: per-IP query limits; `peer_store` caps) are on by
    /// default; [`loopback`](Self::loopback) turns the first two off, since
    /// every node of a local test shares 127.0.0.1.
    pub node: DhtConfig,
}

impl Default for DhtOptions {
    fn default() -> Self {
        let node = DhtConfig::default();
        DhtOptions {
            bind_addr: None,
            bootstrap_nodes: node.bootstrap_nodes.clone(),
            state_file: None,
            lookup_interval: Duration::from_secs(600),
            node,
        }
    }
}

impl DhtOptions {
    /// For tests and demos on one host: bootstraps from `nodes` only (never
    /// a public router), binds `127.0.0.1:0`, looks up every 2 s.
    pub fn loopback(nodes: impl IntoIterator<Item = SocketAddr>) -> Self {
        DhtOptions {
            bind_addr: Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)),
            bootstrap_nodes: nodes.into_iter().map(|a| a.to_string()).collect(),
            state_file: None,
            lookup_interval: Duration::from_secs(2),
            node: DhtConfig::loopback(),
        }
    }
}

/// The running node, shared by the session's torrents.
#[derive(Debug, Clone)]
pub(crate) struct SessionDht {
    pub dht: Dht,
    /// `true` once the first bootstrap lookup ended.
    ready: watch::Receiver<bool>,
    options: Arc<DhtOptions>,
}

impl SessionDht {
    /// Binds and starts the node; the bootstrap runs in the background.
    pub async fn start(options: &DhtOptions, listen: SocketAddr) -> Result<Self, crate::Error> {
        let saved = options
            .state_file
            .as_deref()
            .filter(|p| p.exists())
            .and_then(|p| match Dht::load(p) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(error = %e, "DHT state file ignored");
                    None
                }
            });
        let mut node = options.node.clone();
        node.bootstrap_nodes = Vec::new();
        let dht = match options.bind_addr {
            Some(a) => Dht::bind(a, node, saved).await,
            None => {
                let ip = if listen.ip().is_unspecified() {
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                } else {
                    listen.ip()
                };
                match Dht::bind(
                    SocketAddr::new(ip, listen.port()),
                    node.clone(),
                    saved.clone(),
                )
                .await
                {
                    Ok(d) => Ok(d),
                    Err(_) => Dht::bind(SocketAddr::new(ip, 0), node, saved).await,
                }
            }
        }
        .map_err(|e| crate::Error::Internal(format!("DHT: {e}")))?;
        let (ready_tx, ready) = watch::channel(false);
        let boot = dht.clone();
        let hosts = options.bootstrap_nodes.clone();
        let v4 = dht.local_addr().is_ipv4();
        tokio::spawn(async move {
            let mut nodes = Vec::new();
            for h in &hosts {
                // A node that does not resolve is skipped; the others may work.
                if let Ok(Ok(addrs)) =
                    tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host(h)).await
                {
                    nodes.extend(addrs.filter(|a| a.is_ipv4() == v4));
                }
            }
            match tokio::time::timeout(LOOKUP_TIMEOUT, boot.bootstrap(nodes)).await {
                Ok(Ok(stats)) => tracing::debug!(?stats, "DHT bootstrapped"),
                Ok(Err(e)) => tracing::warn!(error = %e, "DHT bootstrap failed"),
                Err(_) => tracing::warn!("DHT bootstrap timed out"),
            }
            ready_tx.send_replace(true);
        });
        tracing::info!(addr = %dht.local_addr(), "DHT node started");
        Ok(SessionDht {
            dht,
            ready,
            options: Arc::new(options.clone()),
        })
    }

    /// Waits (bounded) until the first bootstrap has ended.
    async fn wait_ready(&self) {
        let mut ready = self.ready.clone();
        let _ = tokio::time::timeout(BOOTSTRAP_WAIT, ready.wait_for(|r| *r)).await;
    }

    /// Saves the routing table (if a state file is set) and stops the node.
    pub async fn shutdown(&self) {
        if let Some(path) = &self.options.state_file
            && let Err(e) = self.dht.save(path).await
        {
            tracing::warn!(error = %e, "could not save the DHT state");
        }
        let _ = self.dht.clone().shutdown().await;
    }

    /// A peer's BEP 5 `port` message: its DHT node is worth a ping.
    pub fn add_node(&self, addr: SocketAddr) {
        let dht = self.dht.clone();
        tokio::spawn(async move {
            let _ = dht.add_node(addr).await;
        });
    }

    /// Sends every peer that lookups of `ih` find on `to`, after the
    /// bootstrap; looks again now and then until `to` is closed.
    pub fn feed_peers(&self, ih: InfoHash, to: mpsc::UnboundedSender<SocketAddr>) {
        let this = self.clone();
        tokio::spawn(async move {
            this.wait_ready().await;
            // A seeder may announce after our first lookup: look again (2 s,
            // doubling to 30 s) while the fetcher listens; it drops its
            // receiver at its metadata timeout, which bounds this loop.
            let mut pause = Duration::from_secs(2);
            while !to.is_closed() {
                let _ =
                    tokio::time::timeout(LOOKUP_TIMEOUT, this.lookup(ih, |a| to.send(a).is_ok()))
                        .await;
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = to.closed() => break,
                }
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        });
    }

    /// One get_peers lookup, giving each peer to `found` as it arrives
    /// (`found` returns `false` to stop). Returns how many were found.
    async fn lookup(&self, ih: InfoHash, mut found: impl FnMut(SocketAddr) -> bool) -> usize {
        let mut rx = match self.dht.get_peers_stream(ih).await {
            Ok(rx) => rx,
            Err(_) => return 0,
        };
        let mut n = 0;
        // Ends with the lookup (the node closes the stream); bounded by the
        // callers' timeout.
        while let Some(a) = rx.recv().await {
            n += 1;
            if !found(a) {
                break;
            }
        }
        n
    }

    /// Runs `shared`'s lookups and announces until the torrent stops.
    /// Private torrents (BEP 27) are not given to the DHT at all.
    pub fn spawn_torrent(&self, shared: &Arc<TorrentShared>) {
        if shared.info.is_private() {
            return;
        }
        let this = self.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut stop = shared.stop.subscribe();
            let work = async {
                this.wait_ready().await;
                // Bounded by the torrent's life: one round per interval.
                loop {
                    let ih = shared.info_hash;
                    let round = async {
                        let n = this
                            .lookup(ih, |a| {
                                shared.add_known([a]);
                                true
                            })
                            .await;
                        let taken = this.dht.announce(ih, Some(shared.listen_port)).await;
                        tracing::debug!(info_hash = %ih.to_hex(), peers = n, ?taken, "DHT round");
                    };
                    let _ = tokio::time::timeout(LOOKUP_TIMEOUT, round).await;
                    tokio::time::sleep(this.options.lookup_interval).await;
                }
            };
            tokio::select! {
                () = work => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        });
    }
}
