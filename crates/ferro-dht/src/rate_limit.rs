//! Per-IP limits on incoming queries: a token bucket per source address, in a
//! bounded table, so one host cannot make us do unbounded work or use us to
//! flood a third party (design.md "Limits to enforce").

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
    /// Hosts tracked at once; the table is cleared of idle hosts when full.
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

/// The per-IP token buckets.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    cfg: RateLimitConfig,
    hosts: HashMap<IpAddr, (f64, Instant)>,
}

impl RateLimiter {
    /// An empty limiter.
    pub fn new(cfg: RateLimitConfig) -> Self {
        RateLimiter {
            cfg,
            hosts: HashMap::new(),
        }
    }

    /// Whether a query from `ip` at `now` may be served; takes one token if so.
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        let burst = f64::from(self.cfg.burst);
        if !self.hosts.contains_key(&ip) && self.hosts.len() >= self.cfg.max_tracked {
            // Forget hosts whose bucket has refilled: they are indistinguishable
            // from new ones. If all are busy, refuse the newcomer.
            let rate = self.cfg.per_second;
            self.hosts.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < burst
            });
            if self.hosts.len() >= self.cfg.max_tracked {
                return false;
            }
        }
        let (tokens, at) = self.hosts.entry(ip).or_insert((burst, now));
        let elapsed = now.saturating_duration_since(*at);
        *tokens = (*tokens + elapsed.as_secs_f64() * self.cfg.per_second).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
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
            max_tracked: 2,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert!((0..3).all(|_| r.allow(a, t0)));
        assert!(!r.allow(a, t0));
        assert!(r.allow(a, t0 + Duration::from_secs(1)));
        assert!(!r.allow(a, t0 + Duration::from_secs(1)));
        // Table bound: a third host is refused while both others are busy.
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(r.allow(b, t0 + Duration::from_secs(1)));
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        assert!(!r.allow(c, t0 + Duration::from_secs(1)));
        assert!(r.allow(c, t0 + Duration::from_secs(100)));
        assert!(r.tracked() <= 2);
    }
}
