//! Transmission 3.00 (`transmission-daemon`) for the matrix: started by us
//! in the foreground with a fresh config dir (DHT, LPD, uTP, port forwarding
//! off; peers and RPC on 127.0.0.1 only), driven over its JSON-RPC with a
//! tiny HTTP/1.1 client over `std::net::TcpStream`, stopped by PID.
//!
//! Transmission never dials loopback peers it hears of (tracker, PEX,
//! magnet `x.pe`); it accepts incoming connections, so Ferro dials it.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::party::{Proc, wait_port, wait_port_on};
use crate::Result;
use crate::swarm::free_port;

/// A running transmission-daemon.
pub struct Transmission {
    _proc: Proc,
    rpc_port: u16,
    session_id: String,
}

/// Where a torrent stands, from `torrent-get`.
pub struct Status {
    pub percent_done: f64,
    pub left: u64,
    pub error: String,
}

impl Transmission {
    /// Starts a daemon whose config and default download dir are under
    /// `dir`, with peers on `ip`:`peer_port` (RPC stays on 127.0.0.1).
    pub fn start(dir: &Path, ip: IpAddr, peer_port: u16) -> Result<Transmission> {
        Self::start_with_dht(dir, ip, peer_port, &[])
    }

    /// [`start`](Self::start), with its DHT on when `dht_nodes` is not
    /// empty: they are the only nodes in its `dht.dat`, so it pings them
    /// first (tr-dht.c; its public bootstrap host is tried too when it
    /// knows few nodes, which only the network namespace makes safe: there
    /// it has no route and fails).
    pub fn start_with_dht(
        dir: &Path,
        ip: IpAddr,
        peer_port: u16,
        dht_nodes: &[SocketAddr],
    ) -> Result<Transmission> {
        let bin = Path::new("/usr/bin/transmission-daemon");
        if !bin.exists() {
            return Err(
                "transmission-daemon is not installed (package transmission-daemon; cargo xtask install-clients)"
                    .into(),
            );
        }
        let config = dir.join("config");
        std::fs::create_dir_all(&config).map_err(|e| e.to_string())?;
        let rpc_port = free_port()?;
        let settings = json!({
            "dht-enabled": !dht_nodes.is_empty(),
            "lpd-enabled": false,
            "utp-enabled": false,
            "pex-enabled": true,
            "port-forwarding-enabled": false,
            "bind-address-ipv4": ip.to_string(),
            "bind-address-ipv6": "::1",
            "peer-port": peer_port,
            "peer-port-random-on-start": false,
            "rpc-enabled": true,
            "rpc-bind-address": "127.0.0.1",
            "rpc-port": rpc_port,
            "rpc-authentication-required": false,
            "rpc-whitelist-enabled": true,
            "rpc-whitelist": "127.0.0.1",
            "rpc-host-whitelist-enabled": false,
            "download-dir": dir.join("downloads"),
            "incomplete-dir-enabled": false,
            "watch-dir-enabled": false,
            "blocklist-enabled": false,
            "start-added-torrents": true,
            "ratio-limit-enabled": false,
            "idle-seeding-limit-enabled": false,
            "speed-limit-up-enabled": false,
            "speed-limit-down-enabled": false,
            // Ferro speaks plain BitTorrent (no MSE): 0 = prefer unencrypted.
            "encryption": 0,
            "message-level": 1,
            "preallocation": 0,
        });
        std::fs::write(config.join("settings.json"), settings.to_string())
            .map_err(|e| e.to_string())?;
        if !dht_nodes.is_empty() {
            // Its DHT would look up and contact a public bootstrap host
            // when it knows few nodes: only where nothing can leave.
            if !super::netns::isolated() {
                return Err(
                    "Transmission's DHT runs only inside the matrix's network namespace".into(),
                );
            }
            // Its saved state, bencoded: {"id": 20 bytes, "nodes": compact
            // IPv4 node addresses, 6 bytes each}.
            let mut nodes = Vec::new();
            for a in dht_nodes {
                if let IpAddr::V4(v4) = a.ip() {
                    nodes.extend_from_slice(&v4.octets());
                    nodes.extend_from_slice(&a.port().to_be_bytes());
                }
            }
            let mut dat = b"d2:id20:".to_vec();
            dat.extend((0..20u8).map(|i| i.wrapping_mul(37) ^ (peer_port as u8)));
            dat.extend_from_slice(format!("5:nodes{}:", nodes.len()).as_bytes());
            dat.extend_from_slice(&nodes);
            dat.push(b'e');
            std::fs::write(config.join("dht.dat"), dat).map_err(|e| e.to_string())?;
        }
        let mut c = Command::new(bin);
        c.arg("--foreground").arg("--config-dir").arg(&config);
        let proc = Proc::spawn("transmission-daemon", c)?;
        wait_port(rpc_port, Duration::from_secs(20))?;
        wait_port_on(ip, peer_port, Duration::from_secs(20))?;
        Ok(Transmission {
            _proc: proc,
            rpc_port,
            session_id: String::new(),
        })
    }

    /// One JSON-RPC call; answers the 409 with the session id it asks for.
    pub fn call(&mut self, method: &str, arguments: Value) -> Result<Value> {
        let body = json!({"method": method, "arguments": arguments}).to_string();
        for _ in 0..3 {
            let (status, headers, text) = self.post(&body)?;
            if status == 409 {
                self.session_id = headers
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("X-Transmission-Session-Id")
                            .then(|| v.trim().to_owned())
                    })
                    .ok_or("409 without X-Transmission-Session-Id")?;
                continue;
            }
            if status != 200 {
                return Err(format!("transmission RPC {method}: HTTP {status}: {text}"));
            }
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| format!("transmission RPC {method}: {e}: {text}"))?;
            if v["result"] != "success" {
                return Err(format!("transmission RPC {method}: {}", v["result"]));
            }
            return Ok(v["arguments"].clone());
        }
        Err(format!(
            "transmission RPC {method}: session id dance did not settle"
        ))
    }

    fn post(&self, body: &str) -> Result<(u16, String, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.rpc_port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .map_err(|e| e.to_string())?;
        let req = format!(
            "POST /transmission/rpc HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
             X-Transmission-Session-Id: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.rpc_port,
            self.session_id,
            body.len()
        );
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        s.take(16 << 20)
            .read_to_end(&mut raw)
            .map_err(|e| e.to_string())?;
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = raw.split_once("\r\n\r\n").ok_or("bad HTTP response")?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad HTTP status line {head}"))?;
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        Ok((status, head.to_owned(), body))
    }

    /// Adds a .torrent file (by path: the daemon reads it) or a magnet link,
    /// downloading into `dir`; returns the torrent's id.
    pub fn add(&mut self, source: &str, dir: &Path) -> Result<i64> {
        let a = self.call(
            "torrent-add",
            json!({"filename": source, "download-dir": dir, "paused": false}),
        )?;
        let t = if a["torrent-added"].is_object() {
            &a["torrent-added"]
        } else {
            &a["torrent-duplicate"]
        };
        t["id"]
            .as_i64()
            .ok_or_else(|| format!("torrent-add answered {a}"))
    }

    /// Waits (bounded) until the torrent downloads (status 4) or seeds (6):
    /// before that Transmission turns incoming peers away, and a peer it
    /// turned away waits a while before it dials again.
    pub fn wait_active(&mut self, id: i64, timeout: Duration) -> Result {
        let start = Instant::now();
        // Bounded by `timeout`.
        loop {
            let a = self.call("torrent-get", json!({"ids": [id], "fields": ["status"]}))?;
            let status = a["torrents"][0]["status"].as_i64().unwrap_or(-1);
            if status == 4 || status == 6 {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "transmission: torrent status {status} after {timeout:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Re-checks the torrent's data (for seeding what is already on disk).
    pub fn verify(&mut self, id: i64) -> Result {
        self.call("torrent-verify", json!({"ids": [id]}))
            .map(|_| ())
    }

    pub fn status(&mut self, id: i64) -> Result<Status> {
        let a = self.call(
            "torrent-get",
            json!({"ids": [id], "fields": ["percentDone", "leftUntilDone", "errorString", "status", "metadataPercentComplete"]}),
        )?;
        let t = &a["torrents"][0];
        Ok(Status {
            percent_done: t["percentDone"].as_f64().unwrap_or(0.0),
            left: t["leftUntilDone"].as_u64().unwrap_or(u64::MAX),
            error: t["errorString"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// How many connected peers Transmission first heard of from `source`
    /// (a `peersFrom` key: "fromPex", "fromDht", ...), and the addresses of
    /// the connected peers it dialed itself (`peers[].isIncoming` false).
    pub fn peers_from(&mut self, id: i64, source: &str) -> Result<(u64, Vec<String>)> {
        let a = self.call(
            "torrent-get",
            json!({"ids": [id], "fields": ["peersFrom", "peers"]}),
        )?;
        let t = &a["torrents"][0];
        let count = t["peersFrom"][source].as_u64().unwrap_or(0);
        let dialed = t["peers"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["isIncoming"].as_bool() == Some(false))
                    .filter_map(|p| Some(format!("{}:{}", p["address"].as_str()?, p["port"])))
                    .collect()
            })
            .unwrap_or_default();
        Ok((count, dialed))
    }

    /// Polls (bounded by `timeout`) until the torrent is complete.
    pub fn wait_complete(&mut self, id: i64, timeout: Duration) -> Result {
        let start = Instant::now();
        // Bounded by `timeout`.
        loop {
            let s = self.status(id)?;
            if std::env::var_os("MATRIX_DEBUG").is_some() {
                eprintln!(
                    "[{:6.1}] transmission: {:.1}% left {} {}",
                    start.elapsed().as_secs_f64(),
                    s.percent_done * 100.0,
                    s.left,
                    s.error
                );
            }
            if s.percent_done >= 1.0 && s.left == 0 {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "transmission: {:.1}% after {timeout:?}{}",
                    s.percent_done * 100.0,
                    if s.error.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", s.error)
                    }
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Adds `torrent` with its data in `dir`, verifies it, and waits until
    /// Transmission seeds it.
    pub fn seed(&mut self, torrent: &Path, dir: &Path) -> Result<i64> {
        let id = self.add(&torrent.display().to_string(), dir)?;
        self.verify(id)?;
        self.wait_complete(id, Duration::from_secs(60))?;
        self.wait_active(id, Duration::from_secs(30))?;
        Ok(id)
    }
}

/// The body of a `Transfer-Encoding: chunked` response.
fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    // Bounded by the body's length: each round consumes a chunk or stops.
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        let (Some(chunk), Some(after)) = (rest.get(..n), rest.get(n..)) else {
            break;
        };
        out.push_str(chunk);
        s = after.trim_start_matches("\r\n");
    }
    out
}
