//! A tiny HTTP/1.1 file server for tests (loopback only), with misbehaviours:
//! ignore `Range`, 404 for some files, a fixed error status, stall mid-body,
//! corrupt bytes, redirect forever. One request per connection.

#![allow(dead_code)]

use std::io::{Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the server answers.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Answer `Range` with 206 (else ignore it and send the whole file with 200).
    pub honour_range: bool,
    /// Files whose last path component is one of these get a 404.
    pub missing: Vec<String>,
    /// Answer every request with this status and an empty body.
    pub status: Option<u16>,
    /// Send this many body bytes, then go silent (for a minute).
    pub stall_after: Option<usize>,
    /// Flip the first byte of every body.
    pub corrupt: bool,
    /// Answer every request with a 302 to another URL on this server.
    pub redirect_loop: bool,
    /// Read the request, then say nothing (for a minute).
    pub silent: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            honour_range: true,
            missing: Vec::new(),
            status: None,
            stall_after: None,
            corrupt: false,
            redirect_loop: false,
            silent: false,
        }
    }
}

/// Counters a test may look at.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests answered (any status).
    pub requests: AtomicUsize,
    /// Requests being handled right now.
    pub in_flight: AtomicUsize,
    /// Most requests ever handled at once.
    pub max_in_flight: AtomicUsize,
}

/// A running server; stopped when dropped.
pub struct TestServer {
    /// `http://127.0.0.1:PORT/`
    pub base: String,
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the files under `root` on 127.0.0.1 with `behaviour`.
pub async fn start(root: PathBuf, behaviour: Behaviour) -> TestServer {
    start_on("127.0.0.1:0", root, behaviour).await
}

/// Serves the files under `root` on `bind` (a loopback address) with `behaviour`.
pub async fn start_on(bind: &str, root: PathBuf, behaviour: Behaviour) -> TestServer {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = Arc::new(Stats::default());
    let st = stats.clone();
    let b = Arc::new(behaviour);
    let root = Arc::new(root);
    let task = tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let (b, root, st) = (b.clone(), root.clone(), st.clone());
            tokio::spawn(async move {
                let now = st.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                st.max_in_flight.fetch_max(now, Ordering::SeqCst);
                let _ = serve(sock, &root, &b).await;
                st.requests.fetch_add(1, Ordering::SeqCst);
                st.in_flight.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    TestServer {
        base: format!("http://{addr}/"),
        addr,
        stats,
        task,
    }
}

fn decode(path: &str) -> String {
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

async fn serve(mut sock: TcpStream, root: &std::path::Path, b: &Behaviour) -> std::io::Result<()> {
    // Read the request head (bounded).
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut buf).await?;
        if n == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let target = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("/")
        .to_string();
    let range = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("range"))
        .map(|(_, v)| v.trim().to_string());

    if b.silent {
        tokio::time::sleep(Duration::from_secs(60)).await;
        return Ok(());
    }
    if b.redirect_loop {
        let n: u64 = target
            .split_once("?n=")
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or(0);
        let path = target.split('?').next().unwrap_or("/");
        let head = format!(
            "HTTP/1.1 302 Found\r\nLocation: {path}?n={}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            n + 1
        );
        return sock.write_all(head.as_bytes()).await;
    }
    if let Some(status) = b.status {
        let head =
            format!("HTTP/1.1 {status} Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return sock.write_all(head.as_bytes()).await;
    }
    let path = decode(target.split('?').next().unwrap_or("/"));
    let rel = path.trim_start_matches('/');
    let last = rel.rsplit('/').next().unwrap_or("");
    let file = root.join(rel);
    let size = std::fs::metadata(&file)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let (Some(size), false) = (size, b.missing.iter().any(|m| m == last)) else {
        let head = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        return sock.write_all(head.as_bytes()).await;
    };
    // bytes=A-B (inclusive)
    let wanted = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, z)| Some((a.parse::<u64>().ok()?, z.parse::<u64>().ok()?)))
        .filter(|(a, z)| a <= z && *z < size);
    let (status, start, len, extra) = match wanted {
        Some((a, z)) if b.honour_range => (
            "206 Partial Content",
            a,
            z - a + 1,
            format!("Content-Range: bytes {a}-{z}/{size}\r\n"),
        ),
        _ => ("200 OK", 0, size, String::new()),
    };
    let head =
        format!("HTTP/1.1 {status}\r\nContent-Length: {len}\r\n{extra}Connection: close\r\n\r\n");
    sock.write_all(head.as_bytes()).await?;
    let mut f = std::fs::File::open(&file)?;
    f.seek(SeekFrom::Start(start))?;
    let mut left = len;
    let mut sent = 0usize;
    let mut chunk = vec![0u8; 256 * 1024];
    let mut first = true;
    while left > 0 {
        let n = (left as usize).min(chunk.len());
        f.read_exact(&mut chunk[..n])?;
        if first && b.corrupt {
            chunk[0] ^= 0xff;
        }
        first = false;
        let mut body = &chunk[..n];
        if let Some(stall) = b.stall_after {
            let k = stall.saturating_sub(sent).min(n);
            sock.write_all(&body[..k]).await?;
            if k < n {
                sock.flush().await?;
                tokio::time::sleep(Duration::from_secs(60)).await;
                return Ok(());
            }
            body = &[];
        }
        sock.write_all(body).await?;
        sent += n;
        left -= n as u64;
    }
    sock.shutdown().await
}
