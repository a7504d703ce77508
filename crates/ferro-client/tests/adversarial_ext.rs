//! Hostile peers against a Ferro session through the extension protocol
//! (BEP 10) and what rides on it: lying extended handshakes, ut_pex
//! (BEP 11) floods, ut_metadata (BEP 9) lies, and repeated one-time
//! messages (BEP 5 `port`, the handshake's `p`). Each test asserts what
//! survived: values clamped, messages ignored, lists bounded, honest
//! downloads complete.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::adversary::{Swarm, config, eventually, seeding};
use common::complete;
use common::fake_peer::FakePeer;
use ferro_client::{AddMagnet, Config, Session, TorrentEvent, TorrentHandle};
use ferro_magnet::{MagnetLink, MetadataMessage};
use ferro_pex::{PeerFlags, PexMessage};
use ferro_wire::{ExtendedHandshake, Message};
use tokio::net::TcpListener;

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
    let (s, h) = one_slot_leecher(&sw, config()).await;
    let me = s.listen_addr();
    let (mut p, _) = FakePeer::connect(me, sw.torrent.info_hash()).await;
    p.send_extended_handshake(&ExtendedHandshake::default().with_extension("ut_pex", 1))
        .await;
    // Thousands of addresses, our own listen address first.
    // The addresses are our own listeners (never accepting), so if the
    // leecher dials any it reaches nothing but this test.
    let sinks = sinks(50).await;
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
    let Some((mut p, _)) = FakePeer::builder(ferro_core::InfoHash::from([0; 20]))
        .try_accept(&listener)
        .await
    else {
        // The leecher had the metadata already and hung up.
        return 0;
    };
    let mut ext = ExtendedHandshake::default().with_extension("ut_metadata", 3);
    ext.metadata_size = Some(metadata_size);
    // The leecher may hang up at any point: sends never panic here.
    if !p.try_send(ext.to_message().unwrap()).await || !p.try_send(Message::HaveAll).await {
        return 0;
    }
    let mut asked = 0;
    // Bounded: ends when the leecher closes or after 20 s of silence.
    while let Ok(Some(m)) = p.try_recv(Duration::from_secs(20)).await {
        if let Message::Extended { id, payload } = m
            && id != 0
            && let Ok(MetadataMessage::Request { piece }) = MetadataMessage::decode(&payload)
        {
            asked += 1;
            let m = Message::Extended {
                id,
                payload: Bytes::from(answer(piece)),
            };
            if !p.try_send(m).await {
                break;
            }
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
    let (s, h) = magnet_leecher(link, tmp.path()).await;
    assert_eq!(h.info_hash(), sw.torrent.info_hash());
    complete(&h, tmp.path(), &sw.seed_dir).await;
    s.shutdown().await;
    assert_eq!(huge.await.unwrap(), 0, "asked a peer claiming 100 MiB");
    // The liar was asked, and its answer was not used (the torrent verified).
    let _ = wrong_size.await.unwrap();
    sw.seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_listen_ports_and_port_messages_count_once() {
    let sw = seeding(256 * 1024, config()).await;
    // One peer slot (the fake's), so nothing learned is dialled; the DHT
    // node has no bootstrap node and only ever talks to the sockets below.
    let (s, h) = one_slot_leecher(
        &sw,
        Config {
            dht: Some(ferro_client::DhtOptions::loopback([])),
            ..config()
        },
    )
    .await;
    let (mut p, _) = FakePeer::connect(s.listen_addr(), sw.torrent.info_hash()).await;
    let mut sinks = Vec::new();
    for _ in 0..20 {
        sinks.push(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    }
    let ports: Vec<u16> = sinks
        .iter()
        .map(|u| u.local_addr().unwrap().port())
        .collect();
    let before = h.stats().peers_known;
    // 20 extended handshakes, each with another listen port `p`, and 20
    // BEP 5 `port` messages, each naming another UDP port.
    for &port in &ports {
        let ext = ExtendedHandshake {
            p: Some(port),
            ..ExtendedHandshake::default()
        };
        p.send_extended_handshake(&ext).await;
        p.send(Message::Port(port)).await;
    }
    // The first port is pinged (its node is worth one); no other is.
    let mut buf = [0u8; 1500];
    tokio::time::timeout(Duration::from_secs(10), sinks[0].recv_from(&mut buf))
        .await
        .expect("the first port message's node was never pinged")
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pinged_later = sinks[1..]
        .iter()
        .filter(|u| u.try_recv_from(&mut buf).is_ok())
        .count();
    assert_eq!(pinged_later, 0, "later port messages were followed too");
    eventually("the first p is known", || h.stats().peers_known > before).await;
    assert_eq!(h.stats().peers_known, before + 1);
    let known = h.known_peers();
    assert!(known.iter().any(|(a, _)| a.port() == ports[0]));
    // Repeating one-time messages is ignored, not a reason to disconnect.
    assert_eq!(h.connected_peers().len(), 1);
    s.shutdown().await;
    sw.seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ut_metadata_request_flood_from_a_peer_that_never_reads_stays_bounded() {
    let sw = seeding(4 * 1024 * 1024, config()).await;
    let h = sw.handle();
    let (mut p, _) = FakePeer::connect(sw.seeder.listen_addr(), sw.torrent.info_hash()).await;
    // We speak ut_metadata as id 3; the seeder answers under it.
    p.send_extended_handshake(&ExtendedHandshake::default().with_extension("ut_metadata", 3))
        .await;
    // 200 000 requests for metadata piece 0 (the seeder's UT_METADATA_ID is
    // 2), never reading: each answer is the whole small info dictionary.
    let mut one = bytes::BytesMut::new();
    Message::Extended {
        id: 2,
        payload: Bytes::from(MetadataMessage::Request { piece: 0 }.encode()),
    }
    .encode(&mut one);
    let flood: Vec<u8> = one
        .iter()
        .copied()
        .cycle()
        .take(one.len() * 200_000)
        .collect();
    let (_rd, mut wr) = p.stream.into_split();
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let _ = wr.write_all(&flood).await;
        wr
    });
    let mut max_write = 0;
    // Until the write buffer reached its cap and two more refreshes
    // passed, or 30 s on a slow machine.
    let mut after_cap = 0;
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        for q in h.peer_queues() {
            max_write = max_write.max(q.write_buffer);
        }
        if max_write >= 2 * 1024 * 1024 {
            after_cap += 1;
            if after_cap > 20 {
                break;
            }
        }
    }
    assert!(
        max_write >= 2 * 1024 * 1024,
        "the flood never filled the write buffer: {max_write}"
    );
    // Stops handling requests at 2 MiB queued: one answer more at most.
    let answer = sw.torrent.info.raw().len() + 64;
    assert!(
        max_write <= 2 * 1024 * 1024 + answer,
        "{max_write} bytes queued"
    );
    writer.abort();
    sw.seeder.shutdown().await;
}

/// A session (the test config) given `link`, once it has the metadata (at
/// most 60 s), downloading into `dir`.
async fn magnet_leecher(link: MagnetLink, dir: &std::path::Path) -> (Session, TorrentHandle) {
    let s = Session::new(config()).await.unwrap();
    let h = tokio::time::timeout(
        Duration::from_secs(60),
        s.add_magnet(AddMagnet::new(link, dir)),
    )
    .await
    .expect("metadata timed out")
    .unwrap();
    (s, h)
}

/// A leecher of `sw` running `config` with one peer slot: the fake peer
/// that fills it leaves none for any address the leecher learns.
async fn one_slot_leecher(sw: &Swarm, config: Config) -> (Session, TorrentHandle) {
    let (s, h, _dir) = sw
        .leecher(Config {
            max_peers_per_torrent: 1,
            ..config
        })
        .await;
    (s, h)
}

/// `n` listeners on 127.0.0.1 that never accept: addresses to lie about
/// that, if ever dialled, reach nothing but this test.
async fn sinks(n: usize) -> Vec<TcpListener> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    v
}

fn pex_message(addrs: &[SocketAddr]) -> Message {
    let msg = PexMessage {
        added: addrs.iter().map(|a| (*a, PeerFlags::default())).collect(),
        dropped: Vec::new(),
    };
    Message::Extended {
        id: 1,
        payload: Bytes::from(msg.encode()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pex_violations_survive_a_new_extended_handshake() {
    let sw = seeding(256 * 1024, config()).await;
    let (s, h) = one_slot_leecher(&sw, config()).await;
    let mut events = h.events();
    let sink = sinks(1).await;
    let addr = [sink[0].local_addr().unwrap()];
    let (mut p, _) = FakePeer::connect(s.listen_addr(), sw.torrent.info_hash()).await;
    let on = ExtendedHandshake::default().with_extension("ut_pex", 1);
    let off = ExtendedHandshake::default();
    // Rounds of: ut_pex off, on again (which used to start a fresh state
    // with no violations), then three messages far too soon.
    let mut closed = false;
    for _ in 0..10 {
        let mut ok = p.try_send(off.to_message().unwrap()).await;
        ok &= p.try_send(on.to_message().unwrap()).await;
        for _ in 0..3 {
            ok &= p.try_send(pex_message(&addr)).await;
        }
        if !ok {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = closed;
    // Dropped for its PEX violations (not, say, for going idle afterwards).
    let reason = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(TorrentEvent::PeerDisconnected { reason, .. }) = events.recv().await {
                return reason;
            }
        }
    })
    .await
    .expect("the liar was never dropped");
    assert!(
        reason.contains("ut_pex violations"),
        "dropped for: {reason}"
    );
    s.shutdown().await;
    sw.seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pex_liars_cannot_fill_the_known_list() {
    const LIARS: usize = 45;
    let sw = seeding(256 * 1024, config()).await;
    // Every slot taken by a liar: nothing learned is dialled.
    let (s, h, _dir) = sw
        .leecher(Config {
            max_peers_per_torrent: LIARS,
            max_peers: LIARS,
            ..config()
        })
        .await;
    // 45 liars x 50 addresses = 2250, more than the 2000 known addresses
    // a torrent keeps.
    let sink = sinks(LIARS * 50 + 1).await;
    let addrs: Vec<SocketAddr> = sink.iter().map(|l| l.local_addr().unwrap()).collect();
    let mut liars = Vec::new();
    for chunk in addrs[..LIARS * 50].chunks(50) {
        let (mut p, _) = FakePeer::connect(s.listen_addr(), sw.torrent.info_hash()).await;
        p.send_extended_handshake(&ExtendedHandshake::default().with_extension("ut_pex", 1))
            .await;
        p.send(pex_message(chunk)).await;
        liars.push(p);
    }
    eventually("PEX fills its share", || h.stats().peers_from_pex >= 1000).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.stats().peers_from_pex, 1000);
    // A tracker (or --peer) address still finds room.
    let honest = addrs[LIARS * 50];
    h.add_peers([honest]);
    eventually("the honest address is known", || {
        h.known_peers().iter().any(|(a, _)| *a == honest)
    })
    .await;
    drop(liars);
    s.shutdown().await;
    sw.seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_metadata_peers_cannot_keep_a_magnet_from_the_honest_one() {
    // More silent peers than metadata connections (50) come first in the
    // link: each accepts, handshakes, and never sends its extended handshake.
    const SILENT: usize = 60;
    let sw = seeding(256 * 1024, config()).await;
    let ih = sw.torrent.info_hash();
    let mut link = MagnetLink::new(ih);
    let mut silent = Vec::new();
    for _ in 0..SILENT {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        link.peers
            .push(ferro_magnet::PeerAddr::Socket(l.local_addr().unwrap()));
        silent.push(tokio::spawn(async move {
            let mut held = Vec::new();
            // Bounded: the test aborts it; at most a few redials arrive.
            while let Some((p, _)) = FakePeer::builder(ih).try_accept(&l).await {
                held.push(p);
            }
        }));
    }
    link.peers
        .push(ferro_magnet::PeerAddr::Socket(sw.seeder.listen_addr()));
    let tmp = tempfile::tempdir().unwrap();
    let (s, h) = magnet_leecher(link, tmp.path()).await;
    complete(&h, tmp.path(), &sw.seed_dir).await;
    for t in silent {
        t.abort();
    }
    s.shutdown().await;
    sw.seeder.shutdown().await;
}
