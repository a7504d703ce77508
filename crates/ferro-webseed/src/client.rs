//! The HTTP transfer over reqwest (rustls): a torrent byte range fetched from
//! one web seed, with bounded concurrency per host and stall timeouts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use bytes::Bytes;
use ferro_metainfo::Info;
use reqwest::header::{CONTENT_RANGE, RANGE};
use tokio::sync::Semaphore;

use crate::plan::{BodyPlan, Error, FetchError, RangeRequest, check_response, plan_range};

/// Most redirects a [`ClientConfig`] may allow.
pub const MAX_REDIRECTS: usize = 5;

/// Settings of a [`WebSeedClient`], with documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Longest wait for the response headers, and for each further piece of
    /// the body: a seed silent this long is a [`Error::Timeout`]. Default 20 s.
    pub timeout: Duration,
    /// TCP (+ TLS) connect timeout. Default 10 s.
    pub connect_timeout: Duration,
    /// Redirects followed per request, at most [`MAX_REDIRECTS`]. Default 5.
    pub max_redirects: usize,
    /// Requests in flight to one host (`host:port`) at a time. Default 4.
    pub max_requests_per_host: usize,
    /// Longest byte range one [`WebSeedClient::fetch`] may ask for (the
    /// buffer it allocates). Default 64 MiB.
    pub max_fetch_len: u64,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Source address of the connections to web seeds (`None`: the system
    /// picks), e.g. the address a client is bound to.
    pub local_address: Option<std::net::IpAddr>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
            max_redirects: MAX_REDIRECTS,
            max_requests_per_host: 4,
            max_fetch_len: 64 * 1024 * 1024,
            user_agent: concat!("ferro/", env!("CARGO_PKG_VERSION")).to_owned(),
            local_address: None,
        }
    }
}

/// reqwest is built with `rustls-no-provider`: it takes the process-wide
/// rustls provider, which we set to ring (as ferro-tracker does). If the
/// application installed another provider first, that one is used.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// An HTTP client for web seeds; cheap to clone (one connection pool and one
/// set of per-host limits shared by the clones).
#[derive(Debug, Clone)]
pub struct WebSeedClient {
    client: reqwest::Client,
    config: ClientConfig,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl WebSeedClient {
    /// A client with `config` (`max_redirects` clamped to [`MAX_REDIRECTS`],
    /// `max_requests_per_host` to at least 1).
    pub fn new(mut config: ClientConfig) -> Result<Self, Error> {
        install_crypto_provider();
        config.max_redirects = config.max_redirects.min(MAX_REDIRECTS);
        config.max_requests_per_host = config.max_requests_per_host.max(1);
        let redirect = if config.max_redirects == 0 {
            reqwest::redirect::Policy::none()
        } else {
            reqwest::redirect::Policy::limited(config.max_redirects)
        };
        let client = reqwest::Client::builder()
            .redirect(redirect)
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.timeout)
            .user_agent(config.user_agent.clone())
            .local_address(config.local_address)
            .no_proxy()
            .build()
            .map_err(|e| Error::Transport(chain(&e)))?;
        Ok(WebSeedClient {
            client,
            config,
            hosts: Arc::default(),
        })
    }

    /// The settings in force.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Fetches the torrent bytes `[offset, offset + len)` from the web seed at
    /// `base` (BEP 19): one Range request per file touched, run at once up to
    /// the per-host limit, BEP 47 padding filled with zeros. Returns exactly
    /// `len` bytes, in torrent order. The bytes are not hash-checked here.
    pub async fn fetch(
        &self,
        info: &Info,
        base: &str,
        offset: u64,
        len: u64,
    ) -> Result<Bytes, FetchError> {
        let total = info.total_length();
        let limit = self.config.max_fetch_len;
        if len == 0 || len > limit || offset.checked_add(len).is_none_or(|end| end > total) {
            return Err(FetchError::for_seed(
                base,
                Error::BadRange {
                    offset,
                    len,
                    total,
                    limit,
                },
            ));
        }
        let plan = plan_range(info, base, offset, len);
        // Zeros: padding (and nothing else) is left as it is.
        let mut out = vec![0u8; len as usize];
        let mut jobs = Vec::with_capacity(plan.len());
        let mut rest: &mut [u8] = &mut out;
        let mut at = offset; // torrent offset of `rest[0]`
        for req in &plan {
            let start = info
                .files()
                .get(req.file_index)
                .map(|f| f.offset + req.start)
                .unwrap_or(u64::MAX);
            // The plan is in order and inside the range; anything else is a bug
            // in the plan, reported rather than panicking.
            let gap = start.checked_sub(at).and_then(|g| usize::try_from(g).ok());
            let taken = std::mem::take(&mut rest);
            let Some((_, tail)) = gap.and_then(|g| taken.split_at_mut_checked(g)) else {
                return Err(out_of_plan(req));
            };
            let Some((mine, tail)) = usize::try_from(req.len)
                .ok()
                .and_then(|l| tail.split_at_mut_checked(l))
            else {
                return Err(out_of_plan(req));
            };
            rest = tail;
            at = start + req.len;
            jobs.push(self.fetch_request(req, mine));
        }
        futures_util::future::try_join_all(jobs).await?;
        Ok(Bytes::from(out))
    }

    /// The semaphore bounding requests to `url`'s host.
    fn host_slot(&self, url: &str) -> Result<Arc<Semaphore>, Error> {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| Error::Transport(format!("{url}: {e}")))?;
        let key = format!(
            "{}:{}",
            parsed.host_str().unwrap_or_default(),
            parsed.port_or_known_default().unwrap_or(0)
        );
        let mut hosts = self
            .hosts
            .lock()
            .map_err(|_| Error::Transport("host table poisoned".into()))?;
        Ok(hosts
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.max_requests_per_host)))
            .clone())
    }

    /// Runs one Range request and streams its wanted bytes into `out`
    /// (`out.len() == req.len`).
    async fn fetch_request(&self, req: &RangeRequest, out: &mut [u8]) -> Result<(), FetchError> {
        let fail = |e: Error| FetchError::for_request(req, e);
        let slot = self.host_slot(&req.url).map_err(fail)?;
        let _permit = slot
            .acquire()
            .await
            .map_err(|_| fail(Error::Transport("host limit closed".into())))?;
        let t = self.config.timeout;
        let send = self
            .client
            .get(&req.url)
            .header(RANGE, req.range_header())
            .send();
        let mut resp = tokio::time::timeout(t, send)
            .await
            .map_err(|_| fail(Error::Timeout(t)))?
            .map_err(|e| fail(self.map_err(&e)))?;
        let content_range = resp
            .headers()
            .get(CONTENT_RANGE)
            .and_then(|v| v.to_str().ok());
        let plan = check_response(
            req,
            resp.status().as_u16(),
            content_range,
            resp.content_length(),
        )
        .map_err(fail)?;
        // A 200 carries the whole file: skip to `start`, stop after `len`.
        let mut skip = match plan {
            BodyPlan::Exact => 0,
            BodyPlan::Skip(n) => n,
        };
        let mut filled = 0usize;
        while filled < out.len() {
            let chunk = match tokio::time::timeout(t, resp.chunk()).await {
                Err(_) => return Err(fail(Error::Timeout(t))),
                Ok(Err(e)) => return Err(fail(self.map_err(&e))),
                Ok(Ok(None)) => {
                    return Err(fail(Error::BodyEnded {
                        got: filled as u64,
                        want: req.len,
                    }));
                }
                Ok(Ok(Some(c))) => c,
            };
            let mut c: &[u8] = &chunk;
            if skip > 0 {
                let n = usize::try_from(skip).unwrap_or(usize::MAX).min(c.len());
                skip -= n as u64;
                c = c.get(n..).unwrap_or_default();
            }
            let n = c.len().min(out.len() - filled);
            if let (Some(dst), Some(src)) = (out.get_mut(filled..filled + n), c.get(..n)) {
                dst.copy_from_slice(src);
            }
            filled += n;
        }
        // Dropping `resp` here stops reading whatever the server sends beyond.
        Ok(())
    }

    fn map_err(&self, e: &reqwest::Error) -> Error {
        if e.is_timeout() {
            Error::Timeout(self.config.timeout)
        } else if e.is_redirect() {
            Error::TooManyRedirects(self.config.max_redirects)
        } else {
            Error::Transport(chain(e))
        }
    }
}

/// An error and its sources, which name the real cause (refused, reset, TLS...).
fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

fn out_of_plan(req: &RangeRequest) -> FetchError {
    FetchError::for_request(
        req,
        Error::Transport(format!(
            "range request {}+{} falls outside the fetched range",
            req.start, req.len
        )),
    )
}
