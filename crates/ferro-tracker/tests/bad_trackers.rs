//! Misbehaving trackers on 127.0.0.1: every failure is a typed error.
#![cfg(feature = "tokio")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferro_tracker::driver::{HttpConfig, HttpTracker, UdpTracker};
use ferro_tracker::udp::{Request, Response};
use ferro_tracker::{AnnounceRequest, Error, InfoHash, PeerId, UdpConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

fn req() -> AnnounceRequest {
    AnnounceRequest::new(InfoHash([1; 20]), PeerId([2; 20]), 6881, 0)
}

/// A one-trick HTTP server: answers every request with `reply(n)` where n
/// counts requests; `None` means hold the connection open without answering.
async fn http_server(
    reply: impl Fn(usize, SocketAddr) -> Option<Vec<u8>> + Send + Sync + 'static,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let reply = Arc::new(reply);
    tokio::spawn(async move {
        // Bounded: the test runtime ends with the test.
        for _ in 0..100 {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let n = c.fetch_add(1, Ordering::SeqCst);
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
                match reply(n, addr) {
                    Some(bytes) => {
                        let _ = s.write_all(&bytes).await;
                        let _ = s.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    (addr, count)
}

fn ok_with(body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

fn client(timeout_ms: u64) -> HttpTracker {
    HttpTracker::new(HttpConfig {
        timeout: Duration::from_millis(timeout_ms),
        ..HttpConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn malformed_truncated_and_failure_bodies() {
    type Check = fn(&Error) -> bool;
    let cases: Vec<(&'static [u8], Check)> = vec![
        (b"<html>oops</html>", |e| matches!(e, Error::Bencode(_))),
        (b"d8:intervali1800e5:peers6:abc", |e| {
            matches!(e, Error::Bencode(_))
        }),
        (b"d8:intervali1800e5:peers5:abcdee", |e| {
            matches!(e, Error::Compact(_))
        }),
        (b"d5:peers0:e", |e| {
            matches!(e, Error::MissingField("interval"))
        }),
        (
            b"d14:failure reason7:go awaye",
            |e| matches!(e, Error::TrackerFailure(m) if m == "go away"),
        ),
        (b"", |e| matches!(e, Error::Bencode(_))),
    ];
    for (body, check) in cases {
        let (addr, _) = http_server(move |_, _| Some(ok_with(body))).await;
        let e = client(5000)
            .announce(&format!("http://{addr}/announce"), &req())
            .await
            .unwrap_err();
        assert!(check(&e), "{:?} -> {e:?}", String::from_utf8_lossy(body));
    }
}

#[tokio::test]
async fn http_status_is_an_error() {
    let (addr, _) = http_server(|_, _| {
        Some(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .to_vec(),
        )
    })
    .await;
    let e = client(5000)
        .announce(&format!("http://{addr}/announce"), &req())
        .await
        .unwrap_err();
    assert_eq!(e, Error::HttpStatus(503));
}

#[tokio::test]
async fn body_over_the_cap_is_refused_while_streaming() {
    // No Content-Length: the cap must be enforced on the stream itself.
    let (addr, _) = http_server(|_, _| {
        let mut v = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
        v.extend_from_slice(b"d8:intervali1e5:peers3000000:");
        v.resize(v.len() + 3_000_000, 0);
        Some(v)
    })
    .await;
    let e = client(10_000)
        .announce(&format!("http://{addr}/announce"), &req())
        .await
        .unwrap_err();
    assert_eq!(
        e,
        Error::BodyTooLarge {
            limit: 2 * 1024 * 1024
        }
    );
    // With a declared length it is refused before reading; a smaller cap applies.
    let (addr, _) = http_server(|_, _| Some(ok_with(&[b'x'; 2000]))).await;
    let small = HttpTracker::new(HttpConfig {
        body_limit: 1000,
        ..HttpConfig::default()
    })
    .unwrap();
    let e = small
        .announce(&format!("http://{addr}/announce"), &req())
        .await
        .unwrap_err();
    assert_eq!(e, Error::BodyTooLarge { limit: 1000 });
}

#[tokio::test]
async fn redirect_loop_stops_after_five() {
    let (addr, count) = http_server(|n, addr| {
        Some(
            format!("HTTP/1.1 302 Found\r\nLocation: http://{addr}/announce?hop={n}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .into_bytes(),
        )
    })
    .await;
    let e = client(5000)
        .announce(&format!("http://{addr}/announce"), &req())
        .await
        .unwrap_err();
    assert_eq!(e, Error::TooManyRedirects(5));
    assert_eq!(
        count.load(Ordering::SeqCst),
        6,
        "the first request plus five redirects"
    );
}

#[tokio::test]
async fn a_few_redirects_are_followed() {
    let (addr, _) = http_server(|n, addr| {
        Some(if n < 2 {
            format!("HTTP/1.1 301 Moved\r\nLocation: http://{addr}/announce\r\nContent-Length: 0\r\n\r\n").into_bytes()
        } else {
            ok_with(b"d8:intervali60ee")
        })
    })
    .await;
    let r = client(5000)
        .announce(&format!("http://{addr}/announce"), &req())
        .await
        .unwrap();
    assert_eq!(r.interval, Duration::from_secs(60));
}

#[tokio::test]
async fn silent_http_tracker_times_out() {
    let (addr, _) = http_server(|_, _| None).await;
    let e = client(300)
        .announce(&format!("http://{addr}/announce"), &req())
        .await
        .unwrap_err();
    assert_eq!(e, Error::Timeout(Duration::from_millis(300)));
}

#[tokio::test]
async fn refused_connection_and_bad_urls() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let c = client(2000);
    assert!(matches!(
        c.announce(&format!("http://{addr}/announce"), &req()).await,
        Err(Error::Transport(_))
    ));
    assert!(matches!(
        c.announce("ftp://x/announce", &req()).await,
        Err(Error::UnsupportedScheme(_))
    ));
    assert!(matches!(
        c.scrape("http://127.0.0.1:1/tracker", &[]).await,
        Err(Error::NoScrapeUrl(_))
    ));
}

/// A UDP "tracker" that answers each datagram through `f`.
async fn udp_tracker(f: impl Fn(usize, &[u8]) -> Vec<Vec<u8>> + Send + 'static) -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = s.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        for n in 0..100 {
            let Ok((len, src)) = s.recv_from(&mut buf).await else {
                return;
            };
            for d in f(n, &buf[..len]) {
                let _ = s.send_to(&d, src).await;
            }
        }
    });
    addr
}

fn tid(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[12..16].try_into().unwrap())
}

fn fast() -> UdpConfig {
    UdpConfig {
        base_timeout: Duration::from_millis(100),
        max_retries: 2,
        ..UdpConfig::default()
    }
}

#[tokio::test]
async fn udp_wrong_transaction_ids_and_garbage_are_ignored_then_time_out() {
    let addr = udp_tracker(|_, d| {
        vec![
            vec![1, 2, 3],
            Response::Connect {
                transaction_id: tid(d) ^ 1,
                connection_id: 5,
            }
            .encode(),
        ]
    })
    .await;
    let mut t = UdpTracker::with_addr(addr, fast()).await.unwrap();
    assert_eq!(
        t.announce(&req()).await.unwrap_err(),
        Error::UdpGaveUp { attempts: 3 }
    );
}

#[tokio::test]
async fn udp_reply_after_junk_and_a_lost_packet_still_succeeds() {
    let addr = udp_tracker(|n, d| {
        if n == 0 {
            return vec![]; // lose the first connect: the client must retransmit
        }
        match Request::decode(d).unwrap() {
            Request::Connect { transaction_id } => vec![
                Response::Connect {
                    transaction_id: transaction_id ^ 7,
                    connection_id: 1,
                }
                .encode(),
                Response::Connect {
                    transaction_id,
                    connection_id: 42,
                }
                .encode(),
            ],
            Request::Announce(a) => {
                assert_eq!(a.connection_id, 42);
                vec![
                    b"\0\0\0\x01".to_vec(),
                    Response::Announce {
                        transaction_id: a.transaction_id,
                        interval: 30,
                        leechers: 0,
                        seeders: 1,
                        peers: vec!["127.0.0.1:1234".parse().unwrap()],
                    }
                    .encode(),
                ]
            }
            Request::Scrape { .. } => vec![],
        }
    })
    .await;
    let mut t = UdpTracker::with_addr(addr, fast()).await.unwrap();
    let r = t.announce(&req()).await.unwrap();
    assert_eq!(r.addrs(), ["127.0.0.1:1234".parse::<SocketAddr>().unwrap()]);
}

#[tokio::test]
async fn udp_error_action_is_a_tracker_failure() {
    let addr = udp_tracker(|_, d| {
        vec![
            Response::Error {
                transaction_id: tid(d),
                message: "not today".into(),
            }
            .encode(),
        ]
    })
    .await;
    let mut t = UdpTracker::with_addr(addr, fast()).await.unwrap();
    assert_eq!(
        t.scrape(&[InfoHash([1; 20])]).await.unwrap_err(),
        Error::TrackerFailure("not today".into())
    );
}

#[tokio::test]
async fn failure_reason_with_an_error_status_is_kept() {
    let (addr, _) = http_server(|_, _| {
        Some(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 29\r\nConnection: close\r\n\r\nd14:failure reason8:bad passe"
                .to_vec(),
        )
    })
    .await;
    let e = client(5000)
        .announce(&format!("http://{addr}/announce"), &req())
        .await
        .unwrap_err();
    assert_eq!(e, Error::TrackerFailure("bad pass".into()));
}

#[tokio::test]
async fn body_cut_short_of_its_length_is_a_transport_error() {
    let (addr, _) = http_server(|_, _| {
        Some(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nd8:intervali60e"
                .to_vec(),
        )
    })
    .await;
    let e = client(5000)
        .announce(&format!("http://{addr}/announce"), &req())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
}
