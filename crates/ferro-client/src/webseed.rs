//! Web seeds (BEP 19) inside a torrent: one task per URL, fed by the picker
//! and feeding the same hash-and-write path as peer blocks.
//!
//! URLs come from the torrent's `url-list`, a magnet link's `ws=` and
//! [`AddTorrent::web_seeds`](crate::AddTorrent::web_seeds); all join one
//! [`WebSeeds`] set (duplicates removed) in the torrent's state, so every
//! outcome reaches the URL's [`SeedHealth`](ferro_webseed::SeedHealth):
//! 404 marks a file missing on that seed, 5xx/429/timeouts back it off, and
//! pieces that fail the hash check drop it after a few.
//!
//! Each task asks [`PiecePicker::reserve_web_seed_run`] for a run of whole
//! pieces (as many as the seed's measured rate moves in
//! [`WebSeedConfig::run_time`]), fetches the run with
//! [`WebSeedClient::fetch`] (one streamed Range request per file, bounded per
//! host), and hands each piece to [`TorrentShared::finish_piece`] like a
//! piece assembled from peer blocks. A failed fetch releases the run.
//!
//! [`PiecePicker::reserve_web_seed_run`]: crate::picker::PiecePicker::reserve_web_seed_run

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ferro_webseed::{ClientConfig, FetchError, HealthConfig, SeedId, WebSeedClient, WebSeeds};

use crate::picker::{BlockOutcome, PeerKey};
use crate::torrent::{MAX_PENDING_VERIFY, PieceBuffer, State, TorrentShared};

/// How web seeds are used, with documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSeedConfig {
    /// Use web seeds at all (default true).
    pub enabled: bool,
    /// The HTTP client: timeouts, redirects, requests per host (default 4).
    pub client: ClientConfig,
    /// Backoff after errors and the hash failures that drop a URL (default 3).
    pub health: HealthConfig,
    /// A run of pieces is sized to take about this long at the seed's
    /// measured rate (default 5 s): long runs are what HTTP serves best, short
    /// ones keep a slow seed from holding many pieces.
    pub run_time: Duration,
    /// The longest run, in bytes (default 8 MiB; at least one piece). Kept
    /// below the hash queue's bound so one run never stalls peers.
    pub max_run_bytes: u64,
}

impl Default for WebSeedConfig {
    fn default() -> Self {
        WebSeedConfig {
            enabled: true,
            client: ClientConfig::default(),
            health: HealthConfig::default(),
            run_time: Duration::from_secs(5),
            max_run_bytes: 8 * 1024 * 1024,
        }
    }
}

/// The web seeds of one torrent, kept in its [`State`].
#[derive(Debug)]
pub(crate) struct WebSeedState {
    pub seeds: WebSeeds,
    /// The picker key of each seed (index: [`SeedId`]).
    keys: Vec<PeerKey>,
    /// Pieces a web seed delivered, waiting for their hash check.
    verifying: HashMap<u32, SeedId>,
    /// Payload bytes received from web seeds.
    pub downloaded: u64,
}

impl WebSeedState {
    pub fn new(health: HealthConfig) -> Self {
        WebSeedState {
            seeds: WebSeeds::new(health),
            keys: Vec::new(),
            verifying: HashMap::new(),
            downloaded: 0,
        }
    }

    /// Seeds in use: added and not dropped for corrupt data.
    pub fn active(&self) -> usize {
        (0..self.seeds.len())
            .filter(|&i| {
                self.seeds
                    .health(SeedId(i))
                    .is_some_and(|h| !h.is_dropped())
            })
            .count()
    }

    /// A piece from a web seed passed (`ok`) or failed its hash check: a
    /// failure counts against the URL ([`WebSeeds::on_hash_failure`]).
    /// Returns the URL when the piece came from a web seed, and whether this
    /// failure dropped it.
    pub fn on_verified(&mut self, piece: u32, ok: bool) -> Option<(String, bool)> {
        let id = self.verifying.remove(&piece)?;
        let was_dropped = self.is_dropped(id);
        if !ok {
            self.seeds.on_hash_failure(id);
        }
        let url = self.seeds.url(id)?.to_owned();
        Some((url, !was_dropped && self.is_dropped(id)))
    }

    fn is_dropped(&self, id: SeedId) -> bool {
        self.seeds.health(id).is_some_and(|h| h.is_dropped())
    }
}

/// Adds `urls` to the torrent's web seeds and starts a task for each new one.
pub(crate) fn start(shared: &Arc<TorrentShared>, client: &WebSeedClient, urls: &[String]) {
    if !shared.config.web_seeds.enabled {
        return;
    }
    for url in urls {
        // BEP 19 seeds are HTTP(S) URLs; anything else (ftp:, garbage) is skipped.
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            tracing::debug!(%url, "web seed skipped: not an http(s) URL");
            continue;
        }
        let spawn = {
            let mut st = shared.lock();
            let known = st.web.seeds.len();
            let id = st.web.seeds.add(url);
            if id.0 < known {
                None
            } else {
                let key = st.next_key;
                st.next_key += 1;
                st.web.keys.push(key);
                Some((id, key))
            }
        };
        if let Some((id, key)) = spawn {
            let task = SeedTask {
                shared: shared.clone(),
                client: client.clone(),
                id,
                key,
                url: url.clone(),
                rate: None,
                held: Vec::new(),
            };
            tokio::spawn(task.run());
        }
    }
}

/// What a seed's task does next.
enum Step {
    Fetch(Range<u32>),
    Wait(Duration),
    Exit(&'static str),
}

/// One web seed URL's task.
struct SeedTask {
    shared: Arc<TorrentShared>,
    client: WebSeedClient,
    id: SeedId,
    key: PeerKey,
    url: String,
    /// Measured transfer rate, bytes per second.
    rate: Option<u64>,
    /// Pieces reserved and not yet handed on (released if the task ends).
    held: Vec<u32>,
}

/// While nothing is to be fetched, look again this often (new failures,
/// released pieces, a seed's backoff ending).
const IDLE_POLL: Duration = Duration::from_millis(250);

impl SeedTask {
    async fn run(mut self) {
        let mut stop = self.shared.stop.subscribe();
        // Runs until the torrent stops or has every piece, or the seed is dropped;
        // every pass fetches one run or waits a bounded time.
        let why = loop {
            if self.shared.is_stopped() {
                break "torrent stopped";
            }
            match self.next_step() {
                Step::Exit(why) => break why,
                Step::Wait(d) => {
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = stop.changed() => {}
                    }
                }
                Step::Fetch(run) => {
                    self.held = run.clone().collect();
                    let t0 = Instant::now();
                    let fetched = tokio::select! {
                        r = self.fetch(run.clone()) => Some(r),
                        _ = stop.changed() => None,
                    };
                    match fetched {
                        Some(Ok(bytes)) => {
                            self.measure(bytes.len() as u64, t0.elapsed());
                            self.deliver(run, bytes);
                        }
                        Some(Err(e)) => self.failed(&e),
                        None => {}
                    }
                    self.release_held();
                }
            }
        };
        self.release_held();
        tracing::debug!(url = %self.url, why, "web seed task ended");
    }

    /// Decides under the lock: exit, wait, or reserve a run.
    fn next_step(&mut self) -> Step {
        let shared = self.shared.clone();
        let info = &shared.info;
        let mut st = shared.lock();
        if st.picker.has_all() {
            return Step::Exit("torrent complete");
        }
        if st.error.is_some() {
            return Step::Exit("torrent stopped on an error");
        }
        let Some(health) = st.web.seeds.health(self.id) else {
            return Step::Exit("unknown seed");
        };
        if health.is_dropped() {
            return Step::Exit("dropped after pieces failed the hash check");
        }
        let now = Instant::now();
        if let Some(t) = health.retry_at().filter(|t| *t > now) {
            return Step::Wait(t.saturating_duration_since(now).min(Duration::from_secs(5)));
        }
        // Every wanted piece is in, but file priorities may ask for more later.
        if st.paused || st.checking || st.picker.is_complete() {
            return Step::Wait(IDLE_POLL * 4);
        }
        // Disk backpressure, as for peers.
        if shared.pending_verify.load(Ordering::Relaxed) > MAX_PENDING_VERIFY {
            return Step::Wait(Duration::from_millis(20));
        }
        let max = self.run_pieces();
        let State { picker, web, .. } = &mut *st;
        let Some(health) = web.seeds.health(self.id) else {
            return Step::Exit("unknown seed");
        };
        let can_serve = |p: u32| info.file_spans(p).all(|s| health.usable(now, s.file_index));
        match picker.reserve_web_seed_run(self.key, max, can_serve, &mut rand::rng()) {
            Some(run) => Step::Fetch(run),
            None => Step::Wait(IDLE_POLL),
        }
    }

    /// How many pieces the next run may hold: what the measured rate moves
    /// in `run_time` (one piece before anything is measured), at most
    /// `max_run_bytes`.
    fn run_pieces(&self) -> u32 {
        let cfg = &self.shared.config.web_seeds;
        let piece = self.shared.info.piece_length().max(1);
        let cap = (cfg.max_run_bytes / piece).max(1);
        let by_rate = match self.rate {
            None => 1,
            Some(r) => (u128::from(r) * cfg.run_time.as_millis() / 1000 / u128::from(piece)) as u64,
        };
        by_rate.clamp(1, cap).min(u64::from(u32::MAX)) as u32
    }

    async fn fetch(&self, run: Range<u32>) -> Result<bytes::Bytes, FetchError> {
        let info = &self.shared.info;
        let (Some(offset), Some(last_off), Some(last_len)) = (
            info.piece_offset(run.start),
            info.piece_offset(run.end.saturating_sub(1)),
            info.piece_size(run.end.saturating_sub(1)),
        ) else {
            return Err(FetchError::for_seed(
                &self.url,
                ferro_webseed::Error::NoSuchPiece(run.end),
            ));
        };
        self.client
            .fetch(info, &self.url, offset, last_off + last_len - offset)
            .await
    }

    /// A fetch of `len` bytes took `took`: the rate, smoothed over fetches.
    fn measure(&mut self, len: u64, took: Duration) {
        let ms = took.as_millis().max(1);
        let now = (u128::from(len) * 1000 / ms).min(u128::from(u64::MAX)) as u64;
        self.rate = Some(match self.rate {
            Some(old) => old / 2 + now / 2,
            None => now,
        });
    }

    /// The run arrived: each piece goes to the hash-and-write path.
    fn deliver(&mut self, run: Range<u32>, bytes: bytes::Bytes) {
        let len = bytes.len() as u64;
        let info = self.shared.info.clone();
        let base = info.piece_offset(run.start).unwrap_or(0);
        let mut ready = Vec::new();
        {
            let mut st = self.shared.lock();
            st.web.seeds.on_success(self.id);
            st.web.downloaded += len;
            for piece in run {
                let (Some(off), Some(size)) = (info.piece_offset(piece), info.piece_size(piece))
                else {
                    continue;
                };
                let from = (off - base) as usize;
                let Some(data) = bytes.get(from..from + size as usize) else {
                    continue;
                };
                match st.picker.web_seed_piece_received(self.key, piece) {
                    BlockOutcome::New { others, .. } => {
                        let blocks = st.picker.block_count(piece);
                        let cancels: Vec<_> = (0..blocks)
                            .map(|b| st.picker.block_request(piece, b))
                            .collect();
                        for o in others {
                            if let Some(p) = st.peers.get_mut(&o) {
                                p.cancels.extend_from_slice(&cancels);
                                p.wake.notify_one();
                            }
                        }
                        // Blocks peers sent of it (end-game) are superseded.
                        st.buffers.remove(&piece);
                        st.web.verifying.insert(piece, self.id);
                        ready.push((
                            piece,
                            PieceBuffer {
                                data: crate::storage::PieceData::copy_from(data),
                                block_from: vec![None; blocks as usize],
                            },
                        ));
                    }
                    BlockOutcome::Unneeded => {}
                }
            }
            self.held.clear();
        }
        self.shared.downloaded.fetch_add(len, Ordering::Relaxed);
        for (piece, buf) in ready {
            self.shared.finish_piece(piece, buf);
        }
    }

    /// The fetch failed: the URL's health decides on backoff or a missing file.
    fn failed(&mut self, e: &FetchError) {
        tracing::debug!(url = %self.url, error = %e, "web seed request failed");
        self.shared
            .lock()
            .web
            .seeds
            .on_error(self.id, Instant::now(), e);
    }

    /// Gives back pieces reserved but not delivered.
    fn release_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let mut st = self.shared.lock();
        for piece in self.held.drain(..) {
            st.picker.release_web_seed_piece(self.key, piece);
        }
        // Peers may pick them now.
        for p in st.peers.values() {
            p.wake.notify_one();
        }
    }
}
