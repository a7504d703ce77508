//! A peer we are connected to dials us as well (aria2c does, when a ut_pex
//! names our listen address while its connection to us was one we dialled).
//! Clients differ in which of the two connections they keep: aria2c and
//! Transmission keep the older one and close the newcomer, libtorrent keeps
//! the one dialled by the higher peer id. Ferro keeps both for a moment and
//! lets the peer choose, so the two sides never close different ones and
//! lose both (seen in the interop matrix: aria2c stalled at 53%).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use ferro_client::{AddTorrent, Session, TorrentHandle};
use ferro_core::{InfoHash, PeerId};
use ferro_wire::{Handshake, HandshakeDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Higher than any Ferro peer id (`-FE…`): by the peer-id rule alone the
/// connection this peer dials would win.
const HIGH_ID: [u8; 20] = [0xff; 20];

/// Reads the 68-byte handshake.
async fn read_handshake(s: &mut TcpStream) -> Handshake {
    let mut b = [0u8; 68];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut b))
        .await
        .unwrap()
        .unwrap();
    let mut buf = bytes::BytesMut::from(&b[..]);
    HandshakeDecoder::new().decode(&mut buf).unwrap().unwrap()
}

/// Whether the other side closed `s` within `wait` (bytes it sends are
/// skipped; silence until then means open).
async fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    // Bounded by `deadline`.
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// A seeding session told to dial a fake peer; the fake peer accepts that
/// connection (A, outgoing for us) and then dials the session itself (B,
/// incoming), with the same peer id.
async fn both_directions() -> (
    tempfile::TempDir,
    Session,
    TorrentHandle,
    TcpStream,
    SocketAddr,
    TcpStream,
) {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 40_000);
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &[]);
    let ih: InfoHash = torrent.info_hash();
    let ours = Handshake::new(ih, PeerId::from(HIGH_ID));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake_addr = listener.local_addr().unwrap();
    let session = Session::new(common::config()).await.unwrap();
    let mut add = AddTorrent::new(torrent, &seed_dir);
    add.peers = vec![fake_addr];
    let handle = session.add_torrent(add).await.unwrap();
    let (mut a, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("the session dials the fake peer")
        .unwrap();
    read_handshake(&mut a).await;
    a.write_all(&ours.to_bytes()).await.unwrap();
    common::adversary::eventually("connection A registered", || {
        handle.connected_peers() == vec![fake_addr]
    })
    .await;
    let mut b = TcpStream::connect(session.listen_addr()).await.unwrap();
    b.write_all(&ours.to_bytes()).await.unwrap();
    read_handshake(&mut b).await;
    (tmp, session, handle, a, fake_addr, b)
}

#[tokio::test]
async fn the_peer_closing_its_new_dial_leaves_the_old_connection_standing() {
    let (_tmp, session, handle, mut a, fake_addr, b) = both_directions().await;
    // aria2c's and Transmission's way: the newcomer goes.
    drop(b);
    assert!(
        !closed_within(&mut a, Duration::from_secs(5)).await,
        "the session closed the connection the peer kept"
    );
    assert_eq!(handle.connected_peers(), vec![fake_addr]);
    session.shutdown().await;
}

#[tokio::test]
async fn when_the_peer_keeps_both_the_higher_ids_dial_stays() {
    let (_tmp, session, handle, mut a, fake_addr, mut b) = both_directions().await;
    // The peer keeps both: after the grace period the session closes the
    // one the peer-id rule drops (ours, A: the peer's id is higher) and
    // keeps the peer's dial.
    assert!(
        closed_within(&mut a, Duration::from_secs(10)).await,
        "connection A was never closed"
    );
    assert!(!closed_within(&mut b, Duration::from_secs(1)).await);
    let peers = handle.connected_peers();
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_ne!(peers[0], fake_addr, "the session's own dial was kept");
    session.shutdown().await;
}
