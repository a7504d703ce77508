//! Setting up a peer connection: dialing, the BEP 3 handshake (with the
//! BEP 6 fast and BEP 10 extension bits), and admission into the torrent
//! (bans, caps, duplicate peer ids, ourselves).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ferro_wire::{Handshake, HandshakeDecoder, Reserved};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::event::TorrentEvent;
use crate::picker::PeerKey;
use crate::torrent::{PeerSlot, TorrentShared};
use crate::{Config, Error};

/// Initial read buffer size.
const READ_CHUNK: usize = 64 * 1024;

/// How long two connections to one peer (dialled in opposite directions)
/// both stand before we close one: time for the peer to close the one it
/// drops.
const DUPLICATE_GRACE: Duration = Duration::from_secs(3);

/// Dials `addr`, handshakes and runs the connection to its end.
pub(crate) async fn run_outgoing(
    shared: Arc<TorrentShared>,
    addr: SocketAddr,
) -> Result<(), Error> {
    let cfg = shared.config.clone();
    let mut stream = dial(&cfg, addr).await?;
    let ours = our_handshake(&shared);
    stream.write_all(&ours.to_bytes()).await?;
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let theirs = tokio::time::timeout(
        cfg.handshake_timeout,
        read_handshake(&mut stream, &mut rbuf),
    )
    .await
    .map_err(|_| Error::Timeout("handshake"))??;
    if theirs.info_hash != shared.info_hash {
        return Err(Error::Peer {
            addr,
            reason: format!(
                "handshake for another torrent {}",
                theirs.info_hash.to_hex()
            ),
        });
    }
    run(shared, stream, addr, theirs, rbuf).await
}

/// Opens a TCP connection to `addr` within [`Config::connect_timeout`],
/// from [`Config::outgoing_addr`] when set (bound before connecting, so the
/// peer sees that source IP), with Nagle off.
pub(crate) async fn dial(cfg: &Config, addr: SocketAddr) -> Result<TcpStream, Error> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = cfg.outgoing_addr {
        if ip.is_ipv4() != addr.is_ipv4() {
            return Err(Error::Peer {
                addr,
                reason: format!("cannot dial it from the outgoing address {ip} (other IP family)"),
            });
        }
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = tokio::time::timeout(cfg.connect_timeout, socket.connect(addr))
        .await
        .map_err(|_| Error::Timeout("connect"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

pub(crate) fn our_handshake(shared: &TorrentShared) -> Handshake {
    let mut h = Handshake::new(shared.info_hash, shared.config.peer_id);
    h.reserved = Reserved::ferro_default().with_dht(shared.dht.is_some());
    h
}

/// Reads a whole handshake into `rbuf` (bytes behind it stay there).
pub(crate) async fn read_handshake(
    stream: &mut TcpStream,
    rbuf: &mut BytesMut,
) -> Result<Handshake, Error> {
    let mut dec = HandshakeDecoder::new();
    // Bounded: each pass reads at least one byte, and 68 are enough.
    for _ in 0..ferro_wire::HANDSHAKE_LEN {
        if let Some(h) = dec.decode(rbuf)? {
            return Ok(h);
        }
        if stream.read_buf(rbuf).await? == 0 {
            return Err(Error::Net(std::io::ErrorKind::UnexpectedEof.into()));
        }
    }
    dec.decode(rbuf)?
        .ok_or(Error::Internal("handshake not complete".into()))
}

/// Runs a connection whose handshake is done, then cleans up after it.
pub(crate) async fn run(
    shared: Arc<TorrentShared>,
    stream: TcpStream,
    addr: SocketAddr,
    theirs: Handshake,
    rbuf: BytesMut,
) -> Result<(), Error> {
    if theirs.peer_id == shared.config.peer_id {
        // We dialled ourselves (trackers list us too): never again.
        let mut st = shared.lock();
        st.known.insert(
            addr,
            Some(Instant::now() + Duration::from_secs(365 * 86_400)),
        );
        return Err(Error::Peer {
            addr,
            reason: "connected to ourselves".into(),
        });
    }
    let key = register(&shared, addr, &theirs)?;
    shared.emit(TorrentEvent::PeerConnected(addr));
    let mut peer = crate::peer::Peer::new(shared.clone(), key, addr, &theirs);
    let result = peer.drive(stream, rbuf).await;
    peer.cleanup();
    let reason = match &result {
        Ok(()) => "closed".to_owned(),
        Err(e) => e.to_string(),
    };
    tracing::debug!(%addr, %reason, "peer disconnected");
    shared.emit(TorrentEvent::PeerDisconnected { addr, reason });
    result
}

fn register(
    shared: &Arc<TorrentShared>,
    addr: SocketAddr,
    theirs: &Handshake,
) -> Result<PeerKey, Error> {
    let mut st = shared.lock();
    let refuse = |reason: &str| Error::Peer {
        addr,
        reason: reason.to_owned(),
    };
    if st.is_banned(addr) {
        return Err(refuse("banned"));
    }
    if st.paused || st.error.is_some() || st.checking {
        return Err(refuse("torrent not active"));
    }
    // Only outgoing connections are in `connecting` while they run.
    let outgoing = st.connecting.contains(&addr);
    // A duplicate dialled the other way, settled after a grace period.
    let mut settle_later = None;
    if let Some((&old, slot)) = st.peers.iter().find(|(_, p)| p.peer_id == theirs.peer_id) {
        let same_ip = slot.addr.ip() == addr.ip();
        if !same_ip {
            return Err(refuse("already connected to this peer id"));
        }
        if slot.outgoing == outgoing {
            // The same client reconnecting: the old connection is stale.
            close_peer(
                shared,
                &mut st,
                old,
                "connection replaced by a newer one from the same peer",
            );
        } else {
            // Both sides dialled, at once or one of them again while
            // connected. Clients differ in which connection they keep:
            // libtorrent the one dialled by the higher peer id, aria2 and
            // Transmission the older one (they close the newcomer). Deciding
            // here alone can close the one the peer keeps, and then both
            // die: keep both for a moment, let the peer close the one it
            // drops, and settle by peer id only if both still stand.
            let new_wins = new_replaces_duplicate(
                slot.outgoing,
                outgoing,
                &shared.config.peer_id,
                &theirs.peer_id,
            );
            settle_later = Some((old, new_wins));
        }
    }
    if st.peers.len() >= shared.config.max_peers_per_torrent {
        match idle_peer(&st, Instant::now(), shared.config.handshake_timeout) {
            Some(old) => {
                // Full of connections that do nothing (e.g. a burst of
                // sockets that handshook and went quiet): the newcomer
                // takes the place of the one idle the longest.
                close_peer(shared, &mut st, old, "idle peer replaced by a newcomer");
            }
            None => return Err(refuse("too many peers for this torrent")),
        }
    }
    if shared.session_peers.load(Ordering::Relaxed) >= shared.config.max_peers as u64 {
        return Err(refuse("too many peers in the session"));
    }
    let key = st.next_key;
    st.next_key += 1;
    st.peers.insert(
        key,
        PeerSlot {
            addr,
            peer_id: theirs.peer_id,
            wake: Arc::new(tokio::sync::Notify::new()),
            choked: true,
            interested: false,
            peer_choking: true,
            download_rate: 0,
            upload_rate: 0,
            snubbed: false,
            is_seed: false,
            cancels: Vec::new(),
            disconnect: None,
            optimistic: false,
            outgoing,
            listen: outgoing.then_some(addr),
            connected_at: Instant::now(),
            queues: crate::peer::PeerQueues {
                addr,
                ..Default::default()
            },
        },
    );
    shared.session_peers.fetch_add(1, Ordering::Relaxed);
    if let Some((old, new_wins)) = settle_later {
        let (keep, close) = if new_wins { (key, old) } else { (old, key) };
        tokio::spawn(settle_duplicate(shared.clone(), keep, close));
    }
    Ok(key)
}

/// After [`DUPLICATE_GRACE`], closes `close` if `keep` (the same peer's
/// connection in the other direction) still stands too.
async fn settle_duplicate(shared: Arc<TorrentShared>, keep: PeerKey, close: PeerKey) {
    tokio::time::sleep(DUPLICATE_GRACE).await;
    let mut st = shared.lock();
    if st.peers.contains_key(&keep) {
        close_peer(
            &shared,
            &mut st,
            close,
            "duplicate connection closed (the peer kept both)",
        );
    }
}

/// Closes connection `key` from outside its task: its slot goes (the peer
/// task sees that when woken and ends) and the session count drops.
fn close_peer(shared: &TorrentShared, st: &mut crate::torrent::State, key: PeerKey, why: &str) {
    if let Some(slot) = st.peers.remove(&key) {
        slot.wake.notify_one();
        shared.session_peers.fetch_sub(1, Ordering::Relaxed);
        tracing::debug!(addr = %slot.addr, "{why}");
    }
}

/// Whether a new connection to a peer id we are connected to already (from
/// the same IP) replaces the old one. In the same direction it is the same
/// client reconnecting, and the old connection is stale (e.g. a magnet's
/// metadata connection the remote has closed but we have not yet seen
/// close): the new one wins. In opposite directions both sides dialled:
/// the connection dialled by the higher peer id wins, as in libtorrent, so
/// both keep the same one; `register` applies it only if the peer has not
/// closed either connection within [`DUPLICATE_GRACE`].
fn new_replaces_duplicate(
    old_outgoing: bool,
    new_outgoing: bool,
    our_id: &ferro_core::PeerId,
    their_id: &ferro_core::PeerId,
) -> bool {
    if old_outgoing == new_outgoing {
        return true;
    }
    // The new connection was dialled by us exactly when it is outgoing.
    new_outgoing == (our_id > their_id)
}

/// The connected peer a newcomer may replace when the torrent is full: one
/// that has been connected longer than `grace`, and in which neither side
/// is interested and nothing flows either way; the oldest of those.
fn idle_peer(st: &crate::torrent::State, now: Instant, grace: Duration) -> Option<PeerKey> {
    st.peers
        .iter()
        .filter(|(_, p)| {
            !p.interested
                && p.peer_choking
                && !p.is_seed
                && p.download_rate == 0
                && p.upload_rate == 0
                && now.saturating_duration_since(p.connected_at) > grace
        })
        .min_by_key(|(_, p)| p.connected_at)
        .map(|(k, _)| *k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_in_one_direction_replace_the_stale_connection() {
        let (a, b) = (
            ferro_core::PeerId::from([1; 20]),
            ferro_core::PeerId::from([2; 20]),
        );
        assert!(new_replaces_duplicate(false, false, &a, &b));
        assert!(new_replaces_duplicate(true, true, &a, &b));
    }

    #[test]
    fn simultaneous_dials_keep_the_higher_ids_connection_on_both_sides() {
        let (low, high) = (
            ferro_core::PeerId::from([1; 20]),
            ferro_core::PeerId::from([2; 20]),
        );
        // `high` dialled `low` and `low` dialled `high` at once, and on
        // both sides `high`'s dial registered first: it is old and stays
        // (outgoing on `high`'s side, incoming on `low`'s).
        assert!(!new_replaces_duplicate(true, false, &high, &low));
        assert!(!new_replaces_duplicate(false, true, &low, &high));
        // `low`'s dial registered first on both sides: `high`'s dial
        // replaces it on both.
        assert!(new_replaces_duplicate(false, true, &high, &low));
        assert!(new_replaces_duplicate(true, false, &low, &high));
    }
}
