//! Ferro's tracker client against opentracker (Debian's whitelist build) on
//! 127.0.0.1: HTTP and UDP announce and scrape, peer lists checked.
#![cfg(all(feature = "tokio", feature = "server"))]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferro_tracker::driver::{TrackerClient, TrackerClientConfig};
use ferro_tracker::{AnnounceRequest, Error, InfoHash, PeerId, UdpConfig};

/// Kills the child (by its own PID) when the test ends, pass or fail.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn opentracker_binary() -> String {
    for p in ["/usr/bin/opentracker", "/usr/local/bin/opentracker"] {
        if Path::new(p).exists() {
            return p.to_owned();
        }
    }
    panic!(
        "opentracker is not installed (Debian package `opentracker`); run `cargo xtask install-clients`"
    );
}

fn req(ih: InfoHash, id: u8, port: u16, left: u64) -> AnnounceRequest {
    let mut r = AnnounceRequest::new(ih, PeerId([id; 20]), port, left);
    r.numwant = Some(50);
    r
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
async fn interop_opentracker_http_and_udp_announce_and_scrape() {
    let bin = opentracker_binary();
    let dir = tempfile::tempdir().unwrap();
    // opentracker drops privileges to `nobody` and chroots into its rootdir,
    // so the directory must be world-readable and the whitelist path is
    // relative to the chroot.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let http_hash = InfoHash([0x11; 20]);
    let udp_hash = InfoHash([0x22; 20]);
    let unlisted = InfoHash([0x33; 20]);
    std::fs::write(
        dir.path().join("whitelist.txt"),
        format!("{}\n{}\n", http_hash.to_hex(), udp_hash.to_hex()),
    )
    .unwrap();
    let (tcp, udp) = (free_tcp_port(), free_udp_port());
    let conf = dir.path().join("opentracker.conf");
    std::fs::write(
        &conf,
        format!(
            "listen.tcp 127.0.0.1:{tcp}\nlisten.udp 127.0.0.1:{udp}\naccess.whitelist /whitelist.txt\ntracker.rootdir {}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let _ot = Guard(
        Command::new(&bin)
            .arg("-f")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start opentracker"),
    );
    // Wait (bounded) until it accepts connections.
    let mut up = false;
    for _ in 0..50 {
        if std::net::TcpStream::connect(addr(tcp)).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "opentracker did not start listening on 127.0.0.1:{tcp}");

    let mut cfg = TrackerClientConfig::default();
    cfg.http.timeout = Duration::from_secs(5);
    cfg.udp = UdpConfig {
        base_timeout: Duration::from_secs(1),
        max_retries: 2,
        ..UdpConfig::default()
    };
    let c = TrackerClient::new(cfg).unwrap();
    let http_url = format!("http://127.0.0.1:{tcp}/announce");
    let udp_url = format!("udp://127.0.0.1:{udp}/announce");

    for (url, ih) in [(&http_url, http_hash), (&udp_url, udp_hash)] {
        let a = c.announce(url, &req(ih, 1, 7001, 1000)).await.unwrap();
        // opentracker lists the announcing peer itself.
        assert_eq!(a.addrs(), [addr(7001)], "{url}");
        assert!(a.interval > Duration::ZERO);
        let b = c.announce(url, &req(ih, 2, 7002, 0)).await.unwrap();
        let mut got = b.addrs();
        got.sort();
        assert_eq!(got, [addr(7001), addr(7002)], "{url}");
        assert_eq!((b.complete, b.incomplete), (Some(1), Some(1)), "{url}");
        let s = c.scrape(url, &[ih]).await.unwrap();
        let st = s.get(&ih).expect("scrape lists the torrent");
        assert_eq!((st.complete, st.incomplete), (1, 1), "{url}");
    }
    // HTTP and UDP share opentracker's swarms: scrape each hash the other way.
    let s = c.scrape(&udp_url, &[http_hash]).await.unwrap();
    assert_eq!(
        s.get(&http_hash).map(|s| (s.complete, s.incomplete)),
        Some((1, 1))
    );
    let s = c.scrape(&http_url, &[udp_hash]).await.unwrap();
    assert_eq!(
        s.get(&udp_hash).map(|s| (s.complete, s.incomplete)),
        Some((1, 1))
    );

    // A hash off the whitelist: a tracker failure over HTTP, an error action over UDP.
    let e = c
        .announce(&http_url, &req(unlisted, 1, 7001, 1))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::TrackerFailure(_)), "{e}");
    let e = c
        .announce(&udp_url, &req(unlisted, 1, 7001, 1))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::TrackerFailure(_) | Error::UdpGaveUp { .. }),
        "{e}"
    );
}
