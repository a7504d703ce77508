//! Per-IP limits on incoming queries: a token bucket per source address, in a
//! bounded table, so one host cannot make us do unbounded work or use us to
//! flood a third party (design.md "Limits to enforce", issue #11).
//!
//! Queries over the limit are dropped without an answer. BEP 5 defines error
//! 202 ("Server Error") but no rate-limit error, and answering a flood with
//! errors would still spend our upload on it; libtorrent likewise drops the
//! packets of a node over its `dht_block_ratelimit` silently. A dropped query
//! looks like a lost datagram, which every KRPC client already handles.
//!
//! The table holds at most `max_tracked` hosts. When a new host arrives at a
//! full table, the quarter of hosts seen least recently are forgotten (an
//! approximate LRU, sorted once per `max_tracked / 4` new hosts, so a stream
//! of new, possibly spoofed, sources costs O(log n) per datagram). A
//! forgotten host comes back with a full bucket, which is what a quiet host
//! deserves; the flooder is the most recently seen host and is never the one
//! forgotten. Refusing newcomers instead would let anyone with spoofed
//! sources deny service to every honest host that arrives after them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Rate-limit settings.
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimitConfig {
    /// Queries a host may send in a burst.
    pub burst: u32,
    /// Queries per second it may send in the long run.
    pub per_second: f64,
    /// Hosts tracked at once; the least recently seen are forgotten beyond this.
    pub max_tracked: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            burst: 50,
            per_second: 10.0,
            max_tracked: 4096,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    /// Last refill.
    at: Instant,
    /// When the host was last seen, as a query count: unlike `Instant`s,
    /// two hosts never tie, even when a test feeds many queries at one time.
    seen: u64,
}

/// The per-IP token buckets.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    cfg: RateLimitConfig,
    hosts: HashMap<IpAddr, Bucket>,
    queries: u64,
}

impl RateLimiter {
    /// An empty limiter.
    pub fn new(cfg: RateLimitConfig) -> Self {
        RateLimiter {
            cfg,
            hosts: HashMap::new(),
            queries: 0,
        }
    }

    /// Whether a query from `ip` at `now` may be served; takes one token if so.
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        let burst = f64::from(self.cfg.burst);
        if !self.hosts.contains_key(&ip) && self.hosts.len() >= self.cfg.max_tracked.max(1) {
            self.forget_least_recent();
        }
        self.queries += 1;
        let b = self.hosts.entry(ip).or_insert(Bucket {
            tokens: burst,
            at: now,
            seen: 0,
        });
        b.seen = self.queries;
        let elapsed = now.saturating_duration_since(b.at);
        b.tokens = (b.tokens + elapsed.as_secs_f64() * self.cfg.per_second).min(burst);
        b.at = b.at.max(now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Drops the quarter of the hosts seen least recently (at least one).
    fn forget_least_recent(&mut self) {
        let mut seen: Vec<u64> = self.hosts.values().map(|b| b.seen).collect();
        let drop = (seen.len() / 4).max(1);
        seen.sort_unstable();
        let Some(&cutoff) = seen.get(drop - 1) else {
            return;
        };
        self.hosts.retain(|_, b| b.seen > cutoff);
    }

    /// Hosts currently tracked.
    pub fn tracked(&self) -> usize {
        self.hosts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(RateLimitConfig {
            burst: 3,
            per_second: 1.0,
            max_tracked: 4,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert!((0..3).all(|_| r.allow(a, t0)));
        assert!(!r.allow(a, t0));
        assert!(r.allow(a, t0 + Duration::from_secs(1)));
        assert!(!r.allow(a, t0 + Duration::from_secs(1)));
        // Refill is capped at the burst.
        let later = t0 + Duration::from_secs(1000);
        assert_eq!((0..10).filter(|_| r.allow(a, later)).count(), 3);
    }

    #[test]
    fn a_full_table_forgets_the_least_recent_hosts_never_the_flooder() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(RateLimitConfig {
            burst: 2,
            per_second: 0.001,
            max_tracked: 8,
        });
        let flooder: IpAddr = "10.0.0.1".parse().unwrap();
        // Thousands of new (spoofed) sources between the flooder's queries.
        let mut flooder_allowed = 0;
        for i in 0..5000u32 {
            // All at one instant: recency is by order of arrival.
            let now = t0;
            let spoofed = IpAddr::from([11, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
            assert!(r.allow(spoofed, now), "a new host gets its burst");
            if r.allow(flooder, now) {
                flooder_allowed += 1;
            }
            assert!(r.tracked() <= 8);
        }
        assert_eq!(flooder_allowed, 2, "the flooder kept its empty bucket");
    }
}
