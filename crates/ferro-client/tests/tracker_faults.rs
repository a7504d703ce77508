//! Trackers that misbehave, seen from a whole client: one that accepts the
//! connection and never answers, one that answers garbage, one that
//! redirects forever. The torrent must still download (from a good tracker
//! in a later tier, or from a peer given directly), every bad tracker must
//! show up as an `AnnounceFailed` event naming its URL, and nothing may hang.

mod common;

use std::time::{Duration, Instant};

use ferro_client::{AddTorrent, Session, TorrentEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::Receiver;

const TIMEOUT: Duration = Duration::from_secs(60);

/// How each fake tracker treats an announce.
#[derive(Clone, Copy)]
enum Bad {
    /// Reads the request and keeps the connection open without a word.
    Hang,
    /// `200 OK` with a body that is not bencode.
    Garbage,
    /// `302` to itself, every time.
    RedirectForever,
}

/// Reads an HTTP request head (at most 8 KiB).
async fn read_head(s: &mut TcpStream) {
    let mut buf = vec![0u8; 8192];
    let mut n = 0;
    // Bounded by the buffer size.
    while n < buf.len() {
        match s.read(&mut buf[n..]).await {
            Ok(0) | Err(_) => return,
            Ok(k) => n += k,
        }
        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
            return;
        }
    }
}

/// A fake tracker on 127.0.0.1; returns its announce URL.
async fn fake_tracker(bad: Bad) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/announce", l.local_addr().unwrap());
    let location = url.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        // Ends with the test's runtime.
        while let Ok((mut s, _)) = l.accept().await {
            read_head(&mut s).await;
            let reply = match bad {
                Bad::Hang => {
                    held.push(s);
                    continue;
                }
                Bad::Garbage => {
                    let body = b"\xff\xfe<html>not bencode d8:interval";
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(body);
                    r
                }
                Bad::RedirectForever => format!(
                    "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                .into_bytes(),
            };
            let _ = s.write_all(&reply).await;
            let _ = s.shutdown().await;
        }
    });
    url
}

fn config() -> ferro_client::Config {
    ferro_client::Config {
        tracker_timeout: Duration::from_secs(2),
        ..common::config()
    }
}

/// Adds `add` to `s`, waits for completion while collecting the announce
/// events, and checks the files in `leech` against `seed_dir`. Returns the
/// still-subscribed receiver and the events seen.
async fn download_collecting(
    s: &Session,
    add: AddTorrent,
    leech: &std::path::Path,
    seed_dir: &std::path::Path,
) -> (Receiver<TorrentEvent>, Vec<TorrentEvent>) {
    let h = s.add_torrent(add).await.unwrap();
    let mut events = h.events();
    let seen = complete_collecting(&h, &mut events).await;
    assert_eq!(common::digests(leech), common::digests(seed_dir));
    (events, seen)
}

/// Waits for completion while collecting the announce events.
async fn complete_collecting(
    h: &ferro_client::TorrentHandle,
    events: &mut Receiver<TorrentEvent>,
) -> Vec<TorrentEvent> {
    let mut seen = Vec::new();
    let done = h.wait_until_complete();
    tokio::pin!(done);
    let deadline = tokio::time::sleep(TIMEOUT);
    tokio::pin!(deadline);
    // Bounded by `deadline`.
    loop {
        tokio::select! {
            r = &mut done => {
                r.unwrap();
                break;
            }
            e = events.recv() => if let Ok(e) = e
                && matches!(e, TorrentEvent::Announced { .. } | TorrentEvent::AnnounceFailed(_))
            {
                seen.push(e);
            },
            _ = &mut deadline => panic!("download hung; announce events: {seen:?}"),
        }
    }
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }
    seen
}

fn failed_for<'a>(seen: &'a [TorrentEvent], url: &str) -> Option<&'a str> {
    seen.iter().find_map(|e| match e {
        TorrentEvent::AnnounceFailed(msg) if msg.starts_with(url) => Some(msg.as_str()),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_trackers_in_earlier_tiers_do_not_keep_peers_from_the_good_one() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 512 * 1024);
    let tracker = common::tracker().await;
    let good = tracker.http_announce_url().unwrap();
    let torrent = common::make_torrent(&seed_dir, 32 * 1024, std::slice::from_ref(&good));
    let seeder = common::seeder(config(), &torrent, &seed_dir).await;

    let hang = fake_tracker(Bad::Hang).await;
    let garbage = fake_tracker(Bad::Garbage).await;
    let redirect = fake_tracker(Bad::RedirectForever).await;
    // One tier each, the bad ones first: the good tracker is asked last.
    let mut add = AddTorrent::new(torrent.clone(), tmp.path().join("leech"));
    add.no_trackers = true;
    add.extra_trackers = vec![
        hang.clone(),
        garbage.clone(),
        redirect.clone(),
        good.clone(),
    ];
    let s = Session::new(config()).await.unwrap();
    let started = Instant::now();
    let (_events, seen) = download_collecting(&s, add, &tmp.path().join("leech"), &seed_dir).await;

    let hung = failed_for(&seen, &hang)
        .unwrap_or_else(|| panic!("no failure for the hanging tracker: {seen:?}"));
    assert!(hung.contains("no answer in"), "{hung}");
    assert!(failed_for(&seen, &garbage).is_some(), "{seen:?}");
    let redirected = failed_for(&seen, &redirect).unwrap_or_else(|| panic!("{seen:?}"));
    assert!(redirected.contains("redirect"), "{redirected}");
    assert!(
        seen.iter().any(
            |e| matches!(e, TorrentEvent::Announced { url, peers } if *url == good && *peers >= 1)
        ),
        "the good tracker gave no peer: {seen:?}"
    );
    // Only the hanging tracker costs time (its 2 s timeout), not 30 s.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    // Shutdown (with its `stopped` announce) is bounded too.
    tokio::time::timeout(Duration::from_secs(15), s.shutdown())
        .await
        .expect("shutdown hung on a bad tracker");
    seeder.shutdown().await;
    tracker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_bad_trackers_and_a_direct_peer() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = common::make_payload(tmp.path(), 512 * 1024);
    let hang = fake_tracker(Bad::Hang).await;
    let garbage = fake_tracker(Bad::Garbage).await;
    let redirect = fake_tracker(Bad::RedirectForever).await;
    let torrent = common::make_torrent(&seed_dir, 32 * 1024, &[]);
    let seeder = common::seeder(config(), &torrent, &seed_dir).await;
    let mut add =
        AddTorrent::new(torrent.clone(), tmp.path().join("leech")).peer(seeder.listen_addr());
    // The hanging one first: the others fail after the events are subscribed.
    add.extra_trackers = vec![hang.clone(), garbage.clone(), redirect.clone()];
    let s = Session::new(config()).await.unwrap();
    let (mut events, seen) =
        download_collecting(&s, add, &tmp.path().join("leech"), &seed_dir).await;
    // The first round of announces reports each tracker's failure (the
    // download may finish before the hanging one times out: wait for all).
    let mut seen = seen;
    let until = Instant::now() + Duration::from_secs(10);
    // Bounded by `until`.
    while [&hang, &garbage, &redirect]
        .iter()
        .any(|u| failed_for(&seen, u).is_none())
        && Instant::now() < until
    {
        if let Ok(Ok(e)) = tokio::time::timeout(Duration::from_millis(200), events.recv()).await {
            seen.push(e);
        }
    }
    for url in [&garbage, &redirect, &hang] {
        assert!(
            failed_for(&seen, url).is_some(),
            "no failure event for {url}: {seen:?}"
        );
    }
    tokio::time::timeout(Duration::from_secs(15), s.shutdown())
        .await
        .expect("shutdown hung on a bad tracker");
    seeder.shutdown().await;
}
