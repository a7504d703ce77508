//! The processes of a matrix case: `ferro`, libtorrent (through
//! xtask/interop/matrix_lt.py), aria2c, nginx and opentracker, each on
//! 127.0.0.1 only, each stopped by its PID when dropped (see [`Proc`]);
//! and the payloads they exchange, checked by sha256.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use crate::swarm::{Guard, free_port};
use crate::{Result, root, run_output};

/// A child process whose stdout lines arrive on a channel; killed by PID on drop.
pub struct Proc {
    guard: Guard,
    lines: Receiver<String>,
    /// Every line read so far (for failure messages and later checks).
    pub seen: Vec<String>,
    what: String,
}

impl Proc {
    /// Starts `cmd` with stdout piped into the line channel.
    pub fn spawn(what: &str, mut cmd: Command) -> Result<Proc> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {what} ({:?}): {e}", cmd.get_program()))?;
        let out = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = channel();
        // MATRIX_DEBUG=1 echoes every party's stdout (with its age) on stderr.
        let echo = std::env::var_os("MATRIX_DEBUG")
            .is_some()
            .then(|| (what.to_owned(), Instant::now()));
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(|l| l.ok()) {
                if let Some((what, t0)) = &echo {
                    eprintln!("[{:6.1}] {what}: {line}", t0.elapsed().as_secs_f64());
                }
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Proc {
            guard: Guard(child),
            lines: rx,
            seen: Vec::new(),
            what: what.to_owned(),
        })
    }

    /// Waits (at most `timeout`) for a stdout line for which `want` is true.
    pub fn wait_line(&mut self, timeout: Duration, want: impl Fn(&str) -> bool) -> Result<String> {
        let deadline = Instant::now() + timeout;
        // Bounded by `deadline`.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if want(&line) {
                        return Ok(line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "{} timed out after {timeout:?}{}",
                        self.what,
                        self.tail()
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.guard.0.wait().map_err(|e| e.to_string())?;
                    return Err(format!("{} exited ({status}){}", self.what, self.tail()));
                }
            }
        }
    }

    /// Reads whatever stdout lines are waiting, without blocking.
    pub fn drain(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    /// Waits (at most `timeout`) for the process to exit 0.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result {
        let start = Instant::now();
        // Bounded by `timeout`.
        loop {
            self.drain();
            if let Some(s) = self.guard.0.try_wait().map_err(|e| e.to_string())? {
                std::thread::sleep(Duration::from_millis(20));
                self.drain();
                return if s.success() {
                    Ok(())
                } else {
                    Err(format!("{} exited ({s}){}", self.what, self.tail()))
                };
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "{} did not finish in {timeout:?}{}",
                    self.what,
                    self.tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn tail(&self) -> String {
        match self.seen.last() {
            Some(l) => format!("; last line: {}", l.chars().take(200).collect::<String>()),
            None => String::new(),
        }
    }
}

/// Waits (bounded) until something accepts TCP connections on 127.0.0.1:`port`.
pub fn wait_port(port: u16, timeout: Duration) -> Result {
    wait_port_on(LOOPBACK, port, timeout)
}

/// Waits (bounded) until something accepts TCP connections on `ip`:`port`.
pub fn wait_port_on(ip: IpAddr, port: u16, timeout: Duration) -> Result {
    let start = Instant::now();
    let addr = SocketAddr::new(ip, port);
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if start.elapsed() > timeout {
            return Err(format!("nothing listens on {addr} after {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// `127.0.0.1:port`.
pub fn local(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// 127.0.0.1, where every party lives unless told otherwise.
pub const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// `ip:port`.
pub fn at(ip: IpAddr, port: u16) -> String {
    SocketAddr::new(ip, port).to_string()
}

// ---------------------------------------------------------------- ferro

/// How a party learns of the others: peers to dial, trackers, a DHT node.
#[derive(Clone, Default)]
pub struct Find {
    pub peers: Vec<String>,
    pub trackers: Vec<String>,
    pub dht_node: Option<u16>,
    /// The party's own address, to listen on and dial from (default
    /// 127.0.0.1; the network-namespace cells give each party its own).
    pub bind: Option<IpAddr>,
}

impl Find {
    /// The party's own address.
    pub fn host(&self) -> IpAddr {
        self.bind.unwrap_or(LOOPBACK)
    }
}

fn ferro_find_args(c: &mut Command, find: &Find) {
    for p in &find.peers {
        c.args(["--peer", p]);
    }
    for t in &find.trackers {
        c.args(["--tracker", t]);
    }
    match find.dht_node {
        Some(port) => c.args(["--dht-bootstrap", &local(port)]),
        None => c.arg("--no-dht"),
    };
    if let Some(ip) = find.bind {
        c.args(["--bind", &ip.to_string()]);
    }
}

/// `ferro seed TORRENT DIR --json`, listening on `port`.
pub fn ferro_seed(
    ferro: &Path,
    torrent: &Path,
    dir: &Path,
    port: u16,
    find: &Find,
) -> Result<Proc> {
    let mut c = crate::swarm::seed_command(ferro, torrent, dir, port);
    ferro_find_args(&mut c, find);
    let mut p = Proc::spawn("ferro seed", c)?;
    // Its first line comes once the torrent is checked and added: before
    // that it turns peers away (and they wait before dialing again).
    p.wait_line(Duration::from_secs(60), |_| true)?;
    wait_port_on(find.host(), port, Duration::from_secs(60))?;
    Ok(p)
}

/// `ferro download TORRENT_OR_MAGNET -o DIR --json` (exits once complete,
/// or after `seed_secs` more of seeding).
pub fn ferro_download(
    ferro: &Path,
    torrent: &str,
    dir: &Path,
    port: u16,
    find: &Find,
    seed_secs: Option<u64>,
) -> Result<Proc> {
    let mut c = Command::new(ferro);
    c.arg("download")
        .arg(torrent)
        .arg("-o")
        .arg(dir)
        .args(["--port", &port.to_string(), "--json"]);
    if let Some(s) = seed_secs {
        c.args(["--seed-time", &s.to_string()]);
    }
    ferro_find_args(&mut c, find);
    Proc::spawn("ferro download", c)
}

/// The largest `peers_from_pex` a ferro process reported.
pub fn ferro_pex_peers(p: &Proc) -> u64 {
    p.seen
        .iter()
        .filter_map(|l| json_u64(l, "peers_from_pex"))
        .max()
        .unwrap_or(0)
}

/// A number field of a JSON line, without a JSON parser.
pub use crate::swarm::field as json_u64;

/// `ferro create --no-date --piece-length 256K [--pad] -t .. -w .. -o OUT PAYLOAD`;
/// returns the info-hash (hex).
pub fn ferro_create(
    ferro: &Path,
    payload: &Path,
    out: &Path,
    trackers: &[String],
    web_seeds: &[String],
    pad: bool,
) -> Result<String> {
    let mut c = Command::new(ferro);
    c.args(["create", "--no-date", "--force", "--piece-length", "256K"]);
    if pad {
        c.arg("--pad");
    }
    for t in trackers {
        c.args(["-t", t]);
    }
    for w in web_seeds {
        c.args(["-w", w]);
    }
    let text = run_output(c.arg("-o").arg(out).arg(payload))?;
    text.lines()
        .find_map(|l| l.strip_prefix("info-hash:"))
        .map(|h| h.trim().to_owned())
        .ok_or_else(|| format!("ferro create printed no info-hash: {text}"))
}

/// `ferro magnet TORRENT` plus `&x.pe=` for each peer.
pub fn magnet(ferro: &Path, torrent: &Path, peers: &[String]) -> Result<String> {
    let mut m = run_output(Command::new(ferro).arg("magnet").arg(torrent))?
        .trim()
        .to_owned();
    for p in peers {
        m.push_str("&x.pe=");
        m.push_str(p);
    }
    Ok(m)
}

// ---------------------------------------------------------------- libtorrent

/// The shared libtorrent helper script.
pub fn lt_script() -> PathBuf {
    root().join("xtask/interop/matrix_lt.py")
}

/// libtorrent 2.x seeding (`torrent`, data in `dir`) or leeching (`torrent`
/// or a magnet link) on `port`; waits for its LISTENING line.
pub fn lt(source: &str, dir: &Path, port: u16, find: &Find, exit_on_finish: bool) -> Result<Proc> {
    let mut c = Command::new("/usr/bin/python3");
    c.arg(lt_script());
    if source.starts_with("magnet:") {
        c.args(["--magnet", source]);
    } else {
        c.args(["--torrent", source]);
    }
    c.arg("--save")
        .arg(dir)
        .args(["--port", &port.to_string(), "--timeout", "300"]);
    for p in &find.peers {
        c.args(["--peer", p]);
    }
    if let Some(n) = find.dht_node {
        c.args(["--dht-node", &local(n)]);
    }
    c.args(["--bind", &find.host().to_string()]);
    if exit_on_finish {
        c.arg("--exit-on-finish");
    }
    let mut p = Proc::spawn("libtorrent", c)?;
    p.wait_line(Duration::from_secs(30), |l| l.starts_with("LISTENING"))?;
    Ok(p)
}

/// `matrix_lt.py --create`: a v1 .torrent of `payload` made by libtorrent.
pub fn lt_create(payload: &Path, out: &Path, trackers: &[String], pad: bool) -> Result {
    let mut c = Command::new("/usr/bin/python3");
    c.arg(lt_script())
        .arg("--create")
        .arg(payload)
        .arg("--out")
        .arg(out);
    for t in trackers {
        c.args(["--tracker", t]);
    }
    if pad {
        c.arg("--pad");
    }
    run_output(&mut c).map(|_| ())
}

// ---------------------------------------------------------------- aria2c

/// aria2c 1.36 seeding (`--seed-ratio=0.0`: forever, after checking the data)
/// or leeching (exits once complete) a .torrent or magnet link, on `port`.
pub fn aria2(source: &str, dir: &Path, port: u16, seed: bool, find: &Find) -> Result<Proc> {
    let mut c = Command::new("/usr/bin/aria2c");
    c.args([
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--disable-ipv6=true",
        "--file-allocation=none",
        "--summary-interval=0",
        "--console-log-level=warn",
        "--bt-save-metadata=false",
        "--auto-save-interval=0",
        "--bt-stop-timeout=300",
        "--allow-overwrite=true",
        "--bt-tracker-interval=5",
    ]);
    // Listens on and dials from this address only.
    c.arg(format!("--interface={}", find.host()));
    if find.dht_node.is_none() {
        c.arg("--enable-dht=false");
    }
    if seed {
        c.args(["--check-integrity=true", "--seed-ratio=0.0"]);
    } else {
        c.arg("--seed-time=0");
    }
    if let Some(node) = find.dht_node {
        // Its DHT on the same port as its peers, told only our node.
        c.args(["--enable-dht=true", "--dht-entry-point", &local(node)])
            .arg(format!("--dht-listen-port={port}"))
            .arg(format!(
                "--dht-file-path={}",
                dir.with_file_name(format!("aria2-dht-{port}.dat"))
                    .display()
            ));
    }
    // Its log (info level) beside its directory: which peers it dialed.
    c.arg(format!(
        "--log={}",
        dir.with_extension("aria2.log").display()
    ))
    .arg("--log-level=info");
    c.args(["--listen-port", &port.to_string(), "--dir"])
        .arg(dir);
    if !find.peers.is_empty() {
        // aria2c has no option to dial a given peer: the other side dials it.
        return Err("aria2c cannot be told a peer to dial".into());
    }
    c.arg(source);
    let p = Proc::spawn("aria2c", c)?;
    if seed {
        wait_port_on(find.host(), port, Duration::from_secs(60))?;
    }
    Ok(p)
}

// ---------------------------------------------------------------- trackers, web seed

/// opentracker (Debian's whitelist build) on 127.0.0.1 with HTTP on `tcp` and
/// UDP on `udp`, serving only `hashes`.
pub fn opentracker(work: &Path, hashes: &[String], tcp: u16, udp: u16) -> Result<Proc> {
    let bin = Path::new("/usr/bin/opentracker");
    if !bin.exists() {
        return Err("opentracker is not installed (cargo xtask install-clients)".into());
    }
    let dir = work.join("opentracker");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    world_readable(&dir)?;
    // It chroots into rootdir and drops to `nobody`: the whitelist path is
    // relative to the chroot.
    std::fs::write(dir.join("whitelist.txt"), hashes.join("\n") + "\n")
        .map_err(|e| e.to_string())?;
    let conf = dir.join("opentracker.conf");
    std::fs::write(
        &conf,
        format!(
            "listen.tcp 127.0.0.1:{tcp}\nlisten.udp 127.0.0.1:{udp}\naccess.whitelist /whitelist.txt\ntracker.rootdir {}\n",
            dir.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let mut c = Command::new(bin);
    c.arg("-f").arg(&conf).stderr(Stdio::null());
    let p = Proc::spawn("opentracker", c)?;
    wait_port(tcp, Duration::from_secs(10))?;
    Ok(p)
}

pub fn free_udp_port() -> Result<u16> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    s.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// `ferro tracker` with HTTP and UDP on 127.0.0.1 (announce interval 5 s).
pub fn ferro_tracker(ferro: &Path) -> Result<(Proc, u16, u16)> {
    let (http, udp) = (free_port()?, free_udp_port()?);
    let mut c = Command::new(ferro);
    c.args(["tracker", "--http", &local(http), "--udp", &local(udp)])
        .args(["--interval", "5", "--rate-limit", "0"]);
    let p = Proc::spawn("ferro tracker", c)?;
    wait_port(http, Duration::from_secs(10))?;
    Ok((p, http, udp))
}

/// nginx in the foreground, one process (`master_process off`: its PID is
/// all there is), serving `web_root` on 127.0.0.1 with Range support.
pub fn nginx(work: &Path, web_root: &Path) -> Result<(Proc, u16)> {
    let bin = Path::new("/usr/sbin/nginx");
    if !bin.exists() {
        return Err("nginx is not installed (cargo xtask install-clients)".into());
    }
    let state = work.join("nginx");
    for d in ["tmp", "logs"] {
        std::fs::create_dir_all(state.join(d)).map_err(|e| e.to_string())?;
    }
    world_readable(web_root)?;
    let port = free_port()?;
    let s = state.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {s}/nginx.pid;\n\
         error_log {s}/logs/error.log;\nevents {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {s}/tmp/body;\n\
         proxy_temp_path {s}/tmp/proxy;\n  fastcgi_temp_path {s}/tmp/fastcgi;\n\
         uwsgi_temp_path {s}/tmp/uwsgi;\n  scgi_temp_path {s}/tmp/scgi;\n\
         server {{\n    listen 127.0.0.1:{port};\n    root {};\n    location / {{ }}\n  }}\n}}\n",
        web_root.display()
    );
    let conf_path = state.join("nginx.conf");
    std::fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
    let mut c = Command::new(bin);
    c.arg("-p")
        .arg(&state)
        .arg("-e")
        .arg(state.join("logs/error.log"))
        .arg("-c")
        .arg(&conf_path);
    let p = Proc::spawn("nginx", c)?;
    wait_port(port, Duration::from_secs(10))?;
    Ok((p, port))
}

/// Daemons that drop privileges (nginx, opentracker) must read the tree.
fn world_readable(dir: &Path) -> Result {
    use std::os::unix::fs::PermissionsExt;
    let mut d = dir.to_path_buf();
    // Every ancestor up to the scratch dir's parent must be searchable.
    for _ in 0..8 {
        let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755));
        if !d.pop() || d == std::env::temp_dir() {
            break;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- payloads

pub use super::cases::{sha256, verify};
pub use crate::swarm::write_files;

/// Waits (bounded) until the tracker's HTTP scrape of `info_hash` (hex) counts
/// at least one seeder (`seeders`) or leecher: the party that must be found
/// has announced, so the next one finds it in its first announce.
pub fn wait_announced(http_port: u16, info_hash: &str, seeders: bool, timeout: Duration) -> Result {
    use std::io::{Read, Write};
    let mut query = String::new();
    for i in (0..info_hash.len()).step_by(2) {
        query.push('%');
        query.push_str(info_hash.get(i..i + 2).ok_or("bad info-hash")?);
    }
    let key = if seeders {
        "8:completei"
    } else {
        "10:incompletei"
    };
    let start = Instant::now();
    // Bounded by `timeout`.
    loop {
        let mut body = Vec::new();
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", http_port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = write!(
                s,
                "GET /scrape?info_hash={query} HTTP/1.0\r\nHost: 127.0.0.1:{http_port}\r\n\r\n"
            );
            let _ = s.take(1 << 16).read_to_end(&mut body);
        }
        let text = String::from_utf8_lossy(&body);
        let count = text
            .find(key)
            .and_then(|i| text.get(i + key.len()..))
            .and_then(|r| r.split('e').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if count > 0 {
            return Ok(());
        }
        if start.elapsed() > timeout {
            let who = if seeders { "seeder" } else { "leecher" };
            return Err(format!("no {who} announced to the tracker in {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `ferro info`'s info-hash of any .torrent (hex).
pub fn info_hash(ferro: &Path, torrent: &Path) -> Result<String> {
    let text = run_output(Command::new(ferro).arg("info").arg(torrent))?;
    text.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("info-hash:")
                .map(|h| h.trim().to_owned())
        })
        .ok_or_else(|| format!("ferro info printed no info-hash: {text}"))
}
