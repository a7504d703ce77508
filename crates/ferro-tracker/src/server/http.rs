//! The HTTP side of the server: a small HTTP/1.1 GET handler.
//!
//! Tracker requests are single GETs with everything in the query string, so
//! a hand-written reader of one bounded request head per connection is
//! enough, keeps the parser fuzzable, and avoids wiring hyper's server stack.
//! Every reply closes the connection.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::http::request::parse_query;
use crate::http::{encode_announce, encode_failure, encode_scrape};
use crate::server::swarm::{PeerAnnounce, Swarms};
use crate::{AnnounceResponse, Event, InfoHash, PeerId, ScrapeResponse};

/// Largest request head accepted (request line + headers).
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// Most info-hashes in one HTTP scrape.
pub const MAX_SCRAPE_HASHES: usize = 256;

/// An HTTP reply: status and bencoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Body.
    pub body: Vec<u8>,
}

impl HttpReply {
    fn ok(body: Vec<u8>) -> Self {
        HttpReply { status: 200, body }
    }
    /// A `failure reason` reply. BEP 3 failures travel with status 200 so
    /// every client reads the reason.
    pub fn failure(reason: &str) -> Self {
        HttpReply::ok(encode_failure(reason))
    }

    /// The full response bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            _ => "Error",
        };
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.status,
            self.body.len()
        )
        .into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

/// Where the request head ends (index just past `\r\n\r\n`), if it is complete.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Handles one complete request head from `remote`.
pub fn handle_request(
    swarms: &mut Swarms,
    head: &[u8],
    remote: SocketAddr,
    now: Instant,
) -> HttpReply {
    let line_end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(head.len());
    let line = head.get(..line_end).unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return HttpReply {
            status: 400,
            body: encode_failure("malformed request line"),
        };
    };
    if method != b"GET" {
        return HttpReply {
            status: 405,
            body: encode_failure("only GET is supported"),
        };
    }
    let (path, query) = match target.iter().position(|&b| b == b'?') {
        Some(i) => (
            target.get(..i).unwrap_or_default(),
            target.get(i + 1..).unwrap_or_default(),
        ),
        None => (target, &b""[..]),
    };
    let params = parse_query(query);
    if path.ends_with(b"/announce") {
        announce(swarms, &params, remote, now)
    } else if path.ends_with(b"/scrape") {
        scrape(swarms, &params)
    } else {
        HttpReply {
            status: 404,
            body: encode_failure("unknown path: use /announce or /scrape"),
        }
    }
}

fn get<'p>(params: &'p [(Vec<u8>, Vec<u8>)], key: &[u8]) -> Option<&'p [u8]> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_slice())
}

fn num<T: std::str::FromStr>(v: &[u8]) -> Option<T> {
    std::str::from_utf8(v).ok()?.parse().ok()
}

fn announce(
    swarms: &mut Swarms,
    params: &[(Vec<u8>, Vec<u8>)],
    remote: SocketAddr,
    now: Instant,
) -> HttpReply {
    let Some(info_hash) = get(params, b"info_hash").and_then(|v| InfoHash::from_slice(v).ok())
    else {
        return HttpReply::failure("missing or invalid info_hash (must be 20 bytes)");
    };
    let Some(peer_id) = get(params, b"peer_id").and_then(|v| PeerId::from_slice(v).ok()) else {
        return HttpReply::failure("missing or invalid peer_id (must be 20 bytes)");
    };
    let Some(port) = get(params, b"port")
        .and_then(num::<u16>)
        .filter(|&p| p != 0)
    else {
        return HttpReply::failure("missing or invalid port");
    };
    let left = get(params, b"left").and_then(num::<u64>).unwrap_or(0);
    let event = get(params, b"event")
        .map(Event::from_http)
        .unwrap_or_default();
    let numwant = get(params, b"numwant").and_then(num::<usize>);
    // BEP 23: compact unless the client explicitly asks for compact=0.
    let compact = get(params, b"compact") != Some(b"0");
    let no_peer_id = get(params, b"no_peer_id") == Some(b"1");
    // The peer's address is where the request came from; a client-supplied
    // `ip` is ignored so nobody can register someone else.
    let ip = canonical_ip(remote.ip());
    let a = PeerAnnounce {
        info_hash,
        peer_id,
        addr: SocketAddr::new(ip, port),
        left,
        event,
        numwant,
    };
    match swarms.announce(&a, now) {
        Ok(out) => {
            let cfg = swarms.config();
            let resp = AnnounceResponse {
                interval: cfg.interval,
                min_interval: Some(cfg.min_interval),
                tracker_id: None,
                complete: Some(out.stats.complete),
                incomplete: Some(out.stats.incomplete),
                peers: out.peers,
                warning: None,
            };
            HttpReply::ok(encode_announce(&resp, compact, no_peer_id))
        }
        Err(r) => HttpReply::failure(r.reason()),
    }
}

/// IPv4-mapped IPv6 addresses (from a dual-stack socket) count as IPv4.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn scrape(swarms: &Swarms, params: &[(Vec<u8>, Vec<u8>)]) -> HttpReply {
    let hashes: Vec<InfoHash> = params
        .iter()
        .filter(|(k, _)| k == b"info_hash")
        .filter_map(|(_, v)| InfoHash::from_slice(v).ok())
        .take(MAX_SCRAPE_HASHES)
        .collect();
    let files = if hashes.is_empty() {
        // BEP 48: no info_hash means all torrents; capped.
        swarms.scrape_all(MAX_SCRAPE_HASHES)
    } else {
        hashes
            .into_iter()
            .filter_map(|h| swarms.scrape(&h).map(|s| (h, s)))
            .collect()
    };
    HttpReply::ok(encode_scrape(&ScrapeResponse { files }))
}

/// Serves one connection: reads one bounded request head, answers, closes.
pub(crate) async fn serve_connection(
    mut stream: tokio::net::TcpStream,
    remote: SocketAddr,
    shared: std::sync::Arc<super::Shared>,
    timeout: Duration,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let work = async {
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 2048];
        let head_len = loop {
            if let Some(end) = head_end(&buf) {
                break end;
            }
            if buf.len() >= MAX_REQUEST_HEAD {
                let _ = stream
                    .write_all(
                        &HttpReply {
                            status: 400,
                            body: encode_failure("request head too large"),
                        }
                        .to_bytes(),
                    )
                    .await;
                return;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            }
        };
        let now = Instant::now();
        let reply = if shared.allow(remote.ip(), now) {
            let head = buf.get(..head_len).unwrap_or_default();
            match shared.swarms.lock() {
                Ok(mut s) => handle_request(&mut s, head, remote, now),
                Err(_) => HttpReply::failure("internal error"),
            }
        } else {
            HttpReply::failure("rate limited: slow down")
        };
        let _ = stream.write_all(&reply.to_bytes()).await;
        let _ = stream.shutdown().await;
    };
    let _ = tokio::time::timeout(timeout, work).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::encode_bytes;
    use crate::http::{parse_announce, parse_scrape};
    use crate::server::swarm::SwarmConfig;

    fn req(ih: u8, pid: u8, port: u16, extra: &str) -> Vec<u8> {
        format!(
            "GET /announce?info_hash={}&peer_id={}&port={port}&left=5{extra} HTTP/1.1\r\nHost: x\r\n\r\n",
            encode_bytes(&[ih; 20]),
            encode_bytes(&[pid; 20])
        )
        .into_bytes()
    }

    #[test]
    fn announce_and_scrape_over_parsed_heads() {
        let mut s = Swarms::new(SwarmConfig::default());
        let now = Instant::now();
        let a: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "[::ffff:127.0.0.2]:40001".parse().unwrap();
        let r = handle_request(&mut s, &req(1, 1, 1000, "&event=started"), a, now);
        assert_eq!(r.status, 200);
        assert!(parse_announce(&r.body).unwrap().peers.is_empty());
        let r = handle_request(&mut s, &req(1, 2, 2000, "&compact=1"), b, now);
        assert_eq!(
            parse_announce(&r.body).unwrap().addrs(),
            ["127.0.0.1:1000".parse().unwrap()]
        );
        let r = handle_request(&mut s, &req(1, 1, 1000, "&compact=0"), a, now);
        let resp = parse_announce(&r.body).unwrap();
        assert_eq!(resp.addrs(), ["127.0.0.2:2000".parse().unwrap()]);
        assert_eq!(resp.peers[0].peer_id, Some(PeerId([2; 20])));
        let r = handle_request(&mut s, &req(1, 1, 1000, "&compact=0&no_peer_id=1"), a, now);
        assert_eq!(parse_announce(&r.body).unwrap().peers[0].peer_id, None);
        // IPv6 peers go to peers6.
        let c: SocketAddr = "[::1]:5".parse().unwrap();
        let r = handle_request(&mut s, &req(1, 3, 3000, ""), c, now);
        assert_eq!(parse_announce(&r.body).unwrap().peers.len(), 2);
        let r = handle_request(&mut s, &req(1, 1, 1000, ""), a, now);
        assert!(
            parse_announce(&r.body)
                .unwrap()
                .addrs()
                .contains(&"[::1]:3000".parse().unwrap())
        );

        let head = format!(
            "GET /x/scrape?info_hash={} HTTP/1.0\r\n\r\n",
            encode_bytes(&[1; 20])
        );
        let r = handle_request(&mut s, head.as_bytes(), a, now);
        let st = parse_scrape(&r.body)
            .unwrap()
            .get(&InfoHash([1; 20]))
            .unwrap();
        assert_eq!((st.complete, st.incomplete), (0, 3));
        let r = handle_request(&mut s, b"GET /scrape HTTP/1.1\r\n\r\n", a, now);
        assert_eq!(parse_scrape(&r.body).unwrap().files.len(), 1);
    }

    #[test]
    fn bad_requests_get_failure_reasons() {
        let mut s = Swarms::new(SwarmConfig::default());
        let now = Instant::now();
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        for (head, status) in [
            (&b"POST /announce HTTP/1.1\r\n\r\n"[..], 405),
            (b"GET /nope HTTP/1.1\r\n\r\n", 404),
            (b"\r\n\r\n", 400),
            (b"GET /announce?info_hash=abc HTTP/1.1\r\n\r\n", 200),
            (b"GET /announce?info_hash=%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01 HTTP/1.1\r\n\r\n", 200),
        ] {
            let r = handle_request(&mut s, head, a, now);
            assert_eq!(r.status, status);
            assert!(matches!(parse_announce(&r.body), Err(crate::Error::TrackerFailure(_))));
        }
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nrest"), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
        let bytes = HttpReply::failure("x").to_bytes();
        assert!(bytes.starts_with(b"HTTP/1.1 200 OK\r\n"));
    }
}
