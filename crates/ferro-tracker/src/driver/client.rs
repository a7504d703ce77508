//! One entry point for any tracker URL, and BEP 12 tier walking.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use super::{HttpConfig, HttpTracker, UdpTracker};
use crate::{
    AnnounceRequest, AnnounceResponse, Error, InfoHash, ScrapeResponse, TrackerTiers, UdpConfig,
};

/// Configuration of a [`TrackerClient`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackerClientConfig {
    /// HTTP limits. Its `local_address` is the source address of UDP
    /// tracker requests too.
    pub http: HttpConfig,
    /// UDP timing.
    pub udp: UdpConfig,
}

/// Announces and scrapes over `http://`, `https://` and `udp://` URLs.
///
/// UDP trackers are kept per URL so their connection id is reused for up to a
/// minute (BEP 15); concurrent calls to one UDP tracker take turns, calls to
/// different trackers run in parallel.
#[derive(Debug)]
pub struct TrackerClient {
    http: HttpTracker,
    udp_config: UdpConfig,
    udp: Mutex<HashMap<String, Arc<Mutex<UdpTracker>>>>,
}

/// Bound on cached UDP trackers; past it the cache is cleared (a torrent client
/// talks to a few dozen trackers at most).
const MAX_UDP_TRACKERS: usize = 256;

impl TrackerClient {
    /// A client with `config`.
    pub fn new(config: TrackerClientConfig) -> Result<Self, Error> {
        Ok(TrackerClient {
            http: HttpTracker::new(config.http)?,
            udp_config: config.udp,
            udp: Mutex::new(HashMap::new()),
        })
    }

    fn scheme(url: &str) -> Result<&str, Error> {
        let scheme = url
            .split_once("://")
            .map(|(s, _)| s)
            .ok_or_else(|| Error::InvalidUrl {
                url: url.to_owned(),
                reason: "no scheme".into(),
            })?;
        match scheme {
            "http" | "https" | "udp" => Ok(scheme),
            other => Err(Error::UnsupportedScheme(other.to_owned())),
        }
    }

    async fn with_udp<T>(
        &self,
        url: &str,
        f: impl AsyncFnOnce(&mut UdpTracker) -> Result<T, Error>,
    ) -> Result<T, Error> {
        // The map is locked only to find or insert the tracker, so a slow or
        // dead UDP tracker holds up only its own requests.
        let cached = self.udp.lock().await.get(url).cloned();
        let tracker = match cached {
            Some(t) => t,
            None => {
                // Resolve and bind without holding the map.
                let fresh = Arc::new(Mutex::new(
                    UdpTracker::connect_from(
                        url,
                        self.http.config().local_address,
                        self.udp_config.clone(),
                    )
                    .await?,
                ));
                let mut map = self.udp.lock().await;
                if map.len() >= MAX_UDP_TRACKERS && !map.contains_key(url) {
                    map.clear();
                }
                map.entry(url.to_owned()).or_insert(fresh).clone()
            }
        };
        let mut t = tracker.lock().await;
        f(&mut t).await
    }

    /// Announces `req` to the tracker at `url`.
    pub async fn announce(
        &self,
        url: &str,
        req: &AnnounceRequest,
    ) -> Result<AnnounceResponse, Error> {
        match Self::scheme(url)? {
            "udp" => self.with_udp(url, async |t| t.announce(req).await).await,
            _ => self.http.announce(url, req).await,
        }
    }

    /// Scrapes `info_hashes` from the tracker at `url` (its announce URL).
    pub async fn scrape(
        &self,
        url: &str,
        info_hashes: &[InfoHash],
    ) -> Result<ScrapeResponse, Error> {
        match Self::scheme(url)? {
            "udp" => {
                self.with_udp(url, async |t| t.scrape(info_hashes).await)
                    .await
            }
            _ => self.http.scrape(url, info_hashes).await,
        }
    }

    /// One BEP 12 announce round over `tiers`: trackers in order, the one that
    /// answers moved to the front of its tier; stops at the first answer
    /// unless `tiers.announce_to_all_tiers`. Returns each answering tracker's
    /// URL and response, or [`Error::AllTrackersFailed`] if none answered.
    pub async fn announce_tiers(
        &self,
        tiers: &mut TrackerTiers,
        req: &AnnounceRequest,
    ) -> Result<Vec<(String, AnnounceResponse)>, Error> {
        let mut cursor = tiers.cursor();
        let mut answers = Vec::new();
        let mut tried = 0;
        // Each step advances the cursor; there are tiers.len() steps at most.
        while let Some((_, url)) = cursor.current(tiers) {
            let url = url.to_owned();
            tried += 1;
            let result = self.announce(&url, req).await;
            cursor.report(tiers, result.is_ok());
            if let Ok(r) = result {
                answers.push((url, r));
            }
        }
        if answers.is_empty() {
            Err(Error::AllTrackersFailed(tried))
        } else {
            Ok(answers)
        }
    }
}
