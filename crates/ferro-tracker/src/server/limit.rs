//! Per-IP request rate limits: a token bucket per source address, with a
//! bounded number of tracked addresses. Sans-IO: callers pass the time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Rate limit settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    /// Requests per second allowed on average from one IP.
    pub per_second: f64,
    /// Requests allowed in a burst.
    pub burst: f64,
    /// Most IPs tracked at once; when full, idle entries are dropped and new
    /// IPs are refused until room frees up.
    pub max_ips: usize,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_second: 20.0,
            burst: 200.0,
            max_ips: 65_536,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets per IP.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: HashMap<IpAddr, Bucket>,
}

impl RateLimiter {
    /// A limiter with `limit`.
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter {
            limit,
            buckets: HashMap::new(),
        }
    }

    /// Takes one token for `ip`; `false` means the request must be refused.
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        let l = &self.limit;
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= l.max_ips {
            // A bucket refilled to `burst` is the same as no bucket: drop those.
            let full_after =
                Duration::from_secs_f64((l.burst / l.per_second.max(1e-9)).min(3600.0));
            self.buckets
                .retain(|_, b| now.saturating_duration_since(b.last) < full_after);
            if self.buckets.len() >= l.max_ips {
                return false;
            }
        }
        let b = self.buckets.entry(ip).or_insert(Bucket {
            tokens: l.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * l.per_second).min(l.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Number of IPs tracked.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let mut r = RateLimiter::new(RateLimit {
            per_second: 2.0,
            burst: 3.0,
            max_ips: 2,
        });
        let ip: IpAddr = [127, 0, 0, 1].into();
        let t = Instant::now();
        assert!(r.allow(ip, t) && r.allow(ip, t) && r.allow(ip, t));
        assert!(!r.allow(ip, t));
        assert!(r.allow(ip, t + Duration::from_millis(500)));
        assert!(!r.allow(ip, t + Duration::from_millis(500)));
        // Another IP has its own bucket.
        assert!(r.allow([127, 0, 0, 2].into(), t));
        // Table full: a third IP is refused while the others are recent...
        assert!(!r.allow([127, 0, 0, 3].into(), t));
        // ...and admitted once they have idled back to full buckets.
        assert!(r.allow([127, 0, 0, 3].into(), t + Duration::from_secs(5)));
        assert!(r.tracked() <= 2);
    }
}
