//! The web seeds of one torrent: which URL to ask for a range, and what each
//! outcome does to that URL's health. Sans-IO: the caller passes `now`.

use std::time::Instant;

use ferro_metainfo::Info;
use sha1::{Digest, Sha1};

use crate::health::{HealthConfig, SeedHealth};
use crate::plan::{Error, FetchError};

/// Index of a web seed in a [`WebSeeds`] set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeedId(pub usize);

/// One web seed: its base URL (from `url-list` or a magnet `ws=`) and health.
#[derive(Debug, Clone)]
struct Seed {
    url: String,
    health: SeedHealth,
}

/// The web seeds of a torrent, each with its [`SeedHealth`].
///
/// `url-list` entries and magnet `ws=` parameters feed the same set
/// ([`WebSeeds::add`] ignores duplicates). [`WebSeeds::pick`] chooses a seed
/// that may serve every file of a byte range; the `on_*` methods report what
/// happened so that failing seeds back off, missing files are not asked again,
/// and seeds serving corrupt data are dropped.
#[derive(Debug, Clone)]
pub struct WebSeeds {
    config: HealthConfig,
    seeds: Vec<Seed>,
    /// Where the next [`WebSeeds::pick`] starts looking, so that load spreads
    /// over the seeds instead of always hitting the first.
    cursor: usize,
}

impl WebSeeds {
    /// An empty set; every seed added gets a [`SeedHealth`] with `config`.
    pub fn new(config: HealthConfig) -> Self {
        WebSeeds {
            config,
            seeds: Vec::new(),
            cursor: 0,
        }
    }

    /// A set holding `urls`, duplicates removed.
    pub fn with_urls<I, S>(config: HealthConfig, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut s = WebSeeds::new(config);
        for u in urls {
            s.add(u.as_ref());
        }
        s
    }

    /// Adds the seed at `url` (if it is not there yet) and returns its id.
    pub fn add(&mut self, url: &str) -> SeedId {
        if let Some(i) = self.seeds.iter().position(|s| s.url == url) {
            return SeedId(i);
        }
        self.seeds.push(Seed {
            url: url.to_string(),
            health: SeedHealth::new(self.config.clone()),
        });
        SeedId(self.seeds.len() - 1)
    }

    /// Number of seeds, dropped ones included.
    pub fn len(&self) -> usize {
        self.seeds.len()
    }

    /// True when there are no seeds at all.
    pub fn is_empty(&self) -> bool {
        self.seeds.is_empty()
    }

    /// The base URL of seed `id`.
    pub fn url(&self, id: SeedId) -> Option<&str> {
        self.seeds.get(id.0).map(|s| s.url.as_str())
    }

    /// The health of seed `id`.
    pub fn health(&self, id: SeedId) -> Option<&SeedHealth> {
        self.seeds.get(id.0).map(|s| &s.health)
    }

    /// A seed that may be asked at `now` for every (non-padding) file touched
    /// by the torrent bytes `[offset, offset + len)`, taking seeds in turn.
    /// `None` when every seed is dropped, backing off, or lacks such a file.
    pub fn pick(&mut self, now: Instant, info: &Info, offset: u64, len: u64) -> Option<SeedId> {
        let n = self.seeds.len();
        for k in 0..n {
            let i = (self.cursor + k) % n;
            let Some(seed) = self.seeds.get(i) else {
                continue;
            };
            let usable = !seed.health.is_dropped()
                && info
                    .range_spans(offset, len)
                    .all(|s| seed.health.usable(now, s.file_index));
            if usable {
                self.cursor = (i + 1) % n;
                return Some(SeedId(i));
            }
        }
        None
    }

    /// Seed `id` served a request: its backoff is over.
    pub fn on_success(&mut self, id: SeedId) {
        if let Some(s) = self.seeds.get_mut(id.0) {
            s.health.on_success();
        }
    }

    /// A request to seed `id` failed at `now`. A missing file (404/410) is
    /// remembered for that file only; anything else (5xx, 429, timeout,
    /// transport error, bad answer) backs the whole seed off.
    pub fn on_error(&mut self, id: SeedId, now: Instant, err: &FetchError) {
        let Some(s) = self.seeds.get_mut(id.0) else {
            return;
        };
        match (&err.error, err.file_index) {
            (Error::NotFound(_), Some(file)) => s.health.on_error(now, file, Some(&err.error)),
            // A 404 not tied to a file cannot mark one missing: back off instead.
            (Error::NotFound(_), None) => s.health.on_error(now, 0, None),
            // A hash mismatch is not a transfer error: see `on_hash_failure`.
            (Error::HashMismatch(_), _) => s.health.on_hash_failure(),
            // The file index only matters for NotFound; any backs the seed off.
            (e, _) => s.health.on_error(now, 0, Some(e)),
        }
    }

    /// A piece with bytes from seed `id` failed the hash check. After
    /// [`HealthConfig::max_hash_failures`] of them the seed is dropped.
    pub fn on_hash_failure(&mut self, id: SeedId) {
        if let Some(s) = self.seeds.get_mut(id.0) {
            s.health.on_hash_failure();
        }
    }

    /// The earliest time a backing-off (not dropped) seed may be asked again:
    /// the deadline a driver sleeps until when [`WebSeeds::pick`] finds none.
    pub fn next_retry(&self) -> Option<Instant> {
        self.seeds
            .iter()
            .filter(|s| !s.health.is_dropped())
            .filter_map(|s| s.health.retry_at())
            .min()
    }

    /// True when every seed has been dropped for corrupt data (or there are none).
    pub fn all_dropped(&self) -> bool {
        self.seeds.iter().all(|s| s.health.is_dropped())
    }
}

/// Whether `data` is piece `piece` of the torrent: its SHA-1 matches the
/// piece hash in the info dictionary (BEP 3). `false` for a wrong length or
/// a piece index out of range.
pub fn verify_piece(info: &Info, piece: u32, data: &[u8]) -> bool {
    match (info.piece_hash(piece), info.piece_size(piece)) {
        (Some(hash), Some(size)) if size == data.len() as u64 => {
            Sha1::digest(data).as_slice() == hash.as_slice()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A two-file torrent (a: 10 bytes, b: 20 bytes), pieces of 16 KiB.
    fn info() -> Info {
        // d4:name1:t12:piece lengthi16384e6:pieces20:...5:filesl...ee, keys sorted.
        let mut raw = Vec::new();
        raw.extend_from_slice(b"d5:filesl");
        raw.extend_from_slice(b"d6:lengthi10e4:pathl1:aee");
        raw.extend_from_slice(b"d6:lengthi20e4:pathl1:bee");
        raw.extend_from_slice(b"e4:name1:t12:piece lengthi16384e6:pieces20:");
        raw.extend_from_slice(&Sha1::digest([7u8; 30]));
        raw.push(b'e');
        Info::from_bytes(&raw).unwrap()
    }

    fn err(file: Option<usize>, error: Error) -> FetchError {
        FetchError {
            url: "http://127.0.0.1/x".into(),
            file_index: file,
            error,
        }
    }

    #[test]
    fn add_dedupes_and_pick_takes_seeds_in_turn() {
        let i = info();
        let t0 = Instant::now();
        let mut s = WebSeeds::with_urls(
            HealthConfig::default(),
            ["http://127.0.0.1/a/", "http://127.0.0.1/b/"],
        );
        assert_eq!(
            s.add("http://127.0.0.1/a/"),
            SeedId(0),
            "a magnet ws= repeat"
        );
        assert_eq!(s.len(), 2);
        let picks: Vec<_> = (0..4).map(|_| s.pick(t0, &i, 0, 30).unwrap()).collect();
        assert_eq!(picks, [SeedId(0), SeedId(1), SeedId(0), SeedId(1)]);
        assert_eq!(s.url(SeedId(1)), Some("http://127.0.0.1/b/"));
        assert_eq!(s.url(SeedId(2)), None);
        assert!(
            WebSeeds::new(HealthConfig::default())
                .pick(t0, &i, 0, 1)
                .is_none()
        );
    }

    #[test]
    fn not_found_marks_only_that_file_and_other_errors_back_off() {
        let i = info();
        let t0 = Instant::now();
        let mut s = WebSeeds::with_urls(HealthConfig::default(), ["http://127.0.0.1/a/"]);
        s.on_error(SeedId(0), t0, &err(Some(1), Error::NotFound(404)));
        assert_eq!(
            s.pick(t0, &i, 0, 10),
            Some(SeedId(0)),
            "file a is still served"
        );
        assert_eq!(s.pick(t0, &i, 5, 10), None, "the range touches b");
        assert_eq!(s.next_retry(), None, "a 404 is no backoff");
        s.on_error(
            SeedId(0),
            t0,
            &err(Some(0), Error::Timeout(Duration::from_secs(1))),
        );
        let retry = s.next_retry().unwrap();
        assert!(retry > t0);
        assert_eq!(s.pick(t0, &i, 0, 10), None);
        assert_eq!(s.pick(retry, &i, 0, 10), Some(SeedId(0)));
        s.on_success(SeedId(0));
        assert_eq!(s.next_retry(), None);
        // A 404 not tied to a file backs off rather than marking anything.
        s.on_error(SeedId(0), t0, &err(None, Error::NotFound(404)));
        assert!(s.next_retry().is_some());
    }

    #[test]
    fn hash_failures_drop_a_seed() {
        let i = info();
        let t0 = Instant::now();
        let cfg = HealthConfig {
            max_hash_failures: 2,
            ..HealthConfig::default()
        };
        let mut s = WebSeeds::with_urls(cfg, ["http://127.0.0.1/a/", "http://127.0.0.1/b/"]);
        s.on_hash_failure(SeedId(0));
        s.on_error(SeedId(0), t0, &err(None, Error::HashMismatch(0)));
        assert!(s.health(SeedId(0)).unwrap().is_dropped());
        assert!(!s.all_dropped());
        for _ in 0..3 {
            assert_eq!(s.pick(t0, &i, 0, 30), Some(SeedId(1)));
        }
        s.on_hash_failure(SeedId(1));
        s.on_hash_failure(SeedId(1));
        assert!(s.all_dropped());
        assert_eq!(s.pick(t0, &i, 0, 30), None);
        assert_eq!(s.next_retry(), None, "dropped seeds never come back");
    }

    #[test]
    fn verify_piece_checks_hash_and_length() {
        let i = info();
        assert!(verify_piece(&i, 0, &[7u8; 30]));
        assert!(!verify_piece(&i, 0, &[8u8; 30]));
        assert!(!verify_piece(&i, 0, &[7u8; 29]));
        assert!(!verify_piece(&i, 1, &[7u8; 30]));
    }
}
