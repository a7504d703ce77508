//! Adding a torrent from a magnet link: fetch the info dictionary from peers
//! with ut_metadata (BEP 9), save it as a .torrent beside the resume data,
//! then add the torrent as usual.
//!
//! The metadata phase uses its own short-lived connections driven by
//! ferro-magnet's sans-IO [`MetadataAssembler`]; when it completes they are
//! closed and the torrent dials the same peers again with the full protocol.
//! This keeps the torrent's state (picker, storage, bitfields) free of a
//! "no metadata yet" case.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferro_core::InfoHash;
use ferro_magnet::{
    AssemblerConfig, AssemblerEvent, MagnetLink, MetadataAssembler, MetadataMessage, PeerAddr,
    PeerKey,
};
use ferro_metainfo::{Info, Metainfo};
use ferro_wire::{
    Config as WireConfig, EXTENDED_HANDSHAKE_ID, ExtendedHandshake, Handshake, Message,
    MessageDecoder, Reserved,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::metadata::UT_METADATA_ID;
use crate::session::SessionInner;
use crate::{AddTorrent, Config, Error};

/// Most peers asked for metadata at once.
const MAX_METADATA_PEERS: usize = 50;
/// Addresses kept waiting for a free metadata connection, and addresses
/// remembered at all: dead or silent peers among the first ones must not
/// keep the later ones from ever being asked.
const MAX_METADATA_WAITING: usize = 1000;
const MAX_METADATA_ADDRS: usize = 4096;
/// Most `tr` trackers asked for peers before the metadata is known.
const MAX_MAGNET_TRACKERS: usize = 8;
/// How long one tracker may take to answer that announce.
const TRACKER_TIMEOUT: Duration = Duration::from_secs(15);

/// What to add to a session from a magnet link.
#[derive(Debug, Clone)]
pub struct AddMagnet {
    /// The link: its info-hash, `x.pe` peers, `tr` trackers and `ws` web seeds are used.
    pub magnet: MagnetLink,
    /// Where the files go; the fetched .torrent is saved in its `.ferro/` folder.
    pub download_dir: PathBuf,
    /// Peers to ask besides the link's `x.pe`.
    pub peers: Vec<SocketAddr>,
    /// Give up fetching the metadata after this long (default 60 s).
    pub metadata_timeout: Duration,
    /// Read and write resume data (default true).
    pub use_resume: bool,
}

impl AddMagnet {
    /// Adds `magnet`, downloading into `download_dir`.
    pub fn new(magnet: MagnetLink, download_dir: impl Into<PathBuf>) -> Self {
        AddMagnet {
            magnet,
            download_dir: download_dir.into(),
            peers: Vec::new(),
            metadata_timeout: Duration::from_secs(60),
            use_resume: true,
        }
    }

    /// Adds a peer to ask for the metadata (and to download from).
    pub fn peer(mut self, addr: SocketAddr) -> Self {
        self.peers.push(addr);
        self
    }
}

/// Where the .torrent fetched for `info_hash` is kept: beside its resume file.
pub fn torrent_path(download_dir: &Path, info_hash: &InfoHash) -> PathBuf {
    download_dir
        .join(".ferro")
        .join(format!("{}.torrent", info_hash.to_hex()))
}

/// Turns a magnet link into an [`AddTorrent`]: a .torrent saved by an
/// earlier run is reused, otherwise the metadata is fetched from the peers
/// and saved.
pub(crate) async fn resolve(session: &SessionInner, add: AddMagnet) -> Result<AddTorrent, Error> {
    let config = &session.config;
    let ih = add.magnet.info_hash;
    let mut peers = add.peers.clone();
    for p in &add.magnet.peers {
        match p {
            PeerAddr::Socket(a) => peers.push(*a),
            PeerAddr::Host(h, port) => {
                if let Ok(addrs) = tokio::net::lookup_host((h.as_str(), *port)).await {
                    peers.extend(addrs.take(4));
                }
            }
        }
    }
    peers.dedup();
    let path = torrent_path(&add.download_dir, &ih);
    let saved = std::fs::read(&path)
        .ok()
        .and_then(|b| Metainfo::from_bytes(&b).ok())
        .filter(|m| m.info_hash() == ih);
    let metainfo = match saved {
        Some(m) => m,
        None => {
            // Tracker answers feed the fetcher while it already asks x.pe peers.
            let (more_tx, more_rx) = mpsc::unbounded_channel();
            if let Some(d) = &session.dht {
                d.feed_peers(ih, more_tx.clone());
            }
            let announcing = announce_for_peers(session, ih, &add.magnet.trackers, more_tx);
            let fetching = fetch_metadata(config, ih, &peers, more_rx, add.metadata_timeout);
            tokio::pin!(fetching, announcing);
            let mut announced = false;
            // Ends with the fetch (bounded by its timeout); announcing stops with it.
            let raw = loop {
                tokio::select! {
                    r = &mut fetching => break r?,
                    () = &mut announcing, if !announced => announced = true,
                }
            };
            let info = Info::from_bytes(&raw)?;
            if info.info_hash() != ih {
                return Err(Error::Metadata(format!(
                    "info dictionary hashes to {}, not {}",
                    info.info_hash().to_hex(),
                    ih.to_hex()
                )));
            }
            let m = Metainfo {
                info,
                announce: add.magnet.trackers.first().cloned(),
                trackers: add
                    .magnet
                    .trackers
                    .iter()
                    .map(|t| vec![t.clone()])
                    .collect(),
                web_seeds: add.magnet.web_seeds.clone(),
                http_seeds: Vec::new(),
                creation_date: None,
                comment: None,
                created_by: Some(concat!("Ferro ", env!("CARGO_PKG_VERSION")).to_owned()),
            };
            save(&path, &m.to_bytes());
            m
        }
    };
    let mut t = AddTorrent::new(metainfo, add.download_dir);
    t.peers = peers;
    t.use_resume = add.use_resume;
    // BEP 53 `so`: only the selected files. A magnet link is untrusted:
    // entries past the file list are ignored with a warning.
    if !add.magnet.select_only.is_empty() {
        let files = t.metainfo.info.files().len();
        let (priorities, ignored) = crate::selection::select_only(files, &add.magnet.select_only);
        for r in ignored {
            tracing::warn!(
                first = r.first,
                last = r.last,
                files,
                "magnet so= names no file of the torrent: ignored"
            );
        }
        t.file_priorities = Some(priorities);
    }
    // The link's ws= (BEP 19) also when the .torrent was saved by an earlier run.
    t.web_seeds = add.magnet.web_seeds;
    Ok(t)
}

/// Announces to the link's trackers, at once, to find peers while the
/// metadata (and so the size) is unknown: `left` is sent as a large value so
/// the tracker treats us as a leecher and returns seeds. Every peer found is
/// sent on `more`; the function ends when every tracker has answered or
/// timed out, or the fetcher is gone.
async fn announce_for_peers(
    session: &SessionInner,
    ih: InfoHash,
    trackers: &[String],
    more: mpsc::UnboundedSender<SocketAddr>,
) {
    let mut req = ferro_tracker::AnnounceRequest::new(
        ih,
        session.config.peer_id,
        session.listen_addr.port(),
        i64::MAX as u64,
    );
    req.event = ferro_tracker::Event::None;
    req.numwant = Some(50);
    let mut set = JoinSet::new();
    for url in trackers.iter().take(MAX_MAGNET_TRACKERS) {
        let (tracker, req, url) = (session.tracker.clone(), req.clone(), url.clone());
        set.spawn(async move {
            let r = tokio::time::timeout(TRACKER_TIMEOUT, tracker.announce(&url, &req)).await;
            (url, r)
        });
    }
    // Bounded: one result per spawned announce, each with a timeout.
    while let Some(r) = set.join_next().await {
        match r {
            Ok((_, Ok(Ok(resp)))) => {
                for a in resp.addrs() {
                    if more.send(a).is_err() {
                        return;
                    }
                }
            }
            Ok((url, Ok(Err(e)))) => tracing::debug!(%url, error = %e, "magnet announce failed"),
            Ok((url, Err(_))) => tracing::debug!(%url, "magnet announce timed out"),
            Err(_) => {}
        }
    }
}

/// Writing the .torrent is a convenience for restarts: failing is a warning.
fn save(path: &Path, bytes: &[u8]) {
    let r = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(path, bytes));
    if let Err(e) = r {
        tracing::warn!(path = %path.display(), error = %e, "could not save the .torrent");
    }
}

enum FromPeer {
    /// Handshakes done; the peer has `size` bytes of metadata; `tx` sends it
    /// ut_metadata payloads (dropping it closes the connection).
    Ready {
        key: u64,
        size: u64,
        tx: mpsc::UnboundedSender<Vec<u8>>,
    },
    Msg {
        key: u64,
        payload: Bytes,
    },
    Closed {
        key: u64,
        reason: String,
    },
}

/// Dials metadata connections; each connection gets a fresh key, and each
/// address a bounded number of attempts.
struct Dialer {
    config: Config,
    ih: InfoHash,
    ev_tx: mpsc::UnboundedSender<FromPeer>,
    next_key: u64,
    addr_of: HashMap<u64, SocketAddr>,
    attempts: HashMap<SocketAddr, u32>,
    /// Addresses to dial when a connection ends (`attempts` 0 meanwhile).
    waiting: std::collections::VecDeque<SocketAddr>,
}

/// Connections per address before it is given up (the first and the retries).
const METADATA_ATTEMPTS: u32 = 5;

impl Dialer {
    /// Dials an address not seen before while fewer than the cap of
    /// connections are `live`; queues it otherwise. True when dialled.
    fn dial_new(&mut self, addr: SocketAddr, tasks: &mut JoinSet<()>, live: usize) -> bool {
        if self.attempts.len() >= MAX_METADATA_ADDRS || self.attempts.contains_key(&addr) {
            return false;
        }
        if live >= MAX_METADATA_PEERS {
            if self.waiting.len() < MAX_METADATA_WAITING {
                self.attempts.insert(addr, 0);
                self.waiting.push_back(addr);
            }
            return false;
        }
        self.dial(addr, tasks);
        true
    }

    /// Dials queued addresses while fewer than the cap are `live`; returns
    /// how many it dialled.
    fn dial_waiting(&mut self, tasks: &mut JoinSet<()>, live: usize) -> usize {
        let mut n = 0;
        // Bounded by the queue's length.
        while live + n < MAX_METADATA_PEERS
            && let Some(addr) = self.waiting.pop_front()
        {
            self.dial(addr, tasks);
            n += 1;
        }
        n
    }

    /// How long to wait before dialing `addr` again, or `None` when its
    /// attempts are used up: 250 ms, doubling.
    fn retry_delay(&self, addr: SocketAddr) -> Option<Duration> {
        let n = *self.attempts.get(&addr)?;
        (n < METADATA_ATTEMPTS).then(|| Duration::from_millis(250 << n.min(6)))
    }

    fn dial(&mut self, addr: SocketAddr, tasks: &mut JoinSet<()>) {
        *self.attempts.entry(addr).or_insert(0) += 1;
        self.next_key += 1;
        let key = self.next_key;
        self.addr_of.insert(key, addr);
        let (ev_tx, config, ih) = (self.ev_tx.clone(), self.config.clone(), self.ih);
        tasks.spawn(async move {
            let reason = match metadata_peer(&config, ih, addr, key, &ev_tx).await {
                Ok(()) => "closed".to_owned(),
                Err(e) => e.to_string(),
            };
            tracing::debug!(%addr, %reason, "metadata peer done");
            let _ = ev_tx.send(FromPeer::Closed { key, reason });
        });
    }
}

/// Fetches and verifies the info dictionary of `ih` from `peers`.
pub(crate) async fn fetch_metadata(
    config: &Config,
    ih: InfoHash,
    peers: &[SocketAddr],
    mut more: mpsc::UnboundedReceiver<SocketAddr>,
    timeout: Duration,
) -> Result<Vec<u8>, Error> {
    let deadline = Instant::now() + timeout;
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    let mut dialer = Dialer {
        config: config.clone(),
        ih,
        ev_tx,
        next_key: 0,
        addr_of: HashMap::new(),
        attempts: HashMap::new(),
        waiting: Default::default(),
    };
    // Connections started and ended: when all ended, none is waiting to be
    // retried and no tracker can give more peers, nobody is left to ask.
    let (mut started, mut ended) = (0usize, 0usize);
    for &addr in peers {
        started += usize::from(dialer.dial_new(addr, &mut tasks, started - ended));
    }
    // Peers that closed without misbehaving (busy, still checking their data,
    // a dropped connection) are dialed again later, a few times.
    let mut retries: Vec<(Instant, SocketAddr)> = Vec::new();
    let mut misbehaved: Vec<SocketAddr> = Vec::new();
    let mut more_open = true;
    let mut asm = MetadataAssembler::new(ih, AssemblerConfig::default());
    let mut links: HashMap<u64, mpsc::UnboundedSender<Vec<u8>>> = HashMap::new();
    let mut last_error = String::from("no peer to ask");
    // Bounded by `deadline`.
    loop {
        while let Some(ev) = asm.poll_event() {
            match ev {
                AssemblerEvent::Request { peer, piece } => {
                    if let Some(tx) = links.get(&peer.0) {
                        let _ = tx.send(MetadataMessage::Request { piece }.encode());
                    }
                }
                AssemblerEvent::Misbehaved { peer, reason } => {
                    tracing::info!(peer = peer.0, %reason, "metadata peer misbehaved");
                    if let Some(addr) = dialer.addr_of.get(&peer.0) {
                        misbehaved.push(*addr);
                    }
                    links.remove(&peer.0);
                    asm.remove_peer(peer);
                    last_error = reason;
                }
                AssemblerEvent::Complete(bytes) => return Ok(bytes),
            }
        }
        let next_retry = retries.iter().map(|(at, _)| *at).min();
        let wake = [asm.poll_timeout(), next_retry]
            .into_iter()
            .flatten()
            .fold(deadline, Instant::min);
        tokio::select! {
            ev = ev_rx.recv() => match ev {
                Some(FromPeer::Ready { key, size, tx }) => match asm.add_peer(PeerKey(key), size) {
                    Ok(()) => {
                        links.insert(key, tx);
                    }
                    Err(e) => last_error = e.to_string(),
                },
                Some(FromPeer::Msg { key, payload }) => {
                    if let Ok(m) = MetadataMessage::decode(&payload) {
                        asm.on_message(PeerKey(key), m);
                    }
                }
                Some(FromPeer::Closed { key, reason }) => {
                    links.remove(&key);
                    asm.remove_peer(PeerKey(key));
                    last_error = reason;
                    ended += 1;
                    started += dialer.dial_waiting(&mut tasks, started - ended);
                    if let Some(&addr) = dialer.addr_of.get(&key)
                        && !misbehaved.contains(&addr)
                        && let Some(wait) = dialer.retry_delay(addr)
                    {
                        retries.push((Instant::now() + wait, addr));
                    }
                }
                // We hold a sender (in `dial`): the channel never ends.
                None => {}
            },
            addr = more.recv(), if more_open => match addr {
                Some(addr) => {
                    started += usize::from(dialer.dial_new(addr, &mut tasks, started - ended));
                }
                None => more_open = false,
            },
            _ = tokio::time::sleep_until(wake.into()) => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(Error::Timeout("metadata"));
                }
                asm.handle_timeout(now);
                let (due, later): (Vec<_>, Vec<_>) = retries.drain(..).partition(|(at, _)| *at <= now);
                retries = later;
                for (_, addr) in due {
                    dialer.dial(addr, &mut tasks);
                    started += 1;
                }
            }
        }
        if ended >= started && !more_open && retries.is_empty() && dialer.waiting.is_empty() {
            return Err(Error::Metadata(format!(
                "no peer gave the metadata of {} (last: {last_error})",
                ih.to_hex()
            )));
        }
        asm.poll_requests(Instant::now());
    }
}

/// One metadata connection: handshakes, then forwards ut_metadata messages
/// both ways until the coordinator drops its sender. Requests from the peer
/// are rejected: we have no metadata yet.
async fn metadata_peer(
    config: &Config,
    ih: InfoHash,
    addr: SocketAddr,
    key: u64,
    events: &mpsc::UnboundedSender<FromPeer>,
) -> Result<(), Error> {
    let fail = |reason: &str| Error::Peer {
        addr,
        reason: reason.to_owned(),
    };
    let mut stream = crate::connect::dial(config, addr).await?;
    let mut ours = Handshake::new(ih, config.peer_id);
    ours.reserved = Reserved::ferro_default();
    stream.write_all(&ours.to_bytes()).await?;
    let mut rbuf = BytesMut::with_capacity(32 * 1024);
    let theirs = tokio::time::timeout(
        config.handshake_timeout,
        crate::connect::read_handshake(&mut stream, &mut rbuf),
    )
    .await
    .map_err(|_| Error::Timeout("handshake"))??;
    if theirs.info_hash != ih {
        return Err(fail("handshake for another torrent"));
    }
    if !theirs.reserved.extension_protocol() {
        return Err(fail("no extension protocol (BEP 10), so no ut_metadata"));
    }
    let ext = ExtendedHandshake {
        v: Some(concat!("Ferro ", env!("CARGO_PKG_VERSION")).to_owned()),
        ..ExtendedHandshake::default()
    }
    .with_extension("ut_metadata", UT_METADATA_ID);
    let mut wbuf = BytesMut::new();
    ext.to_message()?.encode(&mut wbuf);
    stream.write_all(&wbuf).await?;
    let mut decoder = MessageDecoder::new(WireConfig::default());
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let mut out_tx = Some(out_tx);
    let mut their_id: Option<u8> = None;
    // A peer that never sends its extended handshake, or then goes silent,
    // must not hold one of the few metadata connections until the end.
    let mut quiet_until = Instant::now() + config.handshake_timeout;
    // Bounded: the coordinator drops our sender when it is done or times
    // out, and a silent peer is dropped at `quiet_until`.
    loop {
        while let Some(msg) = decoder.decode(&mut rbuf)? {
            let Message::Extended { id, payload } = msg else {
                continue;
            };
            if id == EXTENDED_HANDSHAKE_ID {
                let h = ExtendedHandshake::from_bytes(&payload)?;
                let (Some(tid), Some(size)) = (h.extension_id("ut_metadata"), h.metadata_size)
                else {
                    return Err(fail("no ut_metadata or metadata_size in its handshake"));
                };
                their_id = Some(tid);
                quiet_until = Instant::now() + config.idle_timeout;
                if let Some(tx) = out_tx.take() {
                    let _ = events.send(FromPeer::Ready { key, size, tx });
                }
            } else if id == UT_METADATA_ID
                && let Some(tid) = their_id
            {
                if let Ok(MetadataMessage::Request { piece }) = MetadataMessage::decode(&payload) {
                    let reject = MetadataMessage::Reject { piece }.encode();
                    let mut w = BytesMut::new();
                    Message::Extended {
                        id: tid,
                        payload: Bytes::from(reject),
                    }
                    .encode(&mut w);
                    stream.write_all(&w).await?;
                } else {
                    let _ = events.send(FromPeer::Msg { key, payload });
                }
            }
        }
        tokio::select! {
            r = stream.read_buf(&mut rbuf) => {
                if r? == 0 {
                    return Ok(());
                }
                if their_id.is_some() {
                    quiet_until = Instant::now() + config.idle_timeout;
                }
            }
            _ = tokio::time::sleep_until(quiet_until.into()) => {
                return Err(Error::Timeout(if their_id.is_some() {
                    "metadata peer idle"
                } else {
                    "extended handshake"
                }));
            }
            out = out_rx.recv() => {
                let (Some(payload), Some(tid)) = (out, their_id) else {
                    return Ok(());
                };
                let mut w = BytesMut::new();
                Message::Extended { id: tid, payload: Bytes::from(payload) }.encode(&mut w);
                stream.write_all(&w).await?;
            }
        }
    }
}
