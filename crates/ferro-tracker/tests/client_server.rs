//! Ferro's tracker client against Ferro's tracker server on 127.0.0.1, over
//! HTTP and UDP, plus the BEP 12 tier walk against live and dead trackers.
#![cfg(all(feature = "tokio", feature = "server"))]

use std::net::SocketAddr;
use std::time::Duration;

use ferro_tracker::driver::{TrackerClient, TrackerClientConfig};
use ferro_tracker::server::{RateLimit, Server, ServerConfig, ServerHandle, SwarmConfig};
use ferro_tracker::{AnnounceRequest, Error, Event, InfoHash, PeerId, TrackerTiers, UdpConfig};

async fn server(rate_limit: Option<RateLimit>) -> ServerHandle {
    let config = ServerConfig {
        http: Some("127.0.0.1:0".parse().unwrap()),
        udp: Some("127.0.0.1:0".parse().unwrap()),
        swarm: SwarmConfig {
            interval: Duration::from_secs(120),
            ..SwarmConfig::default()
        },
        rate_limit,
        ..ServerConfig::default()
    };
    Server::bind(config).await.unwrap().spawn()
}

fn client() -> TrackerClient {
    let mut config = TrackerClientConfig::default();
    config.http.timeout = Duration::from_secs(5);
    config.udp = UdpConfig {
        base_timeout: Duration::from_millis(200),
        max_retries: 2,
        ..UdpConfig::default()
    };
    TrackerClient::new(config).unwrap()
}

fn req(ih: u8, id: u8, port: u16, left: u64) -> AnnounceRequest {
    AnnounceRequest::new(InfoHash([ih; 20]), PeerId([id; 20]), port, left)
}

async fn two_peers_find_each_other(url: &str, server: &ServerHandle) {
    let c = client();
    let ih = InfoHash([1; 20]);
    let a = c.announce(url, &req(1, 1, 7001, 100)).await.unwrap();
    assert!(a.peers.is_empty(), "first peer gets nobody: {a:?}");
    assert_eq!(a.interval, Duration::from_secs(120));
    let b = c.announce(url, &req(1, 2, 7002, 0)).await.unwrap();
    let want: SocketAddr = "127.0.0.1:7001".parse().unwrap();
    assert_eq!(b.addrs(), [want]);
    assert_eq!((b.complete, b.incomplete), (Some(1), Some(1)));
    let a = c.announce(url, &req(1, 1, 7001, 100)).await.unwrap();
    assert_eq!(a.addrs(), ["127.0.0.1:7002".parse::<SocketAddr>().unwrap()]);

    let s = c.scrape(url, &[ih, InfoHash([9; 20])]).await.unwrap();
    let st = s.get(&ih).unwrap();
    assert_eq!((st.complete, st.incomplete), (1, 1));
    assert_eq!(server.scrape(&ih), Some(st));
    assert_eq!(server.peers(&ih).len(), 2);

    let mut stop = req(1, 1, 7001, 100);
    stop.event = Event::Stopped;
    c.announce(url, &stop).await.unwrap();
    assert_eq!(server.peers(&ih).len(), 1);
}

#[tokio::test]
async fn http_announce_and_scrape() {
    let s = server(None).await;
    let url = s.http_announce_url().unwrap();
    two_peers_find_each_other(&url, &s).await;
    // Dictionary model with peer ids.
    let c = client();
    let mut r = req(1, 3, 7003, 5);
    r.compact = false;
    let resp = c.announce(&url, &r).await.unwrap();
    assert_eq!(resp.peers.len(), 1);
    assert_eq!(resp.peers[0].peer_id, Some(PeerId([2; 20])));
    s.stop().await;
}

#[tokio::test]
async fn udp_announce_and_scrape() {
    let s = server(None).await;
    let url = s.udp_announce_url().unwrap();
    two_peers_find_each_other(&url, &s).await;
    s.stop().await;
}

#[tokio::test]
async fn tracker_failure_reason_reaches_the_client() {
    let config = ServerConfig {
        http: Some("127.0.0.1:0".parse().unwrap()),
        udp: Some("127.0.0.1:0".parse().unwrap()),
        swarm: SwarmConfig {
            max_torrents: 1,
            ..SwarmConfig::default()
        },
        ..ServerConfig::default()
    };
    let s = Server::bind(config).await.unwrap().spawn();
    let c = client();
    for url in [
        s.http_announce_url().unwrap(),
        s.udp_announce_url().unwrap(),
    ] {
        c.announce(&url, &req(1, 1, 1, 1)).await.unwrap();
        let e = c.announce(&url, &req(2, 1, 1, 1)).await.unwrap_err();
        assert!(
            matches!(&e, Error::TrackerFailure(m) if m.contains("too many torrents")),
            "{e}"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn rate_limit_refuses_a_flood() {
    let s = server(Some(RateLimit {
        per_second: 0.001,
        burst: 3.0,
        max_ips: 16,
    }))
    .await;
    let c = client();
    let url = s.http_announce_url().unwrap();
    let mut refused = 0;
    for _ in 0..6 {
        if let Err(Error::TrackerFailure(m)) = c.announce(&url, &req(1, 1, 1, 1)).await {
            assert!(m.contains("rate limited"));
            refused += 1;
        }
    }
    assert_eq!(refused, 3);
    // UDP shares the same per-IP budget: silence, so the client gives up.
    let e = c
        .announce(&s.udp_announce_url().unwrap(), &req(1, 1, 1, 1))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::UdpGaveUp { attempts: 3 }), "{e}");
    s.stop().await;
}

#[tokio::test]
async fn tiers_skip_dead_trackers_and_promote_the_live_one() {
    let s = server(None).await;
    // A UDP port with nobody behind it, and an HTTP port that refuses.
    let dead_udp = {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        format!("udp://{}/announce", sock.local_addr().unwrap())
    };
    let dead_http = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/announce", l.local_addr().unwrap())
    };
    let live = s.http_announce_url().unwrap();
    let live_udp = s.udp_announce_url().unwrap();
    let mut tiers = TrackerTiers::new_ordered(vec![
        vec![dead_udp.clone(), dead_http.clone(), live.clone()],
        vec![live_udp.clone()],
    ]);
    let c = client();
    let out = c
        .announce_tiers(&mut tiers, &req(1, 1, 9000, 1))
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, live);
    assert_eq!(tiers.tiers()[0][0], live);
    // Announce to all tiers: one answer per tier.
    tiers.announce_to_all_tiers = true;
    let out = c
        .announce_tiers(&mut tiers, &req(1, 1, 9000, 1))
        .await
        .unwrap();
    let urls: Vec<&str> = out.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(urls, [live.as_str(), live_udp.as_str()]);
    // Nothing alive at all.
    let mut dead = TrackerTiers::new_ordered(vec![vec![dead_http]]);
    assert!(matches!(
        c.announce_tiers(&mut dead, &req(1, 1, 9000, 1)).await,
        Err(Error::AllTrackersFailed(1))
    ));
    s.stop().await;
}

#[tokio::test]
async fn stop_releases_the_ports() {
    let s = server(None).await;
    let http = s.http_addr().unwrap();
    s.stop().await;
    // The listener is closed: binding the same port works again.
    let l = tokio::net::TcpListener::bind(http).await;
    assert!(l.is_ok(), "{l:?}");
}

#[tokio::test]
async fn ipv6_peers_over_http_peers6_and_udp_18_byte_entries() {
    let config = ServerConfig {
        http: Some("[::1]:0".parse().unwrap()),
        udp: Some("[::1]:0".parse().unwrap()),
        rate_limit: None,
        ..ServerConfig::default()
    };
    let s = Server::bind(config).await.unwrap().spawn();
    let http = s.http_announce_url().unwrap();
    let udp = s.udp_announce_url().unwrap();
    assert!(http.starts_with("http://[::1]:"), "{http}");
    let c = client();
    let a = c.announce(&http, &req(6, 1, 7001, 10)).await.unwrap();
    assert!(a.peers.is_empty());
    // UDP over IPv6: the reply's peers are 18 bytes each (BEP 15, "IPv6").
    let b = c.announce(&udp, &req(6, 2, 7002, 10)).await.unwrap();
    assert_eq!(b.addrs(), ["[::1]:7001".parse::<SocketAddr>().unwrap()]);
    // HTTP compact: IPv6 peers come in `peers6` (BEP 7).
    let a = c.announce(&http, &req(6, 1, 7001, 10)).await.unwrap();
    assert_eq!(a.addrs(), ["[::1]:7002".parse::<SocketAddr>().unwrap()]);
    s.stop().await;
}
