//! The HTTP transfer against an in-process HTTP/1.1 server on 127.0.0.1:
//! multi-file torrents (pieces across files, an empty file, padding) fetched
//! piece by piece and verified; a server ignoring Range; 404, 503, stalls,
//! corrupt data, redirect loops; the per-host concurrency bound.

#[path = "support/server.rs"]
mod server;
#[path = "support/torrent.rs"]
mod torrent;

use std::time::{Duration, Instant};

use ferro_metainfo::Info;
use ferro_webseed::{
    ClientConfig, Error, HealthConfig, SeedId, WebSeedClient, WebSeedWorker, WebSeeds,
};
use server::Behaviour;

const PIECE: u64 = 16_384;

fn client(timeout: Duration) -> WebSeedClient {
    WebSeedClient::new(ClientConfig {
        timeout,
        ..ClientConfig::default()
    })
    .unwrap()
}

fn worker(urls: &[&str], health: HealthConfig, timeout: Duration) -> WebSeedWorker {
    WebSeedWorker::new(client(timeout), WebSeeds::with_urls(health, urls))
}

/// Fetches every piece through `w` and checks the whole equals `data`.
async fn download_all(w: &mut WebSeedWorker, info: &Info, data: &[u8]) {
    let mut got = Vec::with_capacity(data.len());
    for p in 0..info.piece_count() {
        let bytes = w
            .fetch_piece(info, p)
            .await
            .unwrap_or_else(|e| panic!("piece {p}: {e}"));
        assert_eq!(bytes.len() as u64, info.piece_size(p).unwrap());
        got.extend_from_slice(&bytes);
    }
    assert!(got == data, "downloaded data differs from the files");
}

#[tokio::test]
async fn multi_file_download_from_a_range_server_piece_by_piece() {
    for pad in [false, true] {
        let (root, info, data, _) = torrent::make("tor rent", torrent::FILES, PIECE, pad, None);
        assert_eq!(info.files().iter().any(|f| f.is_padding()), pad);
        let srv = server::start(root.path().to_path_buf(), Behaviour::default()).await;
        let mut w = worker(
            &[&srv.base],
            HealthConfig::default(),
            Duration::from_secs(10),
        );
        download_all(&mut w, &info, &data).await;
        // One fetch of the whole torrent: one request per non-empty, non-padding file.
        let before = srv.stats.requests.load(std::sync::atomic::Ordering::SeqCst);
        let all = client(Duration::from_secs(10))
            .fetch(&info, &srv.base, 0, info.total_length())
            .await
            .unwrap();
        assert!(all == data);
        let after = srv.stats.requests.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            after - before,
            5,
            "a.bin, b, c, d, z; never the empty file or padding"
        );
        // An odd range inside one file and across several.
        let c = client(Duration::from_secs(10));
        for (off, len) in [
            (1, 1),
            (99_999, 2),
            (99_990, 70_000),
            (info.total_length() - 3, 3),
        ] {
            let got = c.fetch(&info, &srv.base, off, len).await.unwrap();
            assert!(
                got[..] == data[off as usize..(off + len) as usize],
                "{off}+{len}"
            );
        }
    }
}

#[tokio::test]
async fn server_ignoring_range_is_read_from_the_right_offset() {
    for pad in [false, true] {
        let (root, info, data, _) = torrent::make("t", torrent::FILES, PIECE, pad, None);
        let b = Behaviour {
            honour_range: false,
            ..Behaviour::default()
        };
        let srv = server::start(root.path().to_path_buf(), b).await;
        let mut w = worker(
            &[&srv.base],
            HealthConfig::default(),
            Duration::from_secs(10),
        );
        download_all(&mut w, &info, &data).await;
    }
}

#[tokio::test]
async fn a_missing_file_is_marked_and_the_other_files_still_come() {
    let (root, info, data, _) = torrent::make("t", torrent::FILES, PIECE, false, None);
    let b = Behaviour {
        missing: vec!["b #1.bin".into()],
        ..Behaviour::default()
    };
    let srv = server::start(root.path().to_path_buf(), b).await;
    let mut w = worker(
        &[&srv.base],
        HealthConfig::default(),
        Duration::from_secs(10),
    );
    let missing = info
        .files()
        .iter()
        .position(|f| f.path.ends_with("b #1.bin"))
        .unwrap();
    let lacking = info.file_pieces(missing);
    let (mut ok, mut failed) = (0, 0);
    for p in 0..info.piece_count() {
        match w.fetch_piece(&info, p).await {
            Ok(bytes) => {
                assert!(!lacking.contains(&p));
                let off = info.piece_offset(p).unwrap() as usize;
                assert!(bytes[..] == data[off..off + bytes.len()]);
                ok += 1;
            }
            Err(e) => {
                assert!(lacking.contains(&p), "piece {p}: {e}");
                assert!(
                    matches!(e.error, Error::NotFound(404) | Error::NoUsableSeed),
                    "{e}"
                );
                failed += 1;
            }
        }
    }
    assert_eq!(failed, lacking.len());
    assert_eq!(ok + failed, info.piece_count() as usize);
    let h = w.seeds().health(SeedId(0)).unwrap();
    let now = Instant::now();
    assert!(!h.usable(now, missing), "the file is marked missing");
    assert!(
        h.usable(now, 0) && h.usable(now, missing + 1),
        "no backoff for a 404"
    );
}

#[tokio::test]
async fn server_error_backs_the_seed_off_and_another_seed_serves() {
    let (root, info, data, _) = torrent::make("t", torrent::FILES, PIECE, false, None);
    let bad = server::start(
        root.path().to_path_buf(),
        Behaviour {
            status: Some(503),
            ..Behaviour::default()
        },
    )
    .await;
    // Alone: the 503 is reported and the seed backs off (no second request).
    let mut w = worker(
        &[&bad.base],
        HealthConfig::default(),
        Duration::from_secs(10),
    );
    let e = w.fetch_piece(&info, 0).await.unwrap_err();
    assert_eq!(e.error, Error::Server(503), "{e}");
    assert!(e.url.starts_with(&bad.base) && e.file_index == Some(0));
    let h = w.seeds().health(SeedId(0)).unwrap();
    assert!(h.retry_at().is_some() && !h.usable(Instant::now(), 0));
    assert_eq!(w.seeds().next_retry(), h.retry_at());
    let asked = bad.stats.requests.load(std::sync::atomic::Ordering::SeqCst);
    let e = w.fetch_piece(&info, 1).await.unwrap_err();
    assert_eq!(e.error, Error::NoUsableSeed);
    assert_eq!(
        bad.stats.requests.load(std::sync::atomic::Ordering::SeqCst),
        asked,
        "a backing-off seed is not asked"
    );
    // With a good seed beside it, pieces come from the good one.
    let good = server::start(root.path().to_path_buf(), Behaviour::default()).await;
    w.seeds_mut().add(&good.base);
    w.seeds_mut().add(&good.base); // the same URL from a magnet ws= is not a second seed
    assert_eq!(w.seeds().len(), 2);
    download_all(&mut w, &info, &data).await;
}

#[tokio::test]
async fn a_stalled_body_is_a_timeout() {
    let (root, info, _, _) = torrent::make("t", torrent::FILES, PIECE, false, None);
    let b = Behaviour {
        stall_after: Some(1000),
        ..Behaviour::default()
    };
    let srv = server::start(root.path().to_path_buf(), b).await;
    let mut w = worker(
        &[&srv.base],
        HealthConfig::default(),
        Duration::from_millis(300),
    );
    let e = w.fetch_piece(&info, 0).await.unwrap_err();
    assert_eq!(e.error, Error::Timeout(Duration::from_millis(300)), "{e}");
    assert_eq!(e.file_index, Some(0));
    let h = w.seeds().health(SeedId(0)).unwrap();
    assert!(h.retry_at().is_some(), "a timeout backs the seed off");
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout() {
    let (root, info, _, _) = torrent::make("t", torrent::FILES, PIECE, false, None);
    let b = Behaviour {
        silent: true,
        ..Behaviour::default()
    };
    let srv = server::start(root.path().to_path_buf(), b).await;
    let e = client(Duration::from_millis(300))
        .fetch(&info, &srv.base, 0, 10)
        .await
        .unwrap_err();
    assert_eq!(e.error, Error::Timeout(Duration::from_millis(300)), "{e}");
}

#[tokio::test]
async fn corrupt_data_fails_the_hash_and_the_seed_is_dropped() {
    let (root, info, _, _) = torrent::make("t", torrent::FILES, PIECE, false, None);
    let b = Behaviour {
        corrupt: true,
        ..Behaviour::default()
    };
    let srv = server::start(root.path().to_path_buf(), b).await;
    let health = HealthConfig {
        max_hash_failures: 3,
        ..HealthConfig::default()
    };
    let mut w = worker(&[&srv.base], health, Duration::from_secs(10));
    for p in 0..3 {
        let e = w.fetch_piece(&info, p).await.unwrap_err();
        assert_eq!(e.error, Error::HashMismatch(p), "{e}");
        assert_eq!(e.url, srv.base);
    }
    assert!(w.seeds().health(SeedId(0)).unwrap().is_dropped());
    assert!(w.seeds().all_dropped());
    let e = w.fetch_piece(&info, 3).await.unwrap_err();
    assert_eq!(e.error, Error::NoUsableSeed);
}

#[tokio::test]
async fn a_redirect_loop_is_an_error() {
    let (root, info, _, _) = torrent::make("t", torrent::FILES, PIECE, false, None);
    let b = Behaviour {
        redirect_loop: true,
        ..Behaviour::default()
    };
    let srv = server::start(root.path().to_path_buf(), b).await;
    let e = client(Duration::from_secs(10))
        .fetch(&info, &srv.base, 0, PIECE)
        .await
        .unwrap_err();
    assert_eq!(e.error, Error::TooManyRedirects(5), "{e}");
    assert!(srv.stats.requests.load(std::sync::atomic::Ordering::SeqCst) <= 6);
}

#[tokio::test]
async fn requests_to_one_host_are_bounded() {
    let files: Vec<(String, usize)> = (0..12).map(|i| (format!("f{i}"), 20_000)).collect();
    let files: Vec<(&str, usize)> = files.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    let (root, info, data, _) = torrent::make("many", &files, PIECE, false, None);
    let srv = server::start(root.path().to_path_buf(), Behaviour::default()).await;
    let c = WebSeedClient::new(ClientConfig {
        max_requests_per_host: 2,
        ..ClientConfig::default()
    })
    .unwrap();
    let all = c
        .fetch(&info, &srv.base, 0, info.total_length())
        .await
        .unwrap();
    assert!(all == data);
    let max = srv
        .stats
        .max_in_flight
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (1..=2).contains(&max),
        "at most 2 requests at once, saw {max}"
    );
}

#[tokio::test]
async fn bad_ranges_are_refused_without_a_request() {
    let (root, info, _, _) = torrent::make("t", torrent::FILES, PIECE, false, None);
    let srv = server::start(root.path().to_path_buf(), Behaviour::default()).await;
    let c = client(Duration::from_secs(10));
    let total = info.total_length();
    for (off, len) in [(0, 0), (total, 1), (total - 1, 2), (u64::MAX, 2)] {
        let e = c.fetch(&info, &srv.base, off, len).await.unwrap_err();
        assert!(
            matches!(e.error, Error::BadRange { .. }),
            "{off}+{len}: {e}"
        );
    }
    let mut w = worker(
        &[&srv.base],
        HealthConfig::default(),
        Duration::from_secs(10),
    );
    let e = w.fetch_piece(&info, info.piece_count()).await.unwrap_err();
    assert_eq!(e.error, Error::NoSuchPiece(info.piece_count()));
    assert_eq!(
        srv.stats.requests.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    let (_root, info, _, _) = torrent::make("t", torrent::FILES, PIECE, false, None);
    // Bind and drop: nothing listens on this port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = client(Duration::from_secs(10))
        .fetch(&info, &format!("http://127.0.0.1:{port}/"), 0, 10)
        .await
        .unwrap_err();
    assert!(matches!(e.error, Error::Transport(_)), "{e}");
}

#[tokio::test]
async fn a_run_of_pieces_comes_in_one_request_per_file_and_each_piece_is_checked() {
    let (root, info, data, _) = torrent::make("t", torrent::FILES, PIECE, false, None);
    let srv = server::start(root.path().to_path_buf(), Behaviour::default()).await;
    let mut w = worker(
        &[&srv.base],
        HealthConfig::default(),
        Duration::from_secs(10),
    );
    let n = info.piece_count();
    let run = w.fetch_pieces(&info, 0..n).await.unwrap();
    assert_eq!(run.len(), n as usize);
    let mut got = Vec::new();
    for (i, (p, r)) in run.into_iter().enumerate() {
        assert_eq!(p, i as u32);
        got.extend_from_slice(&r.unwrap());
    }
    assert!(got == data);
    assert_eq!(
        srv.stats.requests.load(std::sync::atomic::Ordering::SeqCst),
        5
    );
    assert!(w.fetch_pieces(&info, 3..3).await.unwrap().is_empty());
    let e = w.fetch_pieces(&info, n - 1..n + 1).await.unwrap_err();
    assert_eq!(e.error, Error::NoSuchPiece(n + 1));

    // Corrupt bytes: the first byte of each file's body is flipped, so the
    // pieces holding a file's start fail, and the rest are still good.
    let bad = server::start(
        root.path().to_path_buf(),
        Behaviour {
            corrupt: true,
            ..Behaviour::default()
        },
    )
    .await;
    let mut w = worker(
        &[&bad.base],
        HealthConfig::default(),
        Duration::from_secs(10),
    );
    let run = w.fetch_pieces(&info, 0..n).await.unwrap();
    let failed: Vec<u32> = run
        .iter()
        .filter_map(|(p, r)| r.as_ref().err().map(|e| (*p, e)))
        .map(|(p, e)| {
            assert_eq!(e.error, Error::HashMismatch(p));
            p
        })
        .collect();
    let mut starts: Vec<u32> = info
        .files()
        .iter()
        .filter(|f| f.length > 0)
        .map(|f| (f.offset / PIECE) as u32)
        .collect();
    starts.dedup();
    assert_eq!(failed, starts);
    for (p, r) in &run {
        if let Ok(b) = r {
            let off = info.piece_offset(*p).unwrap() as usize;
            assert!(b[..] == data[off..off + b.len()]);
        }
    }
    assert!(w.seeds().all_dropped(), "5 bad pieces > the limit of 3");
}

#[tokio::test]
async fn single_file_torrent_by_directory_url_and_by_file_url() {
    let root = tempfile::tempdir().unwrap();
    let data = torrent::bytes(70_000, 9);
    let file = root.path().join("one file.bin");
    std::fs::write(&file, &data).unwrap();
    let made = ferro_metainfo::TorrentBuilder::new(&file)
        .piece_length(PIECE)
        .threads(1)
        .build()
        .unwrap();
    let info = made.metainfo.info;
    assert!(!info.is_multi_file());
    let srv = server::start(root.path().to_path_buf(), Behaviour::default()).await;
    // BEP 19: a URL ending in `/` is the directory holding the file named
    // after the torrent; any other URL is the file itself.
    let by_file = format!("{}one%20file.bin", srv.base);
    for base in [srv.base.clone(), by_file] {
        let mut w = worker(&[&base], HealthConfig::default(), Duration::from_secs(10));
        download_all(&mut w, &info, &data).await;
    }
}

#[tokio::test]
async fn ipv6_loopback_seed() {
    let (root, info, data, _) = torrent::make("t", torrent::FILES, PIECE, true, None);
    // Skip quietly only if this machine has no ::1 at all.
    let Ok(probe) = std::net::TcpListener::bind("[::1]:0") else {
        eprintln!("no ::1 on this machine; skipped");
        return;
    };
    drop(probe);
    let srv = server::start_on("[::1]:0", root.path().to_path_buf(), Behaviour::default()).await;
    assert!(srv.base.starts_with("http://[::1]:"), "{}", srv.base);
    let mut w = worker(
        &[&srv.base],
        HealthConfig::default(),
        Duration::from_secs(10),
    );
    download_all(&mut w, &info, &data).await;
}
