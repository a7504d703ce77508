//! HTTP(S) announce and scrape over reqwest.

use std::net::IpAddr;
use std::sync::Once;
use std::time::Duration;

use url::Url;

use crate::{AnnounceRequest, AnnounceResponse, Error, InfoHash, ScrapeResponse, http};

/// HTTP client limits; every one is enforced, and every failure is an [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Largest body accepted, enforced while streaming (default 2 MiB).
    pub body_limit: usize,
    /// Most redirects followed (default 5).
    pub max_redirects: usize,
    /// Whole-request timeout, body included (default 30 s).
    pub timeout: Duration,
    /// TCP + TLS connect timeout (default 10 s).
    pub connect_timeout: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Source address of the connections to trackers (`None`: the system
    /// picks), e.g. the address a client is bound to.
    pub local_address: Option<IpAddr>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit: 2 * 1024 * 1024,
            max_redirects: 5,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("ferro/", env!("CARGO_PKG_VERSION")).to_owned(),
            local_address: None,
        }
    }
}

/// The tracker's `failure reason`, if `body` is a bencoded failure.
fn failure_reason(body: &[u8]) -> Option<Error> {
    match http::parse_announce(body) {
        Err(e @ Error::TrackerFailure(_)) => Some(e),
        _ => None,
    }
}

/// An HTTP(S) tracker client; cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct HttpTracker {
    client: reqwest::Client,
    config: HttpConfig,
}

/// reqwest is built with `rustls-no-provider`: it takes the process-wide
/// rustls provider, which we set to ring (a small C build, unlike aws-lc-rs).
/// If the application installed another provider first, that one is used.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl HttpTracker {
    /// A client with `config`.
    pub fn new(config: HttpConfig) -> Result<Self, Error> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(config.max_redirects))
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            .local_address(config.local_address)
            .no_proxy()
            .build()
            .map_err(|e| Error::Transport(e.to_string()))?;
        Ok(HttpTracker { client, config })
    }

    /// The limits in force.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Announces `req` to the tracker at `announce`.
    pub async fn announce(
        &self,
        announce: &str,
        req: &AnnounceRequest,
    ) -> Result<AnnounceResponse, Error> {
        let url = http::announce_url(announce, req)?;
        http::parse_announce(&self.get(url).await?)
    }

    /// Scrapes `info_hashes` from the tracker whose announce URL is `announce` (BEP 48).
    pub async fn scrape(
        &self,
        announce: &str,
        info_hashes: &[InfoHash],
    ) -> Result<ScrapeResponse, Error> {
        let url = http::scrape_url_for(announce, info_hashes)?;
        http::parse_scrape(&self.get(url).await?)
    }

    fn map_err(&self, e: reqwest::Error) -> Error {
        if e.is_timeout() {
            Error::Timeout(self.config.timeout)
        } else if e.is_redirect() {
            Error::TooManyRedirects(self.config.max_redirects)
        } else {
            // The source chain names the real cause (refused, TLS, reset...).
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                src = s.source();
            }
            Error::Transport(msg)
        }
    }

    /// GETs `url` and returns its body, capped at `body_limit`.
    async fn get(&self, url: Url) -> Result<Vec<u8>, Error> {
        let limit = self.config.body_limit;
        let mut resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| self.map_err(e))?;
        let status = resp.status();
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(Error::BodyTooLarge { limit });
        }
        let mut body = Vec::new();
        // Bounded: each chunk grows `body`, which may never exceed `limit`.
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.map_err(e))? {
            if body.len() + chunk.len() > limit {
                return Err(Error::BodyTooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            // Some trackers send their `failure reason` with a 4xx status:
            // that reason says more than the status does.
            return Err(failure_reason(&body).unwrap_or(Error::HttpStatus(status.as_u16())));
        }
        Ok(body)
    }
}
