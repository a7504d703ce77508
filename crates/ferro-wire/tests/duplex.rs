//! Two peers over an in-memory tokio duplex: handshake, extension handshake,
//! bitfield, request, piece — through the `tokio_util::codec` adapters.
#![cfg(feature = "tokio")]

use std::time::Duration;

use bytes::Bytes;
use ferro_wire::tokio_codec::{HandshakeCodec, MessageCodec};
use ferro_wire::{
    Bitfield, Block, BlockRequest, Config, ExtendedHandshake, Handshake, InfoHash, Message,
    generate_peer_id,
};
use futures_util::{SinkExt, StreamExt};
use tokio::io::DuplexStream;
use tokio_util::codec::Framed;

const PIECES: u32 = 12;
const PIECE_LEN: usize = 32 * 1024;

fn piece_data(index: u32) -> Vec<u8> {
    (0..PIECE_LEN)
        .map(|i| (i as u32 ^ index.wrapping_mul(31)) as u8)
        .collect()
}

fn config() -> Config {
    Config {
        piece_count: Some(PIECES),
        ..Config::default()
    }
}

/// Handshake, then switch codecs keeping the read buffer.
async fn connect(
    io: DuplexStream,
    info_hash: InfoHash,
) -> (Handshake, Framed<DuplexStream, MessageCodec>) {
    let mut hs = Framed::new(io, HandshakeCodec::new());
    let ours = Handshake::new(info_hash, generate_peer_id());
    hs.send(ours).await.unwrap();
    let theirs = hs.next().await.expect("peer closed").unwrap();
    assert_eq!(theirs.info_hash, info_hash);
    assert!(theirs.reserved.extension_protocol() && theirs.reserved.fast());
    (theirs, hs.map_codec(|_| MessageCodec::new(config())))
}

async fn seeder(io: DuplexStream, info_hash: InfoHash) -> u32 {
    let (_, mut conn) = connect(io, info_hash).await;
    let ext = ExtendedHandshake::default()
        .with_extension("ut_metadata", 3)
        .with_extension("ut_pex", 1);
    // Queue the whole greeting, then flush once: the peer reads it in one go,
    // right behind the handshake.
    conn.feed(ext.to_message().unwrap()).await.unwrap();
    conn.feed(Message::Bitfield(Bitfield::full(PIECES as usize)))
        .await
        .unwrap();
    conn.feed(Message::Unchoke).await.unwrap();
    conn.flush().await.unwrap();
    let mut served = 0;
    while let Some(msg) = conn.next().await {
        match msg.unwrap() {
            Message::Extended { id: 0, payload } => {
                let theirs = ExtendedHandshake::from_bytes(&payload).unwrap();
                assert_eq!(theirs.reqq, Some(250));
            }
            Message::Interested | Message::KeepAlive => {}
            Message::Request(r) => {
                let data = piece_data(r.index);
                let begin = r.begin as usize;
                let block = Bytes::copy_from_slice(&data[begin..begin + r.length as usize]);
                conn.send(Message::Piece(Block {
                    index: r.index,
                    begin: r.begin,
                    data: block,
                }))
                .await
                .unwrap();
                served += 1;
            }
            Message::NotInterested => break,
            other => panic!("seeder got {other:?}"),
        }
    }
    served
}

async fn leecher(io: DuplexStream, info_hash: InfoHash) -> Vec<u8> {
    let (theirs, mut conn) = connect(io, info_hash).await;
    assert_eq!(
        ferro_wire::client_info(&theirs.peer_id).unwrap().name,
        "Ferro"
    );
    let ours = ExtendedHandshake {
        reqq: Some(250),
        ..Default::default()
    };
    conn.send(ours.to_message().unwrap()).await.unwrap();

    let Some(Ok(Message::Extended { id: 0, payload })) = conn.next().await else {
        panic!("expected the extended handshake first");
    };
    let ext = ExtendedHandshake::from_bytes(&payload).unwrap();
    assert_eq!(ext.extension_id("ut_metadata"), Some(3));
    assert_eq!(ext.extension_id("ut_pex"), Some(1));
    let Some(Ok(Message::Bitfield(have))) = conn.next().await else {
        panic!("bitfield")
    };
    assert!(have.all() && have.len() == PIECES as usize);
    assert_eq!(conn.next().await.unwrap().unwrap(), Message::Unchoke);

    // Fetch piece 5 in two 16 KiB blocks, pipelined.
    conn.send(Message::Interested).await.unwrap();
    for begin in [0u32, 16384] {
        conn.send(Message::Request(BlockRequest {
            index: 5,
            begin,
            length: 16384,
        }))
        .await
        .unwrap();
    }
    let mut piece = vec![0u8; PIECE_LEN];
    for _ in 0..2 {
        let Some(Ok(Message::Piece(b))) = conn.next().await else {
            panic!("piece")
        };
        assert_eq!(b.index, 5);
        piece[b.begin as usize..b.begin as usize + b.data.len()].copy_from_slice(&b.data);
    }
    conn.send(Message::NotInterested).await.unwrap();
    piece
}

#[tokio::test]
async fn two_peers_over_duplex() {
    let info_hash = InfoHash([0x42; 20]);
    // A small pipe forces partial reads and writes through the codecs.
    let (a, b) = tokio::io::duplex(1000);
    let run = async {
        let (served, piece) = tokio::join!(seeder(a, info_hash), leecher(b, info_hash));
        (served, piece)
    };
    let (served, piece) = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("exchange finished in time");
    assert_eq!(served, 2);
    assert_eq!(piece, piece_data(5));
}

#[tokio::test]
async fn wrong_info_hash_is_visible_and_garbage_is_an_error() {
    let (a, b) = tokio::io::duplex(4096);
    let mut x = Framed::new(a, HandshakeCodec::new());
    let mut y = Framed::new(b, HandshakeCodec::new());
    x.send(Handshake::new(InfoHash([1; 20]), generate_peer_id()))
        .await
        .unwrap();
    let got = y.next().await.unwrap().unwrap();
    assert_ne!(got.info_hash, InfoHash([2; 20]));

    let (a, b) = tokio::io::duplex(4096);
    let mut raw = Framed::new(a, tokio_util::codec::BytesCodec::new());
    raw.send(Bytes::from_static(b"GET / HTTP/1.1\r\n\r\n"))
        .await
        .unwrap();
    let mut y = Framed::new(b, HandshakeCodec::new());
    assert!(matches!(
        y.next().await,
        Some(Err(ferro_wire::Error::ProtocolLength(b'G')))
    ));
}
