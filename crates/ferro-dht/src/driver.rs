//! The node core on a tokio UDP socket (feature `tokio`).
//!
//! [`Dht::bind`] spawns one task that owns the socket and the [`Node`]; the
//! [`Dht`] handle talks to it over a channel. Dropping every handle, or
//! calling [`Dht::shutdown`], stops the task.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ferro_dht::Error> {
//! use ferro_dht::{DhtConfig, InfoHash, driver::Dht};
//! let dht = Dht::bind("127.0.0.1:0".parse().unwrap(), DhtConfig::loopback(), None).await?;
//! dht.add_node("127.0.0.1:6881".parse().unwrap()).await?;
//! dht.bootstrap(vec!["127.0.0.1:6881".parse().unwrap()]).await?;
//! let peers = dht.get_peers(InfoHash([1; 20])).await?;
//! dht.announce(InfoHash([1; 20]), Some(6881)).await?;
//! let saved = dht.shutdown().await?;
//! # let _ = (peers, saved); Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::{
    DhtConfig, Error, Event, InfoHash, LookupId, LookupStats, Node, NodeId, NodeInfo, NodeStats,
    SavedState,
};

enum Command {
    AddNode(SocketAddr),
    Bootstrap(Vec<SocketAddr>, oneshot::Sender<LookupStats>),
    GetPeers(
        InfoHash,
        Option<mpsc::UnboundedSender<SocketAddr>>,
        oneshot::Sender<Vec<SocketAddr>>,
    ),
    Announce(InfoHash, Option<u16>, oneshot::Sender<LookupStats>),
    Snapshot(oneshot::Sender<Vec<NodeInfo>>),
    Stats(oneshot::Sender<(NodeStats, usize)>),
    Shutdown(oneshot::Sender<SavedState>),
}

enum Waiter {
    Stats(oneshot::Sender<LookupStats>),
    Peers(
        Option<mpsc::UnboundedSender<SocketAddr>>,
        oneshot::Sender<Vec<SocketAddr>>,
    ),
}

/// A handle to a running DHT node. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Dht {
    tx: mpsc::Sender<Command>,
    local_addr: SocketAddr,
    id: NodeId,
}

impl Dht {
    /// Binds a UDP socket on `addr` and starts the node. With `saved` state,
    /// the node keeps its old id and pings the saved nodes; it then bootstraps
    /// from them and from `config.bootstrap_nodes` (resolved here).
    pub async fn bind(
        addr: SocketAddr,
        config: DhtConfig,
        saved: Option<SavedState>,
    ) -> Result<Dht, Error> {
        let socket = UdpSocket::bind(addr)
            .await
            .map_err(|e| Error::Io(format!("bind {addr}: {e}")))?;
        let local_addr = socket.local_addr().map_err(|e| Error::Io(e.to_string()))?;
        let mut rng = StdRng::from_os_rng();
        let id = saved
            .as_ref()
            .map_or_else(|| NodeId::random(&mut rng), |s| s.id);
        let mut routers = Vec::new();
        for host in &config.bootstrap_nodes {
            // A router that does not resolve is skipped; the others may work.
            if let Ok(addrs) = tokio::net::lookup_host(host.as_str()).await {
                routers.extend(addrs.filter(|a| a.is_ipv4() == local_addr.is_ipv4()));
            }
        }
        let now = Instant::now();
        let mut node = Node::new(config, id, rng, now);
        let mut start: Vec<SocketAddr> = saved
            .map(|s| s.nodes.iter().map(|n| n.addr).collect())
            .unwrap_or_default();
        start.extend(routers);
        if !start.is_empty() {
            node.bootstrap(&start, now);
        }
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(run(node, socket, rx));
        Ok(Dht { tx, local_addr, id })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Our node id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    async fn send(&self, c: Command) -> Result<(), Error> {
        self.tx.send(c).await.map_err(|_| Error::Shutdown)
    }

    /// Pings `addr`; it joins the routing table if it answers (BEP 5 `port` messages).
    pub async fn add_node(&self, addr: SocketAddr) -> Result<(), Error> {
        self.send(Command::AddNode(addr)).await
    }

    /// Looks up our own id from the table plus `nodes`, then refreshes the
    /// far buckets; returns when the first lookup ends.
    pub async fn bootstrap(&self, nodes: Vec<SocketAddr>) -> Result<LookupStats, Error> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Bootstrap(nodes, tx)).await?;
        rx.await.map_err(|_| Error::Shutdown)
    }

    /// Every peer a full get_peers lookup finds.
    pub async fn get_peers(&self, info_hash: InfoHash) -> Result<Vec<SocketAddr>, Error> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::GetPeers(info_hash, None, tx)).await?;
        rx.await.map_err(|_| Error::Shutdown)
    }

    /// Peers as the lookup finds them: the receiver closes when it ends.
    pub async fn get_peers_stream(
        &self,
        info_hash: InfoHash,
    ) -> Result<mpsc::UnboundedReceiver<SocketAddr>, Error> {
        let (stream, peers) = mpsc::unbounded_channel();
        let (tx, _rx) = oneshot::channel();
        self.send(Command::GetPeers(info_hash, Some(stream), tx))
            .await?;
        Ok(peers)
    }

    /// Announces that we serve `info_hash` on `port` (`None`: the DHT
    /// socket's port, via `implied_port`). The stats say how many nodes took it.
    pub async fn announce(
        &self,
        info_hash: InfoHash,
        port: Option<u16>,
    ) -> Result<LookupStats, Error> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Announce(info_hash, port, tx)).await?;
        rx.await.map_err(|_| Error::Shutdown)
    }

    /// The nodes in the routing table now.
    pub async fn routing_table_snapshot(&self) -> Result<Vec<NodeInfo>, Error> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Snapshot(tx)).await?;
        rx.await.map_err(|_| Error::Shutdown)
    }

    /// The node's counters ([`NodeStats`]) and the number of torrents in
    /// its peer store.
    pub async fn stats(&self) -> Result<(NodeStats, usize), Error> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Stats(tx)).await?;
        rx.await.map_err(|_| Error::Shutdown)
    }

    /// Writes our id and the routing table to `path`.
    pub async fn save(&self, path: &Path) -> Result<(), Error> {
        let state = SavedState {
            id: self.id,
            nodes: self.routing_table_snapshot().await?,
        };
        std::fs::write(path, state.encode())
            .map_err(|e| Error::Io(format!("{}: {e}", path.display())))
    }

    /// Reads a state written by [`save`](Self::save), for [`bind`](Self::bind).
    pub fn load(path: &Path) -> Result<SavedState, Error> {
        let bytes =
            std::fs::read(path).map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
        SavedState::decode(&bytes)
    }

    /// Stops the node and returns its state for the next start.
    pub async fn shutdown(self) -> Result<SavedState, Error> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Shutdown(tx)).await?;
        rx.await.map_err(|_| Error::Shutdown)
    }
}

async fn run(mut node: Node, socket: UdpSocket, mut rx: mpsc::Receiver<Command>) {
    let mut waiters: HashMap<LookupId, Waiter> = HashMap::new();
    let mut buf = vec![0u8; 65536];
    loop {
        while let Some(t) = node.poll_transmit() {
            // A failed send is a lost datagram; the query times out like one.
            let _ = socket.send_to(&t.payload, t.to).await;
        }
        while let Some(ev) = node.poll_event() {
            dispatch(&mut waiters, ev);
        }
        let deadline = node
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + std::time::Duration::from_secs(60));
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                if let Ok((n, from)) = r
                    && let Some(bytes) = buf.get(..n)
                {
                    node.handle_datagram(Instant::now(), from, bytes);
                }
            }
            cmd = rx.recv() => {
                let now = Instant::now();
                match cmd {
                    None => return,
                    Some(Command::AddNode(a)) => node.add_node(a, now),
                    Some(Command::Bootstrap(nodes, tx)) => {
                        let lid = node.bootstrap(&nodes, now);
                        waiters.insert(lid, Waiter::Stats(tx));
                    }
                    Some(Command::GetPeers(ih, stream, tx)) => {
                        let lid = node.get_peers(ih, now);
                        waiters.insert(lid, Waiter::Peers(stream, tx));
                    }
                    Some(Command::Announce(ih, port, tx)) => {
                        let lid = node.announce(ih, port, now);
                        waiters.insert(lid, Waiter::Stats(tx));
                    }
                    Some(Command::Snapshot(tx)) => {
                        let _ = tx.send(node.routing_table().entries().map(|e| e.info).collect());
                    }
                    Some(Command::Stats(tx)) => {
                        let _ = tx.send((node.stats(), node.peer_store().len()));
                    }
                    Some(Command::Shutdown(tx)) => {
                        let _ = tx.send(node.save_state());
                        return;
                    }
                }
            }
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                node.handle_timeout(Instant::now());
            }
        }
    }
}

fn dispatch(waiters: &mut HashMap<LookupId, Waiter>, ev: Event) {
    match ev {
        Event::Peers { lookup, peers, .. } => {
            if let Some(Waiter::Peers(Some(stream), _)) = waiters.get(&lookup) {
                for p in peers {
                    let _ = stream.send(p);
                }
            }
        }
        Event::LookupDone {
            lookup,
            peers,
            stats,
            ..
        } => match waiters.remove(&lookup) {
            Some(Waiter::Stats(tx)) => {
                let _ = tx.send(stats);
            }
            Some(Waiter::Peers(_, tx)) => {
                let _ = tx.send(peers);
            }
            None => {}
        },
    }
}
