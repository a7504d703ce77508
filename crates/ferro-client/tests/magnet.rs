//! Magnet links between Ferro peers: the leecher gets only the info-hash and
//! `x.pe` addresses, fetches the metadata with ut_metadata (BEP 9), then
//! downloads. Hand-driven fake peers lie about or refuse the metadata.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferro_client::{AddMagnet, Error, Session};
use ferro_magnet::{MagnetLink, MetadataMessage};
use ferro_wire::{
    ExtendedHandshake, Handshake, HandshakeDecoder, Message, MessageDecoder, Reserved,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TIMEOUT: Duration = common::DOWNLOAD_TIMEOUT;

#[derive(Clone, Copy)]
enum Fake {
    /// Announces `size` bytes of metadata and sends that many wrong bytes.
    Liar { size: u64 },
    /// Announces `size` bytes of metadata and rejects every request.
    Rejecter { size: u64 },
}

/// A peer speaking raw ferro-wire on 127.0.0.1 that answers ut_metadata
/// requests as `fake` says; every connection is served until it closes.
/// Returns its address and the count of requests it answered.
async fn fake_peer(info_hash: ferro_core::InfoHash, fake: Fake) -> (SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let count = asked.clone();
    tokio::spawn(async move {
        // Bounded by the test's runtime: it ends with the test.
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(serve_fake(s, info_hash, fake, count.clone()));
        }
    });
    (addr, asked)
}

/// A TCP relay to `target` that holds each connection for `delay` first, so
/// the peer behind it is the last to become ready.
async fn delayed_relay(target: SocketAddr, delay: Duration) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        // Bounded by the test's runtime: it ends with the test.
        while let Ok((mut a, _)) = l.accept().await {
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Ok(mut b) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
                }
            });
        }
    });
    addr
}

async fn serve_fake(
    mut s: TcpStream,
    ih: ferro_core::InfoHash,
    fake: Fake,
    asked: Arc<AtomicUsize>,
) -> Option<()> {
    let mut buf = BytesMut::new();
    let mut dec = HandshakeDecoder::new();
    let _theirs = loop {
        if let Some(h) = dec.decode(&mut buf).ok()? {
            break h;
        }
        if s.read_buf(&mut buf).await.ok()? == 0 {
            return None;
        }
    };
    let mut ours = Handshake::new(ih, ferro_wire::generate_peer_id());
    ours.reserved = Reserved::ferro_default();
    s.write_all(&ours.to_bytes()).await.ok()?;
    let size = match fake {
        Fake::Liar { size } | Fake::Rejecter { size } => size,
    };
    let mut ext = ExtendedHandshake::default().with_extension("ut_metadata", 3);
    ext.metadata_size = Some(size);
    let mut out = BytesMut::new();
    ext.to_message().ok()?.encode(&mut out);
    s.write_all(&out).await.ok()?;
    let mut mdec = MessageDecoder::default();
    let mut their_id = None;
    loop {
        while let Some(m) = mdec.decode(&mut buf).ok()? {
            let Message::Extended { id, payload } = m else {
                continue;
            };
            if id == 0 {
                their_id = ExtendedHandshake::from_bytes(&payload)
                    .ok()?
                    .extension_id("ut_metadata");
                continue;
            }
            let Ok(MetadataMessage::Request { piece }) = MetadataMessage::decode(&payload) else {
                continue;
            };
            asked.fetch_add(1, Ordering::Relaxed);
            let garbage = vec![0x5a; (size as usize - piece as usize * 16384).min(16384)];
            let answer = match fake {
                Fake::Liar { size } => MetadataMessage::Data {
                    piece,
                    total_size: size,
                    data: &garbage,
                },
                Fake::Rejecter { .. } => MetadataMessage::Reject { piece },
            };
            let mut out = BytesMut::new();
            Message::Extended {
                id: their_id?,
                payload: Bytes::from(answer.encode()),
            }
            .encode(&mut out);
            s.write_all(&out).await.ok()?;
        }
        if s.read_buf(&mut buf).await.ok()? == 0 {
            return None;
        }
    }
}

fn magnet_for(ih: ferro_core::InfoHash, peers: &[SocketAddr]) -> MagnetLink {
    let mut uri = format!("magnet:?xt=urn:btih:{}", ih.to_hex());
    for p in peers {
        uri.push_str(&format!("&x.pe={p}"));
    }
    uri.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_only_fetches_metadata_from_seeder_and_downloads() {
    let tmp = tempfile::tempdir().unwrap();
    // 16 KiB pieces over 16 MiB: the info dictionary spans two metadata pieces.
    let seed_dir = common::make_payload(tmp.path(), 16 * 1024 * 1024);
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &[]);
    assert!(torrent.info.raw().len() > 16 * 1024);
    let seeder = common::seeder(common::config(), &torrent, &seed_dir).await;
    let dir = tmp.path().join("leech");
    let magnet = magnet_for(torrent.info_hash(), &[seeder.listen_addr()]);
    let s = Session::new(common::config()).await.unwrap();
    let h = common::add_magnet(&s, AddMagnet::new(magnet.clone(), &dir)).await;
    assert_eq!(h.info().raw(), torrent.info.raw());
    common::complete(&h, &dir, &seed_dir).await;
    // The .torrent was saved beside the resume data and reads back.
    let saved = std::fs::read(ferro_client::torrent_path(&dir, &torrent.info_hash())).unwrap();
    let saved = ferro_metainfo::Metainfo::from_bytes(&saved).unwrap();
    assert_eq!(saved.info_hash(), torrent.info_hash());
    s.shutdown().await;
    seeder.shutdown().await;

    // A restart with the same link and no peer at all uses the saved .torrent
    // and the resume data: complete at once.
    let s = Session::new(common::config()).await.unwrap();
    let bare = magnet_for(torrent.info_hash(), &[]);
    let h = common::add_magnet(&s, AddMagnet::new(bare, &dir)).await;
    tokio::time::timeout(TIMEOUT, h.wait_until_complete())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(h.stats().downloaded, 0);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_metadata_is_rejected_and_fetched_from_the_honest_peer() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 2 * 1024 * 1024);
    let torrent = common::make_torrent(&seed_dir, 32 * 1024, &[]);
    let ih = torrent.info_hash();
    let size = torrent.info.raw().len() as u64;
    let (liar, liar_asked) = fake_peer(ih, Fake::Liar { size }).await;
    let (rejecter, rejecter_asked) = fake_peer(ih, Fake::Rejecter { size }).await;
    let seeder = common::seeder(common::config(), &torrent, &seed_dir).await;
    let dir = tmp.path().join("leech");
    // The honest seeder is reached through a slow relay: the liar and the
    // rejecter are ready first, so they are asked first.
    let honest = delayed_relay(seeder.listen_addr(), Duration::from_millis(1500)).await;
    let magnet = magnet_for(ih, &[liar, rejecter, honest]);
    let s = Session::new(common::config()).await.unwrap();
    let h = common::add_magnet(&s, AddMagnet::new(magnet, &dir)).await;
    assert_eq!(h.info().raw(), torrent.info.raw());
    assert!(
        liar_asked.load(Ordering::Relaxed) >= 1,
        "the liar was asked"
    );
    assert!(
        rejecter_asked.load(Ordering::Relaxed) >= 1,
        "the rejecter was asked"
    );
    common::complete_and_shutdown(&h, &dir, &seed_dir, &[&s, &seeder]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_lying_or_rejecting_peers_give_a_metadata_error() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 256 * 1024);
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &[]);
    let ih = torrent.info_hash();
    let size = torrent.info.raw().len() as u64;
    let (liar, _) = fake_peer(ih, Fake::Liar { size }).await;
    let (rejecter, _) = fake_peer(ih, Fake::Rejecter { size }).await;
    let s = Session::new(common::config()).await.unwrap();
    let mut add = AddMagnet::new(magnet_for(ih, &[liar, rejecter]), tmp.path().join("leech"));
    add.metadata_timeout = Duration::from_secs(5);
    let r = tokio::time::timeout(TIMEOUT, s.add_magnet(add))
        .await
        .unwrap();
    match r {
        Err(Error::Metadata(_) | Error::Timeout(_)) => {}
        other => panic!("expected a metadata error, got {other:?}"),
    }
    assert!(!ferro_client::torrent_path(&tmp.path().join("leech"), &ih).exists());
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeder_serves_metadata_and_rejects_out_of_range_pieces() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 256 * 1024);
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &[]);
    let seeder = common::seeder(common::config(), &torrent, &seed_dir).await;
    let mut s = TcpStream::connect(seeder.listen_addr()).await.unwrap();
    let mut ours = Handshake::new(torrent.info_hash(), ferro_wire::generate_peer_id());
    ours.reserved = Reserved::ferro_default();
    s.write_all(&ours.to_bytes()).await.unwrap();
    let mut out = BytesMut::new();
    ExtendedHandshake::default()
        .with_extension("ut_metadata", 9)
        .to_message()
        .unwrap()
        .encode(&mut out);
    for piece in [0, 1] {
        Message::Extended {
            id: 2,
            payload: Bytes::from(MetadataMessage::Request { piece }.encode()),
        }
        .encode(&mut out);
    }
    s.write_all(&out).await.unwrap();
    let mut buf = BytesMut::new();
    let mut hs = HandshakeDecoder::new();
    let mut dec = MessageDecoder::default();
    let mut handshake_done = false;
    let mut theirs_ext = None;
    let mut answers = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while answers.len() < 2 {
            if !handshake_done {
                if hs.decode(&mut buf).unwrap().is_some() {
                    handshake_done = true;
                    continue;
                }
            } else if let Some(m) = dec.decode(&mut buf).unwrap() {
                if let Message::Extended { id, payload } = m {
                    if id == 0 {
                        theirs_ext = Some(ExtendedHandshake::from_bytes(&payload).unwrap());
                    } else {
                        assert_eq!(id, 9, "sent under the id we chose");
                        answers.push(payload);
                    }
                }
                continue;
            }
            assert!(s.read_buf(&mut buf).await.unwrap() > 0, "closed");
        }
    })
    .await
    .unwrap();
    let ext = theirs_ext.unwrap();
    let raw = torrent.info.raw();
    assert_eq!(ext.metadata_size, Some(raw.len() as u64));
    assert_eq!(ext.extension_id("ut_metadata"), Some(2));
    assert_eq!(
        MetadataMessage::decode(&answers[0]).unwrap(),
        MetadataMessage::Data {
            piece: 0,
            total_size: raw.len() as u64,
            data: raw
        }
    );
    assert_eq!(
        MetadataMessage::decode(&answers[1]).unwrap(),
        MetadataMessage::Reject { piece: 1 }
    );
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_with_only_a_tracker_finds_the_seeder() {
    let tmp = tempfile::tempdir().unwrap();
    let tracker = common::tracker().await;
    let url = tracker.http_announce_url().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 1024 * 1024);
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, std::slice::from_ref(&url));
    let seeder = common::seeder(common::config(), &torrent, &seed_dir).await;
    let ih = torrent.info_hash();
    let mut magnet = MagnetLink::new(ih);
    magnet.trackers.push(url);
    let dir = tmp.path().join("leech");
    let s = Session::new(common::config()).await.unwrap();
    // The seeder's first announce may still be on its way: ask again until it is listed.
    let deadline = std::time::Instant::now() + TIMEOUT;
    let h = loop {
        let mut add = AddMagnet::new(magnet.clone(), &dir);
        add.metadata_timeout = Duration::from_secs(10);
        match s.add_magnet(add).await {
            Ok(h) => break h,
            Err(e) => assert!(std::time::Instant::now() < deadline, "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    common::complete_and_shutdown(&h, &dir, &seed_dir, &[&s, &seeder]).await;
    tracker.stop().await;
}
