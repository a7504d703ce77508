//! A peer that serves corrupt blocks is banned, and the download completes
//! from an honest seeder.

mod common;

use std::time::Duration;

use bytes::BytesMut;
use ferro_client::{AddTorrent, Session, TorrentEvent};
use ferro_wire::{Bitfield, Block, Handshake, HandshakeDecoder, Message, MessageDecoder, Reserved};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Answers every request with garbage, for one connection at a time.
async fn corrupt_peer(listener: TcpListener, pieces: usize) {
    // Serves connections until the test drops the task.
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(serve_garbage(stream, pieces));
    }
}

async fn serve_garbage(mut stream: TcpStream, pieces: usize) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let theirs = loop {
        if let Ok(Some(h)) = HandshakeDecoder::new().decode(&mut buf) {
            break h;
        }
        if stream.read_buf(&mut buf).await.unwrap_or(0) == 0 {
            return;
        }
    };
    let mut ours = Handshake::new(theirs.info_hash, ferro_wire::generate_peer_id());
    ours.reserved = Reserved::NONE;
    let mut out = BytesMut::new();
    ours.encode(&mut out);
    Message::Bitfield(Bitfield::full(pieces)).encode(&mut out);
    Message::Unchoke.encode(&mut out);
    if stream.write_all(&out).await.is_err() {
        return;
    }
    let mut dec = MessageDecoder::default();
    loop {
        out.clear();
        while let Ok(Some(m)) = dec.decode(&mut buf) {
            if let Message::Request(r) = m {
                let data = vec![0xAA; r.length as usize];
                Message::Piece(Block {
                    index: r.index,
                    begin: r.begin,
                    data: data.into(),
                })
                .encode(&mut out);
            }
        }
        if stream.write_all(&out).await.is_err() {
            return;
        }
        if stream.read_buf(&mut buf).await.unwrap_or(0) == 0 {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_peer_is_banned_and_download_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 2 * 1024 * 1024);
    let torrent = common::make_torrent(&seed_dir, 32 * 1024, &[]);
    let pieces = torrent.info.piece_count() as usize;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bad = listener.local_addr().unwrap();
    let bad_task = tokio::spawn(corrupt_peer(listener, pieces));

    let seeder = Session::new(common::config()).await.unwrap();
    seeder
        .add_torrent(AddTorrent::new(torrent.clone(), &seed_dir))
        .await
        .unwrap();

    let dir = tmp.path().join("leech");
    let s = Session::new(common::config()).await.unwrap();
    // Only the corrupt peer at first, so it surely sends bad pieces.
    let h = s
        .add_torrent(AddTorrent::new(torrent.clone(), &dir))
        .await
        .unwrap();
    // Subscribe first: the ban can follow the first bad pieces within a millisecond.
    let mut events = h.events();
    h.add_peers([bad]);
    let mut banned = false;
    let mut failures = 0;
    tokio::time::timeout(Duration::from_secs(30), async {
        while !banned {
            match events.recv().await {
                Ok(TorrentEvent::PeerBanned(a)) => banned = a == bad,
                Ok(TorrentEvent::HashFailed { .. }) => failures += 1,
                _ => {}
            }
        }
    })
    .await
    .expect("corrupt peer not banned");
    assert!(failures >= 1);
    h.add_peers([seeder.listen_addr()]);
    tokio::time::timeout(Duration::from_secs(60), h.wait_until_complete())
        .await
        .expect("download timed out")
        .unwrap();
    assert_eq!(common::digests(&dir), common::digests(&seed_dir));
    assert!(h.stats().hash_failures >= 2);
    bad_task.abort();
    s.shutdown().await;
    seeder.shutdown().await;
}
