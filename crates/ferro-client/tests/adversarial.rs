//! Hostile peers against a Ferro session (issue #11): each test drives a
//! fake peer speaking raw bytes on 127.0.0.1 and asserts what survived: the
//! connection closed or the message ignored, queue sizes within the limits,
//! honest downloads complete with the right sha256.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::adversary::{Swarm, config, eventually, seeding};
use common::complete;
use common::fake_peer::{FakePeer, Script, garbage_seed};
use ferro_client::{Config, TorrentEvent};
use ferro_wire::{Block, BlockRequest, Message};
use tokio::net::TcpListener;

fn is_unchoke(m: &Message) -> bool {
    *m == Message::Unchoke
}

/// Writes `bytes` one a second until the connection fails; fails the test
/// unless that happens within 15 s (`what` names the writer).
async fn trickle(s: &mut tokio::net::TcpStream, bytes: &[u8], what: &str) {
    let each = async {
        for b in bytes {
            if tokio::io::AsyncWriteExt::write_all(s, &[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(15), each)
        .await
        .unwrap_or_else(|_| panic!("{what} was never dropped"));
}

/// A fake peer connected to the swarm's seeder, interested and unchoked.
async fn unchoked_peer(sw: &Swarm) -> FakePeer {
    let (mut p, _) = FakePeer::connect(sw.seeder.listen_addr(), sw.torrent.info_hash()).await;
    p.run(
        Script::new()
            .send(Message::Interested)
            .until("unchoke", is_unchoke),
    )
    .await;
    p
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
    let p = unchoked_peer(&sw).await;
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
    let mut p = unchoked_peer(&sw).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_silent_peers_are_timed_out() {
    let sw = seeding(256 * 1024, config()).await;
    let ih = sw.torrent.info_hash();
    let addr = sw.seeder.listen_addr();
    // Slowloris after the handshake: one byte a second of a message that
    // never completes; the bytes keep coming but no message ever does.
    let (mut p, _) = FakePeer::connect(addr, ih).await;
    let never_complete: Vec<u8> = [0u8, 0, 0x10, 0, 20]
        .into_iter()
        .chain([0u8; 4096])
        .collect();
    trickle(&mut p.stream, &never_complete, "the trickling peer").await;
    assert!(p.closed_within(Duration::from_secs(5)).await);
    // Slowloris during the handshake: one byte a second.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let hs = FakePeer::builder(ih).handshake().to_bytes();
    trickle(&mut s, &hs, "the trickling handshake").await;
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
    let (mut peak, mut pending_peak) = (0, 0);
    let mut sockets = Vec::new();
    // Bounded by FLOOD.
    while let Some(r) = flood.join_next().await {
        peak = peak.max(h.stats().peers_connected);
        pending_peak = pending_peak.max(sw.seeder.pending_handshakes());
        if let Some(s) = r.unwrap() {
            sockets.push(s);
        }
    }
    for _ in 0..20 {
        peak = peak.max(h.stats().peers_connected);
        pending_peak = pending_peak.max(sw.seeder.pending_handshakes());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(peak <= cap, "{peak} peers connected, cap {cap}");
    assert!(peak > 0, "no flood connection got through at all");
    // The default cap on incoming handshakes in progress.
    assert!(pending_peak <= 64, "{pending_peak} handshakes pending");
    // The honest leecher, while the idle flood still holds its sockets.
    let (s, lh, dir) = sw.leecher(config()).await;
    lh.add_peers([addr]);
    complete(&lh, &dir, &sw.seed_dir).await;
    assert!(h.stats().peers_connected <= cap);
    drop(sockets);
    s.shutdown().await;
    sw.seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_cannot_lock_out_an_honest_peer() {
    const SILENT: usize = 300;
    let cap = 16;
    // A long handshake timeout: the silent sockets would hold their places
    // for the whole test if newcomers could not take them.
    let sw = seeding(
        512 * 1024,
        Config {
            handshake_timeout: Duration::from_secs(60),
            max_pending_handshakes: cap,
            ..config()
        },
    )
    .await;
    let addr = sw.seeder.listen_addr();
    let mut silent = Vec::new();
    let mut peak = 0;
    for _ in 0..SILENT {
        silent.push(tokio::net::TcpStream::connect(addr).await.unwrap());
        peak = peak.max(sw.seeder.pending_handshakes());
    }
    eventually("the flood reached the listener", || {
        sw.seeder.pending_handshakes() == cap
    })
    .await;
    let (s, h, dir) = sw.leecher(config()).await;
    h.add_peers([addr]);
    complete(&h, &dir, &sw.seed_dir).await;
    assert!(peak <= cap, "{peak} handshakes pending, cap {cap}");
    // All but the newest `cap` silent sockets were closed by the session.
    let mut open = 0;
    for sock in silent {
        let mut p = FakePeer::from_stream(sock);
        open += usize::from(!p.closed_within(Duration::from_millis(100)).await);
    }
    assert!(open <= cap, "{open} silent sockets still open");
    assert!(sw.seeder.pending_handshakes() <= cap);
    s.shutdown().await;
    sw.seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_answers_requests_is_snubbed_and_the_download_completes() {
    let sw = seeding(1024 * 1024, config()).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let staller = listener.local_addr().unwrap();
    let (s, h, dir) = sw
        .leecher(Config {
            snub_timeout: Duration::from_secs(1),
            // Long: the staller stays connected; only the snub moves its requests.
            idle_timeout: Duration::from_secs(60),
            ..config()
        })
        .await;
    // Only the staller at first: it takes requests and answers none.
    h.add_peers([staller]);
    let (mut p, _) = FakePeer::builder(sw.torrent.info_hash())
        .accept(&listener)
        .await;
    p.run(
        Script::new()
            .send(Message::HaveAll)
            .send(Message::Unchoke)
            .until("requests", |m| matches!(m, Message::Request(_))),
    )
    .await;
    h.add_peers([sw.seeder.listen_addr()]);
    // The staller keeps the connection alive but never sends a block.
    let keep_alive = tokio::spawn(async move {
        // Bounded: ends when the leecher closes or the test aborts it.
        for _ in 0..600 {
            if !p.try_send(Message::KeepAlive).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    complete(&h, &dir, &sw.seed_dir).await;
    keep_alive.abort();
    s.shutdown().await;
    sw.seeder.shutdown().await;
}
