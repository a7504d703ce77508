//! Peer exchange (BEP 11) between Ferro sessions on loopback, and what Ferro
//! advertises and tolerates on the wire.

mod common;

use common::wait_until;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ferro_client::{AddTorrent, Config, PeerSource, Session, TorrentHandle};
use ferro_metainfo::{Metainfo, TorrentBuilder};
use ferro_wire::{
    ExtendedHandshake, Handshake, HandshakeDecoder, Message, MessageDecoder, Reserved,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn pex_config() -> Config {
    Config {
        pex_interval: Duration::from_millis(300),
        ..common::config()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leecher_learns_second_peer_through_pex_and_connects_to_it() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 4 * 1024 * 1024);
    let torrent = common::make_torrent(&seed_dir, 64 * 1024, &[]);

    // A seeds slowly, so B and C stay leechers (two seeds would drop their
    // link) for the whole test.
    let a = Session::new(Config {
        upload_limit: Some(256 * 1024),
        ..pex_config()
    })
    .await
    .unwrap();
    let ha = a
        .add_torrent(AddTorrent::new(torrent.clone(), &seed_dir))
        .await
        .unwrap();
    assert!(ha.stats().progress() >= 1.0);

    // B knows A and connects to it; A learns B's listen port from `p`. B
    // has PEX off, so it never hears of C: C can only reach B by dialling
    // the address A's PEX gave it.
    let b = Session::new(Config {
        pex: false,
        ..pex_config()
    })
    .await
    .unwrap();
    let hb = b
        .add_torrent(AddTorrent::new(torrent.clone(), tmp.path().join("b")).peer(a.listen_addr()))
        .await
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || hb.stats().peers_connected >= 1).await,
        "B never connected to A"
    );

    // C knows only A.
    let c = Session::new(pex_config()).await.unwrap();
    let hc = c
        .add_torrent(AddTorrent::new(torrent.clone(), tmp.path().join("c")).peer(a.listen_addr()))
        .await
        .unwrap();
    let b_addr = b.listen_addr();
    assert!(
        wait_until(Duration::from_secs(15), || {
            hc.known_peers().contains(&(b_addr, PeerSource::Pex))
        })
        .await,
        "C never learned B through PEX: {:?}",
        hc.known_peers()
    );
    assert!(hc.stats().peers_from_pex >= 1);
    // A itself was given directly, not by PEX, and C never learns itself.
    assert!(
        hc.known_peers()
            .contains(&(a.listen_addr(), PeerSource::Other))
    );
    assert!(!hc.known_peers().iter().any(|(p, _)| *p == c.listen_addr()));
    assert!(
        wait_until(Duration::from_secs(15), || hc
            .connected_peers()
            .contains(&b_addr))
        .await,
        "C learned B but never connected to it: {:?}",
        hc.connected_peers()
    );
    for s in [&c, &b, &a] {
        s.shutdown().await;
    }
}

struct RawPeer {
    stream: TcpStream,
    buf: BytesMut,
    dec: MessageDecoder,
}

impl RawPeer {
    async fn connect(addr: SocketAddr, info_hash: ferro_core::InfoHash) -> RawPeer {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut ours = Handshake::new(info_hash, ferro_wire::generate_peer_id());
        ours.reserved = Reserved::ferro_default();
        stream.write_all(&ours.to_bytes()).await.unwrap();
        let mut buf = BytesMut::new();
        loop {
            if HandshakeDecoder::new().decode(&mut buf).unwrap().is_some() {
                break;
            }
            assert!(stream.read_buf(&mut buf).await.unwrap() > 0);
        }
        RawPeer {
            stream,
            buf,
            dec: MessageDecoder::default(),
        }
    }

    async fn send(&mut self, m: Message) {
        let mut out = BytesMut::new();
        m.encode(&mut out);
        self.stream.write_all(&out).await.unwrap();
    }

    /// The next message other than keep-alive within 5 s; `None` once closed.
    async fn recv(&mut self) -> Option<Message> {
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match self.dec.decode(&mut self.buf) {
                    Ok(Some(Message::KeepAlive)) => continue,
                    Ok(Some(m)) => return Some(m),
                    Ok(None) => {}
                    Err(_) => return None,
                }
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
        .expect("no message in 5 s")
    }

    async fn extended_handshake(&mut self) -> ExtendedHandshake {
        match self.recv().await {
            Some(Message::Extended { id: 0, payload }) => {
                ExtendedHandshake::from_bytes(&payload).unwrap()
            }
            other => panic!("expected the extended handshake first, got {other:?}"),
        }
    }
}

/// A session running `config` that seeds a fresh 128 KiB torrent, private
/// or public.
async fn seed(
    private: bool,
    config: Config,
) -> (Session, TorrentHandle, Metainfo, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 128 * 1024);
    let torrent = TorrentBuilder::new(seed_dir.join("payload"))
        .piece_length(32 * 1024)
        .private(private)
        .build()
        .unwrap()
        .metainfo;
    let (s, h) = common::leech(config, AddTorrent::new(torrent.clone(), &seed_dir)).await;
    (s, h, torrent, tmp)
}

async fn seed_session(private: bool) -> (Session, ferro_core::InfoHash, tempfile::TempDir) {
    let (s, h, _, tmp) = seed(private, common::config()).await;
    (s, h.info_hash(), tmp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ut_pex_and_ut_metadata_are_advertised_for_public_torrents_only() {
    for private in [false, true] {
        let (s, info_hash, _tmp) = seed_session(private).await;
        let mut peer = RawPeer::connect(s.listen_addr(), info_hash).await;
        let ext = peer.extended_handshake().await;
        // Both only when public: BEP 27 for ut_pex; for ut_metadata, what
        // libtorrent and Transmission do (see ferro-client's metadata.rs).
        for name in ["ut_pex", "ut_metadata"] {
            assert_eq!(
                ext.extension_id(name).is_some(),
                !private,
                "{name}, private={private}: {ext:?}"
            );
        }
        assert_eq!(ext.metadata_size.is_some(), !private, "{ext:?}");
        s.shutdown().await;
    }
}

/// What a peer gets from a seed when it speaks ut_pex and ut_metadata to
/// it anyway: public, PEX both ways and the metadata; private, neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_torrent_exchanges_no_peers_and_serves_no_metadata() {
    const THEIR_PEX: u8 = 5;
    const THEIR_METADATA: u8 = 6;
    let told: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    let other: SocketAddr = "127.0.0.1:7001".parse().unwrap();
    for private in [false, true] {
        let (s, h, torrent, _tmp) = seed(private, pex_config()).await;
        let ours = ExtendedHandshake::default()
            .with_extension("ut_pex", THEIR_PEX)
            .with_extension("ut_metadata", THEIR_METADATA);
        // A second peer with a listen port, for the seed to tell us about.
        let mut second = RawPeer::connect(s.listen_addr(), h.info_hash()).await;
        second.extended_handshake().await;
        let mut ext = ours.clone();
        ext.p = Some(other.port());
        second.send(ext.to_message().unwrap()).await;

        let mut peer = RawPeer::connect(s.listen_addr(), h.info_hash()).await;
        let theirs = peer.extended_handshake().await;
        peer.send(ours.to_message().unwrap()).await;
        // For the private torrent, the ids Ferro uses for public ones: it
        // must ignore ut_pex and refuse ut_metadata even under those.
        let pex_id = theirs.extension_id("ut_pex").unwrap_or(1);
        let metadata_id = theirs.extension_id("ut_metadata").unwrap_or(2);
        let pex = ferro_pex::PexMessage {
            added: vec![(told, Default::default())],
            dropped: Vec::new(),
        };
        peer.send(Message::Extended {
            id: pex_id,
            payload: pex.encode().into(),
        })
        .await;
        let request = ferro_magnet::MetadataMessage::Request { piece: 0 }.encode();
        peer.send(Message::Extended {
            id: metadata_id,
            payload: request.into(),
        })
        .await;

        // Everything the seed sends us for a while (public: until both
        // answers came; private: five PEX intervals).
        let mut metadata = None;
        let mut pex_heard = Vec::new();
        let end = Instant::now() + Duration::from_secs(if private { 2 } else { 10 });
        while Instant::now() < end && (metadata.is_none() || pex_heard.is_empty()) {
            let left = end.saturating_duration_since(Instant::now());
            let Ok(Some(m)) = tokio::time::timeout(left, peer.recv()).await else {
                break;
            };
            match m {
                Message::Extended {
                    id: THEIR_PEX,
                    payload,
                } => {
                    let msg = ferro_pex::PexMessage::decode(&payload).unwrap();
                    pex_heard.extend(msg.added.into_iter().map(|(a, _)| a));
                }
                Message::Extended {
                    id: THEIR_METADATA,
                    payload,
                } => {
                    metadata = Some(
                        match ferro_magnet::MetadataMessage::decode(&payload).unwrap() {
                            ferro_magnet::MetadataMessage::Data { data, .. } => Some(data.to_vec()),
                            _ => None,
                        },
                    );
                }
                _ => {}
            }
        }
        let learned = || h.known_peers().contains(&(told, PeerSource::Pex));
        if private {
            assert_eq!(metadata, Some(None), "private metadata not rejected");
            assert!(
                pex_heard.is_empty(),
                "private torrent sent ut_pex: {pex_heard:?}"
            );
            assert!(!learned(), "private torrent learned a peer from ut_pex");
        } else {
            let info = torrent.info.raw();
            let first = &info[..info.len().min(16 * 1024)];
            assert_eq!(metadata, Some(Some(first.to_vec())));
            assert!(pex_heard.contains(&other), "public torrent: {pex_heard:?}");
            assert!(wait_until(Duration::from_secs(5), learned).await);
        }
        s.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_flooding_pex_messages_is_disconnected() {
    let (s, info_hash, _tmp) = seed_session(false).await;
    let mut peer = RawPeer::connect(s.listen_addr(), info_hash).await;
    let ext = peer.extended_handshake().await;
    let their_pex = ext.extension_id("ut_pex").unwrap();
    let ours = ExtendedHandshake::default().with_extension("ut_pex", 5);
    peer.send(ours.to_message().unwrap()).await;
    // The first message is fine; each next one comes far sooner than the
    // 60 s interval and is a violation. After more than five, we are dropped.
    let msg = ferro_pex::PexMessage {
        added: vec![("127.0.0.1:7000".parse().unwrap(), Default::default())],
        dropped: Vec::new(),
    };
    for _ in 0..10 {
        peer.send(Message::Extended {
            id: their_pex,
            payload: msg.encode().into(),
        })
        .await;
    }
    let mut closed = false;
    // Bounded: at most 50 messages (bitfield, unchoke...) before the close.
    for _ in 0..50 {
        if peer.recv().await.is_none() {
            closed = true;
            break;
        }
    }
    assert!(closed, "a peer flooding ut_pex stayed connected");
    s.shutdown().await;
}
