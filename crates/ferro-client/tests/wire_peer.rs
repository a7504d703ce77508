//! A hand-driven peer checks what Ferro says on the wire: handshake bits,
//! the extended handshake, BEP 6 have-all / have-none / reject / unchoke,
//! and the blocks it serves.

mod common;

use common::fake_peer::FakePeer;
use ferro_client::{AddTorrent, Session};
use ferro_wire::{BlockRequest, ExtendedHandshake, Message};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeder_speaks_fast_extension_and_serves_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 256 * 1024);
    let torrent = common::make_torrent(&seed_dir, 32 * 1024, &[]);
    let seeder = common::seeder(common::config(), &torrent, &seed_dir).await;

    let (mut p, theirs) = FakePeer::connect(seeder.listen_addr(), torrent.info_hash()).await;
    assert!(theirs.reserved.fast() && theirs.reserved.extension_protocol());
    let Message::Extended { id: 0, payload } = p.recv().await else {
        panic!("no extended handshake")
    };
    let ext = ExtendedHandshake::from_bytes(&payload).unwrap();
    assert_eq!(ext.reqq, Some(500));
    assert!(ext.v.unwrap().starts_with("Ferro"));
    assert_eq!(p.recv().await, Message::HaveAll);

    // Choked: a request is rejected (BEP 6).
    let req = BlockRequest {
        index: 1,
        begin: 16384,
        length: 16384,
    };
    p.send(Message::Request(req)).await;
    assert_eq!(p.recv().await, Message::RejectRequest(req));
    // Interested: a free slot unchokes us at once.
    p.send(Message::Interested).await;
    assert_eq!(p.recv().await, Message::Unchoke);
    p.send(Message::Request(req)).await;
    let Message::Piece(block) = p.recv().await else {
        panic!("no piece")
    };
    let storage =
        ferro_client::storage::Storage::open(std::sync::Arc::new(torrent.info.clone()), &seed_dir)
            .unwrap();
    let mut expected = vec![0u8; 16384];
    storage.read(32 * 1024 + 16384, &mut expected).unwrap();
    assert_eq!(block.request(), req);
    assert_eq!(&block.data[..], &expected[..]);
    // Out of range and oversized requests are rejected too.
    let bad = BlockRequest {
        index: 1,
        begin: 30_000,
        length: 16384,
    };
    p.send(Message::Request(bad)).await;
    assert_eq!(p.recv().await, Message::RejectRequest(bad));
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_leecher_sends_have_none_and_becomes_interested() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 256 * 1024);
    let torrent = common::make_torrent(&seed_dir, 32 * 1024, &[]);
    let leecher = Session::new(common::config()).await.unwrap();
    leecher
        .add_torrent(AddTorrent::new(torrent.clone(), tmp.path().join("l")))
        .await
        .unwrap();
    let (mut p, _) = FakePeer::connect(leecher.listen_addr(), torrent.info_hash()).await;
    assert!(matches!(p.recv().await, Message::Extended { id: 0, .. }));
    assert_eq!(p.recv().await, Message::HaveNone);
    p.send(Message::Have(3)).await;
    assert_eq!(p.recv().await, Message::Interested);
    p.send(Message::Unchoke).await;
    let Message::Request(r) = p.recv().await else {
        panic!("no request")
    };
    assert_eq!(r.index, 3);
    assert_eq!(r.length, 16384);
    leecher.shutdown().await;
}
