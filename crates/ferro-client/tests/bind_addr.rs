//! `Config::bind` / `outgoing_addr`: a session bound to one loopback address
//! (all of 127.0.0.0/8 is local on Linux) listens only there and dials from
//! there, so the peer sees that source IP.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use ferro_client::{AddTorrent, Config, Session, TorrentEvent};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::TryRecvError;

const TWO: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const THREE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

#[tokio::test]
async fn dials_come_from_the_outgoing_address() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 40_000);
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &[]);
    // A bare listener on 127.0.0.3 stands in for the peer.
    let listener = TcpListener::bind(SocketAddr::new(THREE, 0)).await.unwrap();
    let peer = listener.local_addr().unwrap();
    let session = Session::new(common::config().bind(TWO)).await.unwrap();
    assert_eq!(session.listen_addr().ip(), TWO);
    let mut add = AddTorrent::new(torrent.clone(), tmp.path().join("leech"));
    add.peers = vec![peer];
    session.add_torrent(add).await.unwrap();
    let (mut stream, from) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("the session dialed the peer")
        .unwrap();
    assert_eq!(from.ip(), TWO, "source address of the dial");
    // It is a BitTorrent handshake for our torrent (BEP 3: pstrlen,
    // pstr, 8 reserved bytes, then the info-hash).
    let mut hs = [0u8; 68];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut hs))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&hs[1..20], b"BitTorrent protocol");
    assert_eq!(&hs[28..48], &torrent.info_hash().as_bytes()[..]);
    session.shutdown().await;
}

#[tokio::test]
async fn two_bound_sessions_transfer_and_see_each_others_addresses() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 200_000);
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &[]);
    let seeder = common::seeder(common::config().bind(THREE), &torrent, &seed_dir).await;
    let seed_addr = seeder.listen_addr();
    assert_eq!(seed_addr.ip(), THREE);
    let mut seeder_events = seeder.torrents()[0].events();
    let mut add = AddTorrent::new(torrent.clone(), tmp.path().join("leech"));
    add.peers = vec![seed_addr];
    let (leecher, handle) = common::leech(common::config().bind(TWO), add).await;
    tokio::time::timeout(Duration::from_secs(60), handle.wait_until_complete())
        .await
        .expect("download completes")
        .unwrap();
    // The seeder's view of the connection: it came from 127.0.0.2.
    let mut seen = Vec::new();
    loop {
        match seeder_events.try_recv() {
            Ok(TorrentEvent::PeerConnected(a)) => seen.push(a),
            Ok(_) | Err(TryRecvError::Lagged(_)) => {}
            Err(_) => break,
        }
    }
    assert!(!seen.is_empty(), "the seeder saw no connection");
    assert!(
        seen.iter().all(|a| a.ip() == TWO),
        "the seeder saw connections from {seen:?}, not only 127.0.0.2"
    );
    assert_eq!(
        common::digests(&tmp.path().join("leech")),
        common::digests(&seed_dir)
    );
    leecher.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test]
async fn a_bound_session_listens_on_its_address_only() {
    let session = Session::new(Config::loopback().bind(TWO)).await.unwrap();
    let port = session.listen_addr().port();
    assert!(
        tokio::net::TcpStream::connect(SocketAddr::new(TWO, port))
            .await
            .is_ok()
    );
    assert!(
        tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .is_err(),
        "127.0.0.1:{port} must not reach a session bound to 127.0.0.2"
    );
    session.shutdown().await;
}

#[tokio::test]
async fn an_outgoing_address_of_the_other_family_fails_the_dial_only() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 40_000);
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &[]);
    let listener = TcpListener::bind(SocketAddr::new(THREE, 0)).await.unwrap();
    let config = Config {
        outgoing_addr: Some(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)),
        ..common::config()
    };
    let session = Session::new(config).await.unwrap();
    let mut add = AddTorrent::new(torrent, tmp.path().join("leech"));
    add.peers = vec![listener.local_addr().unwrap()];
    let handle = session.add_torrent(add).await.unwrap();
    // No connection reaches the IPv4 peer from an IPv6 source...
    assert!(
        tokio::time::timeout(Duration::from_secs(2), listener.accept())
            .await
            .is_err()
    );
    // ...and the session goes on running.
    assert!(handle.connected_peers().is_empty());
    session.shutdown().await;
}

#[tokio::test]
async fn tracker_and_web_seed_requests_come_from_the_outgoing_address() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 40_000);
    // Bare sockets on 127.0.0.3 stand in for an HTTP tracker, a UDP tracker
    // and a web seed: only the source address of what arrives matters.
    let http = TcpListener::bind(SocketAddr::new(THREE, 0)).await.unwrap();
    let udp = tokio::net::UdpSocket::bind(SocketAddr::new(THREE, 0))
        .await
        .unwrap();
    let web = TcpListener::bind(SocketAddr::new(THREE, 0)).await.unwrap();
    let trackers = [
        format!("http://{}/announce", http.local_addr().unwrap()),
        format!("udp://{}", udp.local_addr().unwrap()),
    ];
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &trackers);
    let session = Session::new(common::config().bind(TWO)).await.unwrap();
    let mut add = AddTorrent::new(torrent, tmp.path().join("leech"));
    add.web_seeds = vec![format!("http://{}/", web.local_addr().unwrap())];
    session.add_torrent(add).await.unwrap();
    let wait = Duration::from_secs(10);
    let (_, from) = tokio::time::timeout(wait, http.accept())
        .await
        .expect("an HTTP announce")
        .unwrap();
    assert_eq!(from.ip(), TWO, "source of the HTTP announce");
    let mut buf = [0u8; 2048];
    let (_, from) = tokio::time::timeout(wait, udp.recv_from(&mut buf))
        .await
        .expect("a UDP connect request")
        .unwrap();
    assert_eq!(from.ip(), TWO, "source of the UDP tracker request");
    let (_, from) = tokio::time::timeout(wait, web.accept())
        .await
        .expect("a web seed request")
        .unwrap();
    assert_eq!(from.ip(), TWO, "source of the web seed request");
    session.shutdown().await;
}
