//! File selection on loopback: a Ferro seeder and a Ferro leecher with
//! skipped files, raised priorities, sequential mode and magnet `so=`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::fake_peer::FakePeer;
use ferro_client::storage::Storage;
use ferro_client::{AddMagnet, AddTorrent, FilePriority, Session, TorrentEvent, TorrentState};
use ferro_metainfo::Metainfo;
use ferro_wire::Message;
use sha2::{Digest, Sha256};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Index of the file whose path ends with `name`.
fn index_of(m: &Metainfo, name: &str) -> usize {
    m.info
        .files()
        .iter()
        .position(|f| f.path.ends_with(name))
        .unwrap()
}

fn sha256(path: &Path) -> [u8; 32] {
    Sha256::digest(std::fs::read(path).unwrap()).into()
}

/// The torrent byte ranges of the pieces that hold bytes of both file `a`
/// and file `b`, intersected with file `b`, relative to `b`'s start.
fn straddled(m: &Metainfo, wanted: &[usize], file: usize) -> Vec<std::ops::Range<u64>> {
    let info = &m.info;
    let f = &info.files()[file];
    info.file_pieces(file)
        .filter(|&p| wanted.iter().any(|&w| info.file_pieces(w).contains(&p)))
        .map(|p| {
            let start = info.piece_offset(p).unwrap().max(f.offset);
            let end = (info.piece_offset(p).unwrap() + info.piece_size(p).unwrap()).min(f.end());
            start - f.offset..end - f.offset
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_files_are_not_downloaded_until_raised() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 1024 * 1024);
    let torrent = common::make_torrent(&seed_dir, 32 * 1024, &[]);
    let (a, empty, b, c) = (
        index_of(&torrent, "a.bin"),
        index_of(&torrent, "empty.txt"),
        index_of(&torrent, "b.bin"),
        index_of(&torrent, "c.bin"),
    );
    let seeder = common::seeder(common::config(), &torrent, &seed_dir).await;

    // a and the empty file wanted; b and c skipped. b shares a piece with
    // a (those bytes are written into a sparse b.bin); c shares pieces only
    // with b, so it is never created.
    let mut prios = vec![FilePriority::Normal; 4];
    prios[b] = FilePriority::Skip;
    prios[c] = FilePriority::Skip;
    let dir = tmp.path().join("leech");
    let s = Session::new(common::config()).await.unwrap();
    let h = s
        .add_torrent(
            AddTorrent::new(torrent.clone(), &dir)
                .peer(seeder.listen_addr())
                .with_file_priorities(prios.clone()),
        )
        .await
        .unwrap();
    assert!(!dir.join("payload/sub/c.bin").exists());
    tokio::time::timeout(TIMEOUT, h.wait_until_complete())
        .await
        .expect("selected files timed out")
        .unwrap();
    let payload = |d: &Path, f: &str| d.join("payload").join(f);
    assert_eq!(
        sha256(&payload(&dir, "a.bin")),
        sha256(&payload(&seed_dir, "a.bin"))
    );
    assert!(payload(&dir, "empty.txt").is_file());
    assert!(!payload(&dir, "sub/c.bin").exists(), "c.bin was created");
    // b.bin holds exactly the bytes of the pieces it shares with a; zeros elsewhere.
    let got = std::fs::read(payload(&dir, "sub/b.bin")).unwrap();
    let want = std::fs::read(payload(&seed_dir, "sub/b.bin")).unwrap();
    assert_eq!(got.len(), want.len());
    let shared = straddled(&torrent, &[a, empty], b);
    assert_eq!(shared.len(), 1, "{shared:?}");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if shared.iter().any(|r| r.contains(&(i as u64))) {
            assert_eq!(g, w, "straddling byte {i}");
        } else {
            assert_eq!(*g, 0, "byte {i} of the skipped file was written");
        }
    }
    let stats = h.stats();
    assert_eq!(stats.state, TorrentState::Seeding);
    assert!(stats.pieces_have < stats.piece_count);
    assert_eq!(stats.wanted_left, 0);
    assert_eq!(stats.progress(), 1.0);
    assert_eq!(
        stats.selected_length,
        torrent.info.files()[a].length,
        "a and the empty file"
    );
    let progress = h.file_progress();
    assert!(progress[a].is_complete());
    assert!(!progress[b].is_complete() && progress[b].verified_bytes > 0);
    assert_eq!(progress[c].verified_bytes, 0);
    assert_eq!(progress[b].priority, FilePriority::Skip);
    s.shutdown().await;

    // Restart: the resume data remembers the priorities; nothing is missing.
    let s = Session::new(common::config()).await.unwrap();
    let h = s
        .add_torrent(AddTorrent::new(torrent.clone(), &dir).peer(seeder.listen_addr()))
        .await
        .unwrap();
    assert_eq!(h.file_priorities(), prios);
    assert_eq!(h.stats().state, TorrentState::Seeding);
    assert!(!payload(&dir, "sub/c.bin").exists());

    // Raising the skipped files downloads the rest.
    let mut events = h.events();
    h.set_file_priority(b, FilePriority::High).unwrap();
    h.set_file_priority(c, FilePriority::Low).unwrap();
    assert!(
        payload(&dir, "sub/c.bin").is_file(),
        "c.bin created on raise"
    );
    assert_eq!(h.stats().state, TorrentState::Downloading);
    assert!(h.set_file_priority(4, FilePriority::Low).is_err());
    tokio::time::timeout(TIMEOUT, h.wait_until_complete())
        .await
        .expect("raised files timed out")
        .unwrap();
    assert_eq!(common::digests(&dir), common::digests(&seed_dir));
    assert_eq!(h.stats().pieces_have, h.stats().piece_count);
    let mut completed = false;
    while let Ok(e) = events.try_recv() {
        completed |= e == TorrentEvent::Completed;
    }
    assert!(
        completed,
        "Completed sent again when the raised files finished"
    );
    s.shutdown().await;
    seeder.shutdown().await;
}

/// A finished selection seeds what it has: a second leecher wanting the
/// same file gets it from the first alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_selection_seeds_its_pieces() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 1024 * 1024);
    let torrent = common::make_torrent(&seed_dir, 32 * 1024, &[]);
    let c = index_of(&torrent, "c.bin");
    let only_c: Vec<FilePriority> = (0..4)
        .map(|i| {
            if i == c {
                FilePriority::High
            } else {
                FilePriority::Skip
            }
        })
        .collect();
    let seeder = common::seeder(common::config(), &torrent, &seed_dir).await;
    let first = Session::new(common::config()).await.unwrap();
    let h1 = first
        .add_torrent(
            AddTorrent::new(torrent.clone(), tmp.path().join("first"))
                .peer(seeder.listen_addr())
                .with_file_priorities(only_c.clone()),
        )
        .await
        .unwrap();
    tokio::time::timeout(TIMEOUT, h1.wait_until_complete())
        .await
        .expect("first selection timed out")
        .unwrap();
    seeder.shutdown().await;

    let second_dir = tmp.path().join("second");
    let second = Session::new(common::config()).await.unwrap();
    let h2 = second
        .add_torrent(
            AddTorrent::new(torrent.clone(), &second_dir)
                .peer(first.listen_addr())
                .with_file_priorities(only_c),
        )
        .await
        .unwrap();
    tokio::time::timeout(TIMEOUT, h2.wait_until_complete())
        .await
        .expect("download from the partial seed timed out")
        .unwrap();
    assert_eq!(
        sha256(&second_dir.join("payload/sub/c.bin")),
        sha256(&seed_dir.join("payload/sub/c.bin"))
    );
    assert!(h1.stats().uploaded > 0);
    second.shutdown().await;
    first.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_mode_verifies_pieces_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 4 * 1024 * 1024);
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &[]);
    let n = torrent.info.piece_count();
    assert!(n >= 250);
    let seeder = common::seeder(common::config(), &torrent, &seed_dir).await;
    let s = Session::new(common::config()).await.unwrap();
    let h = s
        .add_torrent(
            AddTorrent::new(torrent.clone(), tmp.path().join("leech")).with_sequential(true),
        )
        .await
        .unwrap();
    assert!(h.is_sequential() && h.stats().sequential);
    let mut events = h.events();
    h.add_peers([seeder.listen_addr()]);
    let mut order = Vec::new();
    while order.len() < n as usize {
        match tokio::time::timeout(TIMEOUT, events.recv()).await {
            Ok(Ok(TorrentEvent::PieceVerified(p))) => order.push(p),
            Ok(Ok(_)) => {}
            other => panic!("no piece verified in time: {other:?}"),
        }
    }
    // Pieces are requested in order (see the exact request order below),
    // but at loopback speed a whole pipeline is in flight and pieces are
    // hashed in parallel, so they verify only roughly in order: the first
    // half of the verified pieces are mostly the low half. (Rarest first
    // would put their mean near n/2.)
    let half = order.len() / 2;
    let mean_first: f64 = order[..half].iter().map(|&p| f64::from(p)).sum::<f64>() / half as f64;
    assert!(
        mean_first < 0.35 * f64::from(n),
        "mean index of the first {half} verified pieces is {mean_first}: {order:?}"
    );
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..n).collect::<Vec<_>>());
    h.wait_until_complete().await.unwrap();
    s.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_so_selects_files_and_ignores_bad_indices() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 512 * 1024);
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &[]);
    let (a, c) = (index_of(&torrent, "a.bin"), index_of(&torrent, "c.bin"));
    let seeder = common::seeder(common::config(), &torrent, &seed_dir).await;
    let uri = format!(
        "magnet:?xt=urn:btih:{}&so={a},{c},7-9&x.pe={}",
        torrent.info_hash().to_hex(),
        seeder.listen_addr()
    );
    let dir = tmp.path().join("leech");
    let s = Session::new(common::config()).await.unwrap();
    let h = s
        .add_magnet(AddMagnet::new(uri.parse().unwrap(), &dir))
        .await
        .unwrap();
    tokio::time::timeout(TIMEOUT, h.wait_until_complete())
        .await
        .expect("magnet so= download timed out")
        .unwrap();
    let prios = h.file_priorities();
    for (i, p) in prios.iter().enumerate() {
        let want = if i == a || i == c {
            FilePriority::Normal
        } else {
            FilePriority::Skip
        };
        assert_eq!(*p, want, "file {i}");
    }
    for f in ["a.bin", "sub/c.bin"] {
        assert_eq!(
            sha256(&dir.join("payload").join(f)),
            sha256(&seed_dir.join("payload").join(f)),
            "{f}"
        );
    }
    assert!(
        !dir.join("payload/empty.txt").exists(),
        "a skipped empty file is not created"
    );
    s.shutdown().await;
    seeder.shutdown().await;
}

/// Storage with a skipped file: not created, reads as zeros, created by a
/// write that reaches it or by `ensure_file`.
#[test]
fn storage_creates_skipped_files_only_when_needed() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 256 * 1024);
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &[]);
    let info = Arc::new(torrent.info.clone());
    let b = index_of(&torrent, "b.bin");
    let c = index_of(&torrent, "c.bin");
    let mut wanted = vec![true; 4];
    wanted[b] = false;
    wanted[c] = false;
    let out = tmp.path().join("out");
    let s = Storage::open_selected(info.clone(), &out, &wanted).unwrap();
    assert!(out.join("payload/a.bin").is_file());
    assert!(!out.join("payload/sub").exists());
    assert!(!s.is_created(b) && s.is_created(index_of(&torrent, "a.bin")));
    // A piece inside b reads as zeros and does not create b.
    let inside = info.file_pieces(b).nth(1).unwrap();
    assert!(s.read_piece(inside).unwrap().iter().all(|&x| x == 0));
    assert!(!out.join("payload/sub/b.bin").exists());
    // Writing it creates b sparse at its full length.
    let source = Storage::open(info.clone(), &seed_dir).unwrap();
    s.write_piece(inside, &source.read_piece(inside).unwrap())
        .unwrap();
    assert!(s.check_piece(inside).unwrap());
    assert_eq!(
        std::fs::metadata(out.join("payload/sub/b.bin"))
            .unwrap()
            .len(),
        info.files()[b].length
    );
    assert!(!out.join("payload/sub/c.bin").exists());
    s.ensure_file(c).unwrap();
    assert!(s.is_created(c));
    assert_eq!(
        std::fs::metadata(out.join("payload/sub/c.bin"))
            .unwrap()
            .len(),
        info.files()[c].length
    );
}

/// Resume files written before selection existed still load (every file
/// wanted); new ones keep the priorities.
#[test]
fn resume_data_keeps_priorities_and_reads_old_files() {
    use ferro_client::resume::ResumeData;
    let old =
        b"d5:filesld8:mtime_nsi5e4:sizei3eee9:info-hash20:aaaaaaaaaaaaaaaaaaaa6:pieces1:\x80e";
    let r = ResumeData::from_bytes(old).unwrap();
    assert!(r.priorities.is_empty());
    assert_eq!(r.file_priorities(1), None);
    let prios = [FilePriority::Skip, FilePriority::High, FilePriority::Low];
    let mut with = r.clone().with_priorities(&prios);
    let bytes = with.to_bytes().unwrap();
    let back = ResumeData::from_bytes(&bytes).unwrap();
    assert_eq!(back.file_priorities(3).unwrap(), prios);
    // A list of the wrong length is ignored (untrusted file).
    assert_eq!(back.file_priorities(2), None);
    // Without priorities the field is not written (older readers).
    with.priorities.clear();
    let plain = with.to_bytes().unwrap();
    assert!(!plain.windows(12).any(|w| w == b"10:prioritie"));
    assert!(bytes.windows(12).any(|w| w == b"10:prioritie"));
}

/// The exact order of the requests a sequential leecher sends a peer with
/// every piece: highest priority first, each priority in index order, never
/// a piece of a skipped file only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_requests_follow_priority_then_index() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 512 * 1024);
    let torrent = common::make_torrent(&seed_dir, 16 * 1024, &[]);
    let (a, b, c) = (
        index_of(&torrent, "a.bin"),
        index_of(&torrent, "b.bin"),
        index_of(&torrent, "c.bin"),
    );
    let mut prios = vec![FilePriority::Normal; 4];
    prios[b] = FilePriority::Skip;
    prios[c] = FilePriority::High;
    let levels = ferro_client::selection::piece_priorities(&torrent.info, &prios);
    let mut expected: Vec<u32> = (0..torrent.info.piece_count())
        .filter(|&p| levels[p as usize] > 0)
        .collect();
    expected.sort_by_key(|&p| (std::cmp::Reverse(levels[p as usize]), p));
    assert!(expected.len() < torrent.info.piece_count() as usize);
    assert!(torrent.info.file_pieces(c).all(|p| levels[p as usize] == 7));
    assert!(torrent.info.file_pieces(a).any(|p| levels[p as usize] == 4));

    let s = Session::new(common::config()).await.unwrap();
    s.add_torrent(
        AddTorrent::new(torrent.clone(), tmp.path().join("leech"))
            .with_file_priorities(prios)
            .with_sequential(true),
    )
    .await
    .unwrap();
    let (mut peer, _) = FakePeer::connect(s.listen_addr(), torrent.info_hash()).await;
    peer.send(Message::HaveAll).await;
    peer.recv_until(|m| *m == Message::Interested).await;
    peer.send(Message::Unchoke).await;
    // Take requests until the leecher has asked for every wanted piece or
    // goes quiet (we never answer, so it asks for a pipeline's worth).
    let mut order: Vec<u32> = Vec::new();
    let mut seen = BTreeSet::new();
    while seen.len() < expected.len() {
        match peer.try_recv(Duration::from_secs(3)).await {
            Ok(Some(Message::Request(r))) => {
                if seen.insert(r.index) {
                    order.push(r.index);
                }
            }
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    assert!(order.len() >= 8, "only {order:?} requested");
    assert_eq!(order, expected[..order.len()], "request order");
    s.shutdown().await;
}
