//! `ferro download`: download a torrent, show progress, optionally keep seeding.
//!
//! The progress display ([`Display`]) is shared with `ferro seed` and
//! `ferro demo`: a live bar on a terminal, one plain line per interval
//! otherwise, or one JSON object per line with `--json`.

use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ferro_client::{
    AddMagnet, AddTorrent, Config, DhtOptions, Session, TorrentEvent, TorrentHandle, TorrentStats,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::output::{human_size, parse_size};

/// Arguments of `ferro download`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The .torrent file, or a magnet link ("magnet:?xt=urn:btih:...&x.pe=HOST:PORT"):
    /// its metadata is fetched from the link's peers and saved in DIR/.ferro/.
    torrent: PathBuf,
    /// Directory to download into.
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    output: PathBuf,
    #[command(flatten)]
    common: Common,
    /// Keep seeding after the download completes, until Ctrl-C.
    #[arg(long)]
    seed: bool,
    /// Seed until uploaded/size reaches R (implies --seed).
    #[arg(long, value_name = "R")]
    seed_ratio: Option<f64>,
    /// Seed for S seconds after completion (implies --seed).
    #[arg(long, value_name = "S")]
    seed_time: Option<u64>,
    /// Download only these files: indices as `ferro info` lists them,
    /// comma-separated, with inclusive ranges (BEP 53 `so` syntax, e.g.
    /// 0,2-4). Other files are skipped; for a magnet link this replaces its `so=`.
    #[arg(long, value_name = "LIST")]
    select: Option<String>,
    /// Download pieces in order (for streaming) instead of rarest first.
    #[arg(long)]
    sequential: bool,
}

/// File priorities for `--select`: the listed files, the others skipped.
/// An index past the file list is a usage error (unlike a magnet's `so=`).
fn file_selection(
    info: &ferro_metainfo::Info,
    select: &[ferro_magnet::SelectRange],
) -> crate::Result<Vec<ferro_client::FilePriority>> {
    let files = info.files().len();
    if let Some(r) = select.iter().find(|r| r.first >= files) {
        return Err(format!(
            "--select: file index {} out of range: the torrent has {files} files (see ferro info)",
            r.first
        )
        .into());
    }
    Ok(ferro_client::selection::select_only(files, select).0)
}

/// Flags shared by `download` and `seed`.
#[derive(Debug, clap::Args)]
pub(crate) struct Common {
    /// TCP port to accept peers on (0: any free port; a taken port falls back to the next free).
    #[arg(long, value_name = "N", default_value_t = 6881)]
    port: u16,
    /// Use only this local address: accept peers on it, dial peers from it,
    /// and run the DHT's UDP socket on it (e.g. 192.168.1.20, or 127.0.0.2
    /// for a local swarm; default: listen on every address, the system picks
    /// the source of each dial). Tracker and web seed requests leave from it
    /// too.
    #[arg(long, value_name = "ADDR")]
    bind: Option<std::net::IpAddr>,
    /// Dial this peer directly (repeatable).
    #[arg(long, value_name = "HOST:PORT")]
    peer: Vec<String>,
    /// Announce to this tracker too (repeatable).
    #[arg(long, value_name = "URL")]
    tracker: Vec<String>,
    /// Fetch pieces from this web seed too (BEP 19 HTTP URL; repeatable).
    #[arg(long, value_name = "URL")]
    web_seed: Vec<String>,
    /// For a magnet link: give up when no peer has sent the metadata after
    /// this many seconds. Peers found by the DHT alone can take minutes.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    metadata_timeout: u64,
    /// Most peer connections.
    #[arg(long, value_name = "N", default_value_t = 50)]
    max_peers: usize,
    /// Download limit per second (e.g. 500K, 2M).
    #[arg(long, value_name = "RATE", value_parser = parse_size)]
    download_limit: Option<u64>,
    /// Upload limit per second (e.g. 500K, 2M).
    #[arg(long, value_name = "RATE", value_parser = parse_size)]
    upload_limit: Option<u64>,
    /// One JSON object per line on stdout instead of a progress display.
    #[arg(long)]
    json: bool,
    /// Log what the client does on stderr (RUST_LOG overrides).
    #[arg(short, long)]
    verbose: bool,
    /// Turn peer exchange (BEP 11, ut_pex) off: no peer is told of others,
    /// none is learned from them.
    #[arg(long)]
    no_pex: bool,
    /// Turn the Mainline DHT (BEP 5) off.
    #[arg(long, conflicts_with = "dht_bootstrap")]
    no_dht: bool,
    /// Bootstrap the DHT from this node instead of the public routers
    /// (repeatable; e.g. 127.0.0.1:6881 for a local swarm). When every
    /// bootstrap node is on loopback, the DHT's per-IP defences are off, since
    /// all nodes of a local swarm share one IP.
    #[arg(long, value_name = "HOST:PORT")]
    dht_bootstrap: Vec<String>,
}

impl Common {
    pub(crate) fn init_logging(&self) {
        let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| {
            if self.verbose {
                "ferro_client=debug,ferro_tracker=info".into()
            } else {
                "off".into()
            }
        });
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .try_init();
    }

    /// DHT on by default with the public routers; `--dht-bootstrap` nodes
    /// replace them (local swarms never reach a public address).
    fn dht(&self) -> Option<DhtOptions> {
        if self.no_dht {
            return None;
        }
        let mut o = DhtOptions::default();
        if !self.dht_bootstrap.is_empty() {
            o.bootstrap_nodes = self.dht_bootstrap.clone();
            // Every node of a local swarm shares one IP: the routing table's
            // one-node-per-IP rule and the per-IP rate limit would keep them
            // apart. Any bootstrap node elsewhere keeps the defences on.
            let loopback = |h: &String| match h.parse::<SocketAddr>() {
                Ok(a) => a.ip().is_loopback(),
                Err(_) => h
                    .rsplit_once(':')
                    .is_some_and(|(host, _)| host == "localhost"),
            };
            if self.dht_bootstrap.iter().all(loopback) {
                o.node = DhtOptions::loopback([]).node;
            }
        }
        Some(o)
    }

    pub(crate) fn config(&self) -> Config {
        let config = Config {
            listen_port: self.port,
            max_peers_per_torrent: self.max_peers,
            max_peers: self.max_peers.max(1) * 4,
            download_limit: self.download_limit,
            upload_limit: self.upload_limit,
            dht: self.dht(),
            pex: !self.no_pex,
            ..Config::default()
        };
        match self.bind {
            Some(ip) => config.bind(ip),
            None => config,
        }
    }

    pub(crate) fn add(
        &self,
        torrent: ferro_metainfo::Metainfo,
        dir: PathBuf,
    ) -> crate::Result<AddTorrent> {
        let mut add = AddTorrent::new(torrent, dir);
        add.peers = self.peers()?;
        add.extra_trackers = self.tracker.clone();
        add.web_seeds = self.web_seed.clone();
        Ok(add)
    }

    /// A magnet link to add: `--peer`s are asked too, `--tracker`s join the link's.
    pub(crate) fn add_magnet(&self, uri: &str, dir: PathBuf) -> crate::Result<AddMagnet> {
        let mut magnet: ferro_magnet::MagnetLink =
            uri.parse().map_err(|e| format!("{uri}: {e}"))?;
        magnet.trackers.extend(self.tracker.iter().cloned());
        magnet.web_seeds.extend(self.web_seed.iter().cloned());
        let mut add = AddMagnet::new(magnet, dir);
        add.peers = self.peers()?;
        add.metadata_timeout = std::time::Duration::from_secs(self.metadata_timeout);
        Ok(add)
    }

    fn peers(&self) -> crate::Result<Vec<SocketAddr>> {
        let mut peers = Vec::new();
        for p in &self.peer {
            let addr: SocketAddr = p
                .to_socket_addrs()
                .map_err(|e| format!("--peer {p}: {e}"))?
                .next()
                .ok_or_else(|| format!("--peer {p}: no address"))?;
            peers.push(addr);
        }
        Ok(peers)
    }

    pub(crate) fn is_json(&self) -> bool {
        self.json
    }

    pub(crate) fn display_mode(&self) -> Mode {
        if self.json {
            Mode::Json
        } else if std::io::stdout().is_terminal() {
            Mode::Bar
        } else {
            Mode::Lines
        }
    }
}

pub(crate) fn read_torrent(path: &PathBuf) -> crate::Result<ferro_metainfo::Metainfo> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(ferro_metainfo::Metainfo::from_bytes(&bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?)
}

pub(crate) fn runtime() -> crate::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// What `ferro download` was given.
enum Source {
    Torrent(AddTorrent),
    Magnet(AddMagnet),
}

/// Runs `ferro download`.
pub(crate) fn run(args: Args) -> crate::Result<()> {
    args.common.init_logging();
    let mode = args.common.display_mode();
    let magnet = args.torrent.to_str().filter(|s| s.starts_with("magnet:"));
    let mut add = match magnet {
        Some(uri) => Source::Magnet(args.common.add_magnet(uri, args.output.clone())?),
        None => Source::Torrent(
            args.common
                .add(read_torrent(&args.torrent)?, args.output.clone())?,
        ),
    };
    let select = match &args.select {
        Some(s) => Some(
            ferro_magnet::SelectRange::parse_list(s).map_err(|e| format!("--select {s}: {e}"))?,
        ),
        None => None,
    };
    match (&mut add, select) {
        (Source::Torrent(t), select) => {
            t.sequential = args.sequential;
            if let Some(select) = select {
                t.file_priorities = Some(file_selection(&t.metainfo.info, &select)?);
            }
        }
        (Source::Magnet(m), Some(select)) => m.magnet.select_only = select,
        (Source::Magnet(_), None) => {}
    }
    let seed_after = args.seed || args.seed_ratio.is_some() || args.seed_time.is_some();
    runtime()?.block_on(async move {
        let session = Session::new(args.common.config()).await?;
        let handle = match add {
            Source::Torrent(add) => session.add_torrent(add).await?,
            Source::Magnet(magnet) => {
                if mode == Mode::Lines {
                    let _ = crate::output::print("fetching metadata from peers\n");
                }
                let handle = session.add_magnet(magnet).await?;
                handle.set_sequential(args.sequential);
                handle
            }
        };
        let mut display = Display::new(mode, &handle);
        let outcome = tokio::select! {
            r = display.follow_until_complete(&handle) => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted; resume data saved, run again to continue".into()),
        };
        if outcome.is_ok() && seed_after {
            display.seeding(&handle);
            tokio::select! {
                _ = display.follow_seeding(&handle, args.seed_ratio, args.seed_time.map(Duration::from_secs)) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        let stats = handle.stats();
        session.shutdown().await;
        display.finish(&stats);
        outcome?;
        if stats.wanted_left > 0 {
            let done = stats.wanted_length - stats.wanted_left;
            return Err(format!("only {done} of {} wanted bytes verified", stats.wanted_length).into());
        }
        Ok(())
    })
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Bar,
    Lines,
    Json,
}

/// Progress output for one torrent.
pub(crate) struct Display {
    mode: Mode,
    bar: Option<ProgressBar>,
    started: Instant,
    name: String,
}

impl Display {
    pub(crate) fn new(mode: Mode, handle: &TorrentHandle) -> Self {
        // The bar covers what is to be downloaded (the selected files' pieces).
        let total = handle.stats().wanted_length;
        let bar = (mode == Mode::Bar).then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{prefix:.bold} [{bar:30.cyan/blue}] {percent:>3}% {bytes}/{total_bytes} {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(handle.info().name().to_owned());
            bar
        });
        Display {
            mode,
            bar,
            started: Instant::now(),
            name: handle.info().name().to_owned(),
        }
    }

    fn json(&self, value: serde_json::Value) {
        let _ = crate::output::print(&format!("{value}\n"));
    }

    fn show(&self, s: &TorrentStats) {
        let wanted_verified = s.wanted_length - s.wanted_left;
        let eta = match s.wanted_left.checked_div(s.download_rate) {
            Some(secs) => format!("{}:{:02}", secs / 60, secs % 60),
            None => "-".into(),
        };
        match self.mode {
            Mode::Bar => {
                if let Some(b) = &self.bar {
                    b.set_position(wanted_verified);
                    b.set_message(format!(
                        "↓ {}/s ↑ {}/s peers {}/{} ETA {eta}",
                        human_size(s.download_rate),
                        human_size(s.upload_rate),
                        s.peers_connected,
                        s.peers_known
                    ));
                }
            }
            Mode::Lines => {
                let _ = crate::output::print(&format!(
                    "{} {:5.1}% {}/{} down {}/s up {}/s peers {}/{} eta {eta}\n",
                    self.name,
                    s.progress() * 100.0,
                    human_size(wanted_verified),
                    human_size(s.wanted_length),
                    human_size(s.download_rate),
                    human_size(s.upload_rate),
                    s.peers_connected,
                    s.peers_known
                ));
            }
            Mode::Json => self.json(serde_json::json!({
                "event": "progress",
                "verified_bytes": s.verified_bytes,
                "total_bytes": s.total_length,
                "selected_bytes": s.selected_length,
                "wanted_bytes": s.wanted_length,
                "wanted_left": s.wanted_left,
                "pieces": s.pieces_have,
                "piece_count": s.piece_count,
                "download_rate": s.download_rate,
                "upload_rate": s.upload_rate,
                "downloaded": s.downloaded,
                "uploaded": s.uploaded,
                "peers": s.peers_connected,
                "peers_known": s.peers_known,
                "peers_from_pex": s.peers_from_pex,
                "web_seeds": s.web_seeds,
                "downloaded_from_web_seeds": s.downloaded_from_web_seeds,
            })),
        }
    }

    fn event(&self, e: &TorrentEvent) {
        let line = match e {
            TorrentEvent::Checked { pieces, hashed } => {
                serde_json::json!({"event": "checked", "pieces": pieces, "hashed": hashed})
            }
            TorrentEvent::HashFailed { piece, peers } => serde_json::json!({
                "event": "hash_failed", "piece": piece,
                "peers": peers.iter().map(|p| p.to_string()).collect::<Vec<_>>()
            }),
            TorrentEvent::PeerBanned(a) => {
                serde_json::json!({"event": "peer_banned", "addr": a.to_string()})
            }
            TorrentEvent::Announced { url, peers } => {
                serde_json::json!({"event": "announced", "url": url, "peers": peers})
            }
            TorrentEvent::AnnounceFailed(e) => {
                serde_json::json!({"event": "announce_failed", "error": e})
            }
            TorrentEvent::Completed => serde_json::json!({"event": "completed"}),
            TorrentEvent::Error(e) => serde_json::json!({"event": "error", "error": e}),
            TorrentEvent::WebSeedDropped(url) => {
                serde_json::json!({"event": "web_seed_dropped", "url": url})
            }
            TorrentEvent::PieceVerified(_)
            | TorrentEvent::PeerConnected(_)
            | TorrentEvent::PeerDisconnected { .. } => return,
        };
        match self.mode {
            Mode::Json => self.json(line),
            Mode::Lines => {
                if let TorrentEvent::HashFailed { .. }
                | TorrentEvent::PeerBanned(_)
                | TorrentEvent::WebSeedDropped(_)
                | TorrentEvent::Error(_) = e
                {
                    let _ = crate::output::print(&format!("{}: {line}\n", self.name));
                }
            }
            Mode::Bar => {
                if let (Some(b), TorrentEvent::PeerBanned(a)) = (&self.bar, e) {
                    b.println(format!(
                        "banned {a}: it sent data that failed the hash check"
                    ));
                }
            }
        }
    }

    /// Shows progress until every piece is verified; fails if the torrent stops.
    pub(crate) async fn follow_until_complete(
        &mut self,
        handle: &TorrentHandle,
    ) -> crate::Result<()> {
        let mut events = handle.events();
        // The startup check finished inside add_torrent, before we could
        // subscribe: report its result first.
        if let Some(e) = handle.checked() {
            self.event(&e);
        }
        let interval = if self.mode == Mode::Bar { 200 } else { 1000 };
        let mut tick = tokio::time::interval(Duration::from_millis(interval));
        let done = handle.wait_until_complete();
        tokio::pin!(done);
        let mut saw_completed = false;
        // Ends when the torrent completes or fails.
        loop {
            tokio::select! {
                r = &mut done => {
                    // Events already sent (e.g. `completed`) are shown first.
                    while let Ok(e) = events.try_recv() {
                        saw_completed |= matches!(e, TorrentEvent::Completed);
                        self.event(&e);
                    }
                    // A torrent can complete before we subscribed to its
                    // events (a tiny or already complete download): report it.
                    if r.is_ok() && !saw_completed {
                        self.event(&TorrentEvent::Completed);
                    }
                    self.show(&handle.stats());
                    return r.map_err(|e| e.to_string().into());
                }
                e = events.recv() => if let Ok(e) = e {
                    saw_completed |= matches!(e, TorrentEvent::Completed);
                    self.event(&e);
                },
                _ = tick.tick() => self.show(&handle.stats()),
            }
        }
    }

    pub(crate) fn seeding(&mut self, handle: &TorrentHandle) {
        if let Some(b) = &self.bar {
            b.set_position(handle.stats().wanted_length);
        }
        if self.mode == Mode::Lines {
            let _ = crate::output::print(&format!("{}: seeding (Ctrl-C to stop)\n", self.name));
        }
    }

    /// Shows stats while seeding, until the ratio or time goal (if any).
    pub(crate) async fn follow_seeding(
        &mut self,
        handle: &TorrentHandle,
        ratio: Option<f64>,
        time: Option<Duration>,
    ) {
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        // Ends on a goal or when the caller's Ctrl-C wins the race.
        loop {
            tick.tick().await;
            let s = handle.stats();
            self.show(&s);
            let r = s.uploaded as f64 / s.total_length.max(1) as f64;
            if ratio.is_some_and(|goal| r >= goal) || time.is_some_and(|t| start.elapsed() >= t) {
                return;
            }
        }
    }

    pub(crate) fn finish(&self, s: &TorrentStats) {
        let secs = self.started.elapsed().as_secs_f64();
        if let Some(b) = &self.bar {
            b.finish();
        }
        match self.mode {
            Mode::Json => self.json(serde_json::json!({
                "event": "finished",
                "verified_bytes": s.verified_bytes, "total_bytes": s.total_length,
                "downloaded": s.downloaded, "uploaded": s.uploaded, "seconds": secs,
                "complete": s.wanted_left == 0,
                "selected_bytes": s.selected_length,
                "wanted_bytes": s.wanted_length,
                "pieces": s.pieces_have, "piece_count": s.piece_count,
                "downloaded_from_web_seeds": s.downloaded_from_web_seeds,
            })),
            _ => {
                let _ = crate::output::print(&format!(
                    "{}: {} of {} verified, {} down, {} up in {:.1} s\n",
                    self.name,
                    human_size(s.verified_bytes),
                    human_size(s.total_length),
                    human_size(s.downloaded),
                    human_size(s.uploaded),
                    secs
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Common;
    use clap::Parser;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        common: Common,
    }

    fn common(args: &[&str]) -> Common {
        let mut all = vec!["ferro"];
        all.extend_from_slice(args);
        Args::parse_from(all).common
    }

    fn config(args: &[&str]) -> ferro_client::Config {
        common(args).config()
    }

    #[test]
    fn bind_sets_the_listen_and_outgoing_address() {
        let c = config(&["--bind", "127.0.0.2", "--port", "0"]);
        let ip: std::net::IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(c.listen_addr, ip);
        assert_eq!(c.outgoing_addr, Some(ip));
        assert_eq!(c.listen_port, 0);
    }

    #[test]
    fn without_bind_it_listens_everywhere_and_the_system_picks_the_source() {
        let c = config(&[]);
        assert!(c.listen_addr.is_unspecified());
        assert_eq!(c.outgoing_addr, None);
        assert!(c.pex);
    }

    #[test]
    fn no_pex_turns_peer_exchange_off() {
        assert!(!config(&["--no-pex"]).pex);
    }

    #[test]
    fn metadata_timeout_reaches_the_magnet() {
        let magnet = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567";
        let dir = std::path::PathBuf::from("dl");
        let add = common(&[]).add_magnet(magnet, dir.clone()).unwrap();
        assert_eq!(add.metadata_timeout.as_secs(), 300);
        let add = common(&["--metadata-timeout", "7"])
            .add_magnet(magnet, dir)
            .unwrap();
        assert_eq!(add.metadata_timeout.as_secs(), 7);
    }

    #[test]
    fn a_bind_address_that_is_not_an_ip_is_refused() {
        assert!(Args::try_parse_from(["ferro", "--bind", "eth0"]).is_err());
    }
}
