//! Ferro's DHT node against libtorrent's, all on 127.0.0.1: the nodes find
//! each other, Ferro finds a peer libtorrent announced, and libtorrent finds
//! the peer Ferro announced. Needs /usr/bin/python3 with python3-libtorrent.
#![cfg(feature = "tokio")]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ferro_dht::driver::Dht;
use ferro_dht::{DhtConfig, InfoHash};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../xtask/interop/dht_lt_nodes.py"
);

/// The libtorrent helper; killed (by its own PID) when dropped.
struct LtNodes {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Drop for LtNodes {
    fn drop(&mut self) {
        // Ask it to quit (it removes its temporary directory), then make sure.
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        for _ in 0..40 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LtNodes {
    fn start(ferro_port: u16) -> LtNodes {
        let mut child = Command::new("/usr/bin/python3")
            .arg(SCRIPT)
            .arg(ferro_port.to_string())
            .args(["--sessions", "3", "--timeout", "120"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run /usr/bin/python3 {SCRIPT}: {e} (install python3-libtorrent)")
            });
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        LtNodes {
            child,
            stdin,
            lines,
        }
    }

    fn line(&mut self, secs: u64) -> String {
        match self.lines.recv_timeout(Duration::from_secs(secs)) {
            Ok(l) => l,
            Err(_) => {
                let status = self.child.try_wait().ok().flatten();
                panic!(
                    "no answer from the libtorrent helper (exit status {status:?}; is python3-libtorrent installed?)"
                )
            }
        }
    }

    fn ask(&mut self, cmd: &str, secs: u64) -> String {
        writeln!(self.stdin, "{cmd}").expect("helper alive");
        self.stdin.flush().expect("helper alive");
        self.line(secs)
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "interop: needs third-party clients; run by cargo xtask interop"]
async fn interop_libtorrent_dht_nodes_find_each_other_and_peers() {
    let cfg = DhtConfig {
        query_timeout: Duration::from_secs(1),
        ..DhtConfig::loopback()
    };
    let dht = Dht::bind(loopback(0), cfg, None).await.expect("bind");
    let ferro_port = dht.local_addr().port();
    let mut lt = tokio::task::block_in_place(|| LtNodes::start(ferro_port));
    let ports_line = tokio::task::block_in_place(|| lt.line(30));
    let lt_ports: Vec<u16> = ports_line
        .strip_prefix("ports ")
        .unwrap_or_else(|| panic!("unexpected helper output {ports_line:?}"))
        .split_whitespace()
        .map(|p| p.parse().expect("port"))
        .collect();
    assert_eq!(tokio::task::block_in_place(|| lt.line(30)), "ready");
    let lt_addrs: Vec<SocketAddr> = lt_ports.iter().map(|p| loopback(*p)).collect();

    // 1. Ferro learns the libtorrent nodes, libtorrent learns Ferro.
    let mut known = Vec::new();
    for _ in 0..20 {
        dht.bootstrap(lt_addrs.clone()).await.expect("bootstrap");
        known = dht.routing_table_snapshot().await.expect("snapshot");
        if lt_addrs.iter().all(|a| known.iter().any(|n| n.addr == *a)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        lt_addrs.iter().all(|a| known.iter().any(|n| n.addr == *a)),
        "Ferro's table {known:?} lacks some of {lt_addrs:?}"
    );
    let mut nodes = String::new();
    for _ in 0..20 {
        nodes = tokio::task::block_in_place(|| lt.ask("nodes", 10));
        if nodes.ends_with("ferro 1 1 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        nodes.ends_with("ferro 1 1 1"),
        "libtorrent's tables: {nodes}"
    );

    // 2. libtorrent announces; Ferro's get_peers finds it.
    let lt_ih = InfoHash([0x11; 20]);
    let said = tokio::task::block_in_place(|| lt.ask(&format!("announce {}", lt_ih.to_hex()), 10));
    let port: u16 = said
        .strip_prefix("announced ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected helper output {said:?}"));
    let want = loopback(port);
    let mut peers = Vec::new();
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        peers = dht.get_peers(lt_ih).await.expect("get_peers");
        if peers.contains(&want) {
            break;
        }
    }
    assert!(peers.contains(&want), "Ferro found {peers:?}, not {want}");

    // 3. Ferro announces; libtorrent's dht_get_peers finds it.
    let ferro_ih = InfoHash([0x22; 20]);
    let stats = dht.announce(ferro_ih, Some(52002)).await.expect("announce");
    assert!(stats.announced >= 2, "announce reached {stats:?}");
    let mut found = String::new();
    for _ in 0..3 {
        found = tokio::task::block_in_place(|| {
            lt.ask(&format!("get_peers 2 {}", ferro_ih.to_hex()), 30)
        });
        if found.split_whitespace().any(|p| p == "127.0.0.1:52002") {
            break;
        }
    }
    assert!(
        found.split_whitespace().any(|p| p == "127.0.0.1:52002"),
        "libtorrent found {found:?}"
    );
    drop(lt);
    dht.shutdown().await.expect("shutdown");
}
