//! Ferro's tracker server with real clients on 127.0.0.1: a libtorrent seed
//! (python3-libtorrent) and an aria2c leecher announce to it and find each
//! other through it; the download between them completes.
#![cfg(all(feature = "tokio", feature = "server"))]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferro_tracker::InfoHash;
use ferro_tracker::server::{Server, ServerConfig, SwarmConfig};

const LT_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../xtask/interop/tracker_lt_peer.py"
);

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

/// Collects a child's stdout lines in the background.
fn collect(child: &mut Child) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let out = child.stdout.take().unwrap();
    let l = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            l.lock().unwrap().push(line);
        }
    });
    lines
}

fn has_line(lines: &Mutex<Vec<String>>, pred: impl Fn(&str) -> bool) -> bool {
    lines.lock().unwrap().iter().any(|l| pred(l))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
async fn interop_libtorrent_and_aria2_find_each_other_through_ferro_tracker() {
    assert!(
        Path::new("/usr/bin/python3").exists(),
        "/usr/bin/python3 is missing"
    );
    let lt_ok = Command::new("/usr/bin/python3")
        .args(["-c", "import libtorrent"])
        .status();
    assert!(
        lt_ok.is_ok_and(|s| s.success()),
        "python3-libtorrent is not installed (Debian package python3-libtorrent); run `cargo xtask install-clients`"
    );
    let aria_ok = Command::new("aria2c")
        .arg("--version")
        .stdout(Stdio::null())
        .status();
    assert!(
        aria_ok.is_ok_and(|s| s.success()),
        "aria2c is not installed (Debian package aria2)"
    );

    let server = Server::bind(ServerConfig {
        http: Some("127.0.0.1:0".parse().unwrap()),
        swarm: SwarmConfig {
            interval: Duration::from_secs(2),
            min_interval: Duration::from_secs(1),
            ..SwarmConfig::default()
        },
        // Every client shares 127.0.0.1.
        rate_limit: None,
        ..ServerConfig::default()
    })
    .await
    .unwrap()
    .spawn();
    let url = server.http_announce_url().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let torrent = dir.path().join("t.torrent");
    let (lt_port, aria_port) = (free_tcp_port(), free_tcp_port());

    let mut lt = Command::new("/usr/bin/python3")
        .arg(LT_SCRIPT)
        .args([
            "--seed",
            "--size",
            &(2 << 20).to_string(),
            "--timeout",
            "90",
        ])
        .arg("--workdir")
        .arg(dir.path().join("lt"))
        .args(["--port", &lt_port.to_string(), "--tracker", &url])
        .arg("--torrent")
        .arg(&torrent)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start libtorrent helper");
    let lt_lines = collect(&mut lt);
    let _lt = Guard(lt);

    // The seed announces first.
    let start = Instant::now();
    let mut info_hash = None;
    while start.elapsed() < Duration::from_secs(30) {
        info_hash = lt_lines.lock().unwrap().iter().find_map(|l| {
            l.strip_prefix("INFOHASH ")
                .map(|h| h.parse::<InfoHash>().unwrap())
        });
        if let Some(ih) = info_hash
            && server.peers(&ih).iter().any(|(a, _)| a.port() == lt_port)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ih = info_hash.expect("libtorrent helper printed no INFOHASH");
    assert!(
        server.peers(&ih).iter().any(|(a, _)| a.port() == lt_port),
        "libtorrent never registered with the tracker; its output: {:?}",
        lt_lines.lock().unwrap()
    );

    let aria_dir = dir.path().join("aria");
    let mut aria = Command::new("aria2c")
        .args([
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--interface=127.0.0.1",
            "--disable-ipv6=true",
            "--seed-time=0",
            "--summary-interval=0",
            "--console-log-level=warn",
            "--max-download-limit=256K",
            "--stop=90",
        ])
        .arg(format!("--listen-port={aria_port}"))
        .arg(format!("--dir={}", aria_dir.display()))
        .arg(&torrent)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start aria2c");
    let aria_lines = collect(&mut aria);
    let mut aria = Guard(aria);

    // Both registered at once, and libtorrent hears of aria2 from the tracker.
    let mut both_registered = false;
    let mut stats_both = None;
    let mut aria_status = None;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(80) {
        let ports: Vec<u16> = server.peers(&ih).iter().map(|(a, _)| a.port()).collect();
        if ports.contains(&lt_port) && ports.contains(&aria_port) {
            both_registered = true;
            stats_both.get_or_insert(server.scrape(&ih));
        }
        if aria_status.is_none() {
            aria_status = aria.0.try_wait().unwrap();
        }
        let lt_heard = has_line(&lt_lines, |l| {
            l.strip_prefix("TRACKER_REPLY ")
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n >= 1)
        });
        if both_registered && lt_heard && aria_status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let lt_out = lt_lines.lock().unwrap().clone();
    let aria_out = aria_lines.lock().unwrap().clone();
    assert!(
        both_registered,
        "not both peers registered; lt: {lt_out:?} aria2: {aria_out:?}"
    );
    let st = stats_both.flatten().expect("scrape while both registered");
    assert!(
        st.complete >= 1 && st.complete + st.incomplete >= 2,
        "{st:?}"
    );
    assert!(
        lt_out
            .iter()
            .any(|l| l.strip_prefix("TRACKER_REPLY ").is_some_and(|n| n != "0")),
        "libtorrent never got aria2 in a tracker reply: {lt_out:?}"
    );
    // aria2 found libtorrent (its only source is the tracker: no DHT, LPD or
    // PEX) and downloaded the payload from it.
    let status = aria_status.expect("aria2c did not finish in time");
    assert!(status.success(), "aria2c failed: {status:?} {aria_out:?}");
    let want = std::fs::read(dir.path().join("lt/data/payload.bin")).unwrap();
    let got = std::fs::read(aria_dir.join("payload.bin")).unwrap();
    assert!(
        got == want,
        "aria2's copy differs from libtorrent's payload"
    );
    let _ = std::fs::write(dir.path().join("lt/stop"), b"");
    server.stop().await;
}
