//! Hostile peers against a Ferro session (issue #11): each test drives a
//! fake peer speaking raw bytes on 127.0.0.1 and asserts what survived: the
//! connection closed or the message ignored, queue sizes within the limits,
//! honest downloads complete with the right sha256.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::fake_peer::{FakePeer, Script, garbage_seed};
use ferro_client::{AddMagnet, AddTorrent, Config, Session, TorrentEvent, TorrentHandle};
use ferro_magnet::{MagnetLink, MetadataMessage};
use ferro_pex::{PeerFlags, PexMessage};
use ferro_wire::{Block, BlockRequest, ExtendedHandshake, Message};
use tokio::net::TcpListener;

/// Short timeouts so hostile peers are dropped in seconds.
fn config() -> Config {
    Config {
        handshake_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        pex_interval: Duration::from_millis(200),
        ..common::config()
    }
}

/// A seeding session for a fresh payload of `len` bytes in 32 KiB pieces.
struct Swarm {
    _tmp: tempfile::TempDir,
    seed_dir: std::path::PathBuf,
    torrent: ferro_metainfo::Metainfo,
    seeder: Session,
}

async fn seeding(len: usize, config: Config) -> Swarm {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), len);
    let torrent = common::make_torrent(&seed_dir, 32 * 1024, &[]);
    let seeder = Session::new(config).await.unwrap();
    seeder
        .add_torrent(AddTorrent::new(torrent.clone(), &seed_dir))
        .await
        .unwrap();
    Swarm {
        _tmp: tmp,
        seed_dir,
        torrent,
        seeder,
    }
}

impl Swarm {
    fn handle(&self) -> TorrentHandle {
        self.seeder.torrents().remove(0)
    }

    /// An empty leecher session for the same torrent, without peers.
    async fn leecher(&self, config: Config) -> (Session, TorrentHandle, std::path::PathBuf) {
        let dir = self
            .seed_dir
            .parent()
            .unwrap()
            .join(format!("leech-{}", rand::random::<u32>()));
        let s = Session::new(config).await.unwrap();
        let h = s
            .add_torrent(AddTorrent::new(self.torrent.clone(), &dir))
            .await
            .unwrap();
        (s, h, dir)
    }

    fn pieces(&self) -> usize {
        self.torrent.info.piece_count() as usize
    }
}

async fn complete(h: &TorrentHandle, dir: &std::path::Path, seed_dir: &std::path::Path) {
    tokio::time::timeout(Duration::from_secs(60), h.wait_until_complete())
        .await
        .expect("download timed out")
        .unwrap();
    assert_eq!(common::digests(dir), common::digests(seed_dir));
}

/// Waits (bounded) until `f` holds; panics with `what` otherwise.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

fn is_unchoke(m: &Message) -> bool {
    *m == Message::Unchoke
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_blocks_get_the_peer_banned_and_the_download_completes() {
    let sw = seeding(2 * 1024 * 1024, config()).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bad = listener.local_addr().unwrap();
    let bad_task = tokio::spawn(garbage_seed(listener, sw.pieces()));
    let (s, h, dir) = sw.leecher(config()).await;
    // Subscribe first: the ban can follow the first bad pieces within a millisecond.
    let mut events = h.events();
    // Only the corrupt peer at first, so it surely sends bad pieces.
    h.add_peers([bad]);
    let (mut banned, mut failures) = (false, 0);
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
    h.add_peers([sw.seeder.listen_addr(), bad]);
    complete(&h, &dir, &sw.seed_dir).await;
    assert!(h.stats().hash_failures >= 2);
    assert!(!h.connected_peers().contains(&bad));
    bad_task.abort();
    s.shutdown().await;
    sw.seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_close_the_connection() {
    let sw = seeding(256 * 1024, config()).await;
    let ih = sw.torrent.info_hash();
    let addr = sw.seeder.listen_addr();
    let pieces = sw.pieces();
    // Each of these is a protocol violation BEP 3 gives no way to recover
    // from: the session drops the connection.
    let mut oversized_piece = vec![0, 0x10, 0, 0, 7]; // 1 MiB + a block
    oversized_piece.extend_from_slice(&[0; 64]);
    let huge_unknown = [0x7f, 0xff, 0xff, 0xff, 99]; // 2 GiB, unknown id
    // One byte more than the piece count needs.
    let bitfield_len = pieces.div_ceil(8) + 1;
    let mut wrong_bitfield = (1 + bitfield_len as u32).to_be_bytes().to_vec();
    wrong_bitfield.push(5);
    wrong_bitfield.extend(std::iter::repeat_n(0xff, bitfield_len));
    let have_out_of_range = {
        let mut out = bytes::BytesMut::new();
        Message::Have(pieces as u32).encode(&mut out);
        out.to_vec()
    };
    let mut closed = Vec::new();
    for (what, bytes) in [
        ("oversized piece length", oversized_piece),
        ("oversized unknown message", huge_unknown.to_vec()),
        ("bitfield of the wrong size", wrong_bitfield),
        ("have for a piece out of range", have_out_of_range),
    ] {
        let (mut p, _) = FakePeer::connect(addr, ih).await;
        p.send_raw(&bytes).await;
        assert!(
            p.closed_within(Duration::from_secs(10)).await,
            "{what}: connection stayed open"
        );
        closed.push(what);
    }
    assert_eq!(closed.len(), 4);
    eventually("peers removed", || sw.handle().stats().peers_connected == 0).await;
    sw.seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_and_unrequested_pieces_are_ignored() {
    let sw = seeding(256 * 1024, config()).await;
    let (s, h, _dir) = sw.leecher(config()).await;
    let (mut p, _) = FakePeer::connect(s.listen_addr(), sw.torrent.info_hash()).await;
    // An unknown message id with a payload (BEP 3: ignored), a piece we
    // never asked for, then an ordinary exchange on the same connection.
    let mut unknown = vec![0, 0, 0, 101, 99];
    unknown.extend_from_slice(&[0x55; 100]);
    p.run(
        Script::new()
            .expect("extended handshake", |m| {
                matches!(m, Message::Extended { id: 0, .. })
            })
            .expect("have none", |m| *m == Message::HaveNone)
            .raw(&unknown)
            .send(Message::Piece(Block {
                index: 0,
                begin: 0,
                data: Bytes::from(vec![1u8; 16 * 1024]),
            }))
            .send(Message::HaveAll)
            .expect("interested", |m| *m == Message::Interested)
            .send(Message::Unchoke)
            .expect("a request", |m| matches!(m, Message::Request(_))),
    )
    .await;
    let st = h.stats();
    assert_eq!((st.downloaded, st.pieces_have), (0, 0));
    assert_eq!(h.connected_peers().len(), 1);
    s.shutdown().await;
    sw.seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_for_missing_pieces_are_rejected() {
    let sw = seeding(256 * 1024, config()).await;
    let (s, h, _dir) = sw.leecher(config()).await;
    let (mut p, _) = FakePeer::connect(s.listen_addr(), sw.torrent.info_hash()).await;
    let req = BlockRequest {
        index: 2,
        begin: 0,
        length: 16 * 1024,
    };
    p.run(
        Script::new()
            .until("have none", |m| *m == Message::HaveNone)
            .send(Message::Interested)
            .until("unchoke", is_unchoke)
            .send(Message::Request(req))
            .expect("reject", move |m| *m == Message::RejectRequest(req)),
    )
    .await;
    assert_eq!(h.stats().uploaded, 0);
    assert_eq!(h.connected_peers().len(), 1);
    s.shutdown().await;
    sw.seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_flood_from_a_peer_that_never_reads_stays_bounded() {
    let sw = seeding(256 * 1024, config()).await;
    let h = sw.handle();
    let (mut p, _) = FakePeer::connect(sw.seeder.listen_addr(), sw.torrent.info_hash()).await;
    p.run(
        Script::new()
            .send(Message::Interested)
            .until("unchoke", is_unchoke),
    )
    .await;
    // 300 000 requests (5 MB), never reading: every one beyond the queue
    // earns a reject, which would pile up in the write buffer unread.
    let req = Message::Request(BlockRequest {
        index: 0,
        begin: 0,
        length: 16 * 1024,
    });
    let mut one = bytes::BytesMut::new();
    req.encode(&mut one);
    let flood: Vec<u8> = one
        .iter()
        .copied()
        .cycle()
        .take(one.len() * 300_000)
        .collect();
    let (_rd, mut wr) = p.stream.into_split();
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let _ = wr.write_all(&flood).await;
        wr
    });
    // Sample the queues while the flood runs (each refreshes every second).
    let mut max = ferro_client::PeerQueues {
        addr: sw.seeder.listen_addr(),
        upload_queue: 0,
        write_buffer: 0,
        read_buffer: 0,
        requests_outstanding: 0,
    };
    // Until the write buffer reached its cap (then two more refreshes), or
    // 30 s on a slow machine.
    let mut after_cap = 0;
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        for q in h.peer_queues() {
            max.upload_queue = max.upload_queue.max(q.upload_queue);
            max.write_buffer = max.write_buffer.max(q.write_buffer);
            max.read_buffer = max.read_buffer.max(q.read_buffer);
        }
        if max.write_buffer >= 2 * 1024 * 1024 {
            after_cap += 1;
            if after_cap > 20 {
                break;
            }
        }
    }
    assert!(max.upload_queue <= 500, "{max:?}");
    // Stops reading at 2 MiB queued; one read (64 KiB of requests) more.
    assert!(max.write_buffer <= 2 * 1024 * 1024 + 128 * 1024, "{max:?}");
    assert!(max.read_buffer <= 1024 * 1024 + 128 * 1024, "{max:?}");
    assert!(
        max.write_buffer >= 2 * 1024 * 1024,
        "the flood never filled the write buffer: {max:?}"
    );
    writer.abort();
    sw.seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_cancel_storms_keep_the_connection_bounded_and_serving() {
    let sw = seeding(256 * 1024, config()).await;
    let h = sw.handle();
    let (mut p, _) = FakePeer::connect(sw.seeder.listen_addr(), sw.torrent.info_hash()).await;
    p.run(
        Script::new()
            .send(Message::Interested)
            .until("unchoke", is_unchoke),
    )
    .await;
    let reqs: Vec<BlockRequest> = (0..8u32)
        .flat_map(|index| {
            (0..2u32).map(move |b| BlockRequest {
                index,
                begin: b * 16 * 1024,
                length: 16 * 1024,
            })
        })
        .collect();
    for _ in 0..50 {
        let mut out = bytes::BytesMut::new();
        for _ in 0..40 {
            for r in &reqs {
                Message::Request(*r).encode(&mut out);
                Message::Cancel(*r).encode(&mut out);
            }
        }
        p.send_raw(&out).await;
    }
    // Still served: one last request gets the right block.
    let last = BlockRequest {
        index: 3,
        begin: 16 * 1024,
        length: 16 * 1024,
    };
    p.send(Message::Request(last)).await;
    let (m, _) = p
        .recv_until(|m| matches!(m, Message::Piece(b) if b.request() == last))
        .await;
    let Message::Piece(block) = m else {
        unreachable!()
    };
    let storage = ferro_client::storage::Storage::open(
        std::sync::Arc::new(sw.torrent.info.clone()),
        &sw.seed_dir,
    )
    .unwrap();
    let mut expected = vec![0u8; 16 * 1024];
    storage
        .read(3 * 32 * 1024 + 16 * 1024, &mut expected)
        .unwrap();
    assert_eq!(&block.data[..], &expected[..]);
    for q in h.peer_queues() {
        assert!(q.upload_queue <= 500, "{q:?}");
    }
    assert_eq!(h.connected_peers().len(), 1);
    sw.seeder.shutdown().await;
}

/// A fake seed at `listener` that sends `ext`, have-all and unchoke, then
/// counts the requests it gets (never answering) for two seconds.
async fn requests_for_handshake(sw: &Swarm, ext: Vec<u8>) -> (usize, usize) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (s, h, _dir) = sw.leecher(config()).await;
    h.add_peers([listener.local_addr().unwrap()]);
    let (mut p, _) = FakePeer::builder(sw.torrent.info_hash())
        .accept(&listener)
        .await;
    p.send(Message::Extended {
        id: 0,
        payload: Bytes::from(ext),
    })
    .await;
    p.send(Message::HaveAll).await;
    p.send(Message::Unchoke).await;
    let mut requests = 0;
    let until = tokio::time::Instant::now() + Duration::from_millis(1500);
    while let Ok(Some(m)) = p
        .try_recv(until.saturating_duration_since(tokio::time::Instant::now()))
        .await
    {
        requests += usize::from(matches!(m, Message::Request(_)));
    }
    let in_flight = h
        .peer_queues()
        .iter()
        .map(|q| q.requests_outstanding)
        .max()
        .unwrap_or(0);
    assert_eq!(h.connected_peers().len(), 1, "connection dropped");
    s.shutdown().await;
    (requests, in_flight)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_extension_handshakes_are_clamped_or_ignored() {
    let sw = seeding(4 * 1024 * 1024, config()).await;
    // reqq 0 would stall us: clamped to one request in flight.
    let (n, _) = requests_for_handshake(&sw, b"d1:md6:ut_pexi1ee4:reqqi0ee".to_vec()).await;
    assert_eq!(n, 1);
    // reqq 2: exactly what it asked for.
    let (n, _) = requests_for_handshake(&sw, b"d4:reqqi2ee".to_vec()).await;
    assert_eq!(n, 2);
    // A huge reqq (beyond u32) and wrong types everywhere: the fields are
    // ignored, the connection lives, and our own queue bound holds.
    let (n, in_flight) = requests_for_handshake(
        &sw,
        b"d1:mi5e1:pi-1e4:reqqi99999999999999e1:vi5e6:yourip3:abc13:metadata_size3:abce".to_vec(),
    )
    .await;
    assert!((1..=500).contains(&n), "{n} requests");
    assert!(in_flight <= 500);
    let (n, _) = requests_for_handshake(&sw, b"d4:reqqi4000000000ee".to_vec()).await;
    assert!((1..=500).contains(&n), "{n} requests");
    // Not even bencode: ignored like an absent handshake.
    let (n, _) = requests_for_handshake(&sw, b"garbage".to_vec()).await;
    assert!(n >= 1);
    sw.seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pex_floods_and_our_own_address_are_dropped() {
    let sw = seeding(256 * 1024, config()).await;
    // One peer slot: the fake fills it, so nothing learned is dialled.
    let (s, h, _dir) = sw
        .leecher(Config {
            max_peers_per_torrent: 1,
            ..config()
        })
        .await;
    let me = s.listen_addr();
    let (mut p, _) = FakePeer::connect(me, sw.torrent.info_hash()).await;
    p.send_extended_handshake(&ExtendedHandshake::default().with_extension("ut_pex", 1))
        .await;
    // Thousands of addresses, our own listen address first.
    // The addresses are our own listeners (never accepting), so if the
    // leecher dials any it reaches nothing but this test.
    let mut sinks = Vec::new();
    for _ in 0..50 {
        sinks.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    let sink_addrs: Vec<SocketAddr> = sinks.iter().map(|l| l.local_addr().unwrap()).collect();
    let mut msg = PexMessage::default();
    msg.added.push((me, PeerFlags::default()));
    for a in sink_addrs.iter().cycle().take(3000) {
        msg.added.push((*a, PeerFlags::default()));
    }
    let before = h.stats().peers_known;
    p.send(Message::Extended {
        id: 1,
        payload: Bytes::from(msg.encode()),
    })
    .await;
    eventually("some PEX peers learned", || h.stats().peers_from_pex > 0).await;
    let known = h.known_peers();
    assert!(!known.iter().any(|(a, _)| *a == me), "our own address kept");
    assert!(
        h.stats().peers_known - before <= 50,
        "{} learned from one message",
        h.stats().peers_known - before
    );
    // More floods at once: too many violations, the peer is dropped.
    for _ in 0..10 {
        let m = Message::Extended {
            id: 1,
            payload: Bytes::from(msg.encode()),
        };
        if !p.try_send(m).await {
            break;
        }
    }
    assert!(p.closed_within(Duration::from_secs(10)).await);
    assert!(h.stats().peers_known <= 2000);
    s.shutdown().await;
    drop(sinks);
    sw.seeder.shutdown().await;
}

/// A fake metadata peer: on the dial of a magnet leecher, advertises
/// `metadata_size` and answers each ut_metadata request with `answer`.
async fn metadata_liar(
    listener: TcpListener,
    metadata_size: u64,
    answer: impl Fn(u32) -> Vec<u8> + Send + 'static,
) -> usize {
    // Answers with the info-hash the leecher dialled for.
    let (mut p, _) = FakePeer::builder(ferro_core::InfoHash::from([0; 20]))
        .accept(&listener)
        .await;
    let mut ext = ExtendedHandshake::default().with_extension("ut_metadata", 3);
    ext.metadata_size = Some(metadata_size);
    p.send_extended_handshake(&ext).await;
    p.send(Message::HaveAll).await;
    let mut asked = 0;
    // Bounded: ends when the leecher closes or after 20 s of silence.
    while let Ok(Some(m)) = p.try_recv(Duration::from_secs(20)).await {
        if let Message::Extended { id, payload } = m
            && id != 0
            && let Ok(MetadataMessage::Request { piece }) = MetadataMessage::decode(&payload)
        {
            asked += 1;
            p.send(Message::Extended {
                id,
                payload: Bytes::from(answer(piece)),
            })
            .await;
        }
    }
    asked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_lies_are_rejected_and_the_magnet_completes() {
    let sw = seeding(512 * 1024, config()).await;
    let info_len = sw.torrent.info.raw().len();
    let huge = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let wrong_size = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let liars = [huge.local_addr().unwrap(), wrong_size.local_addr().unwrap()];
    // Claims 100 MiB of metadata: never asked for any of it.
    let huge = tokio::spawn(metadata_liar(huge, 100 * 1024 * 1024, |_| Vec::new()));
    // Claims the right size, then sends pieces of another total size.
    let wrong_size = tokio::spawn(metadata_liar(wrong_size, info_len as u64, move |piece| {
        MetadataMessage::Data {
            piece,
            total_size: info_len as u64 * 2,
            data: &[7u8; 16 * 1024],
        }
        .encode()
    }));
    let mut link = MagnetLink::new(sw.torrent.info_hash());
    for a in liars.iter().chain([&sw.seeder.listen_addr()]) {
        link.peers.push(ferro_magnet::PeerAddr::Socket(*a));
    }
    let tmp = tempfile::tempdir().unwrap();
    let s = Session::new(config()).await.unwrap();
    let h = tokio::time::timeout(
        Duration::from_secs(60),
        s.add_magnet(AddMagnet::new(link, tmp.path())),
    )
    .await
    .expect("metadata timed out")
    .unwrap();
    assert_eq!(h.info_hash(), sw.torrent.info_hash());
    complete(&h, tmp.path(), &sw.seed_dir).await;
    s.shutdown().await;
    assert_eq!(huge.await.unwrap(), 0, "asked a peer claiming 100 MiB");
    // The liar was asked, and its answer was not used (the torrent verified).
    let _ = wrong_size.await.unwrap();
    sw.seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_silent_peers_are_timed_out() {
    let sw = seeding(256 * 1024, config()).await;
    let ih = sw.torrent.info_hash();
    let addr = sw.seeder.listen_addr();
    // Slowloris after the handshake: one byte a second of a message that
    // never completes; the bytes keep coming but no message ever does.
    let (mut p, _) = FakePeer::connect(addr, ih).await;
    let trickle = async {
        for b in [0u8, 0, 0x10, 0, 20].iter().chain([0u8; 4096].iter()) {
            if tokio::io::AsyncWriteExt::write_all(&mut p.stream, &[*b])
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(15), trickle)
        .await
        .expect("the trickling peer was never dropped");
    assert!(p.closed_within(Duration::from_secs(5)).await);
    // Slowloris during the handshake: one byte a second.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let hs = FakePeer::builder(ih).handshake().to_bytes();
    let trickle = async {
        for b in hs.iter() {
            if tokio::io::AsyncWriteExt::write_all(&mut s, &[*b])
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(15), trickle)
        .await
        .expect("the trickling handshake was never dropped");
    // An incoming socket that never says anything.
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut p = FakePeer::from_stream(s);
    assert!(p.closed_within(Duration::from_secs(10)).await);
    // A peer we dial that accepts but never answers our handshake.
    let (s, h, _dir) = sw.leecher(config()).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    h.add_peers([listener.local_addr().unwrap()]);
    let (conn, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("never dialled")
        .unwrap();
    let mut p = FakePeer::from_stream(conn);
    assert!(p.closed_within(Duration::from_secs(10)).await);
    assert!(h.connected_peers().is_empty());
    s.shutdown().await;
    sw.seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connections_are_capped_and_an_honest_leecher_completes() {
    const FLOOD: usize = 1000;
    let cap = 20;
    let sw = seeding(
        1024 * 1024,
        Config {
            max_peers_per_torrent: cap,
            max_peers: 2 * cap,
            // The flood stays connected while the honest leecher arrives:
            // it must take the place of an idle flood connection.
            idle_timeout: Duration::from_secs(120),
            ..config()
        },
    )
    .await;
    let h = sw.handle();
    let addr = sw.seeder.listen_addr();
    let ih = sw.torrent.info_hash();
    // 1000 sockets at once, each sending a valid handshake, then silence.
    // The test process holds both ends (2000 descriptors); RLIMIT_NOFILE
    // here is 20000 (checked below, not raised).
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..FLOOD {
        flood.spawn(async move {
            let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
                return None;
            };
            let hs = FakePeer::builder(ih).handshake().to_bytes();
            if tokio::io::AsyncWriteExt::write_all(&mut s, &hs)
                .await
                .is_err()
            {
                return None;
            }
            Some(s)
        });
    }
    let mut peak = 0;
    let mut sockets = Vec::new();
    // Bounded by FLOOD.
    while let Some(r) = flood.join_next().await {
        peak = peak.max(h.stats().peers_connected);
        if let Some(s) = r.unwrap() {
            sockets.push(s);
        }
    }
    for _ in 0..20 {
        peak = peak.max(h.stats().peers_connected);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(peak <= cap, "{peak} peers connected, cap {cap}");
    assert!(peak > 0, "no flood connection got through at all");
    // The honest leecher, while the idle flood still holds its sockets.
    let (s, lh, dir) = sw.leecher(config()).await;
    lh.add_peers([addr]);
    complete(&lh, &dir, &sw.seed_dir).await;
    assert!(h.stats().peers_connected <= cap);
    drop(sockets);
    s.shutdown().await;
    sw.seeder.shutdown().await;
}
