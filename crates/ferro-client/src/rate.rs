//! Rates: a moving average of bytes per second, and a token bucket limiter.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An exponentially weighted moving average of a byte rate, updated once
/// per tick with the bytes counted since the last tick.
#[derive(Debug, Clone, Copy, Default)]
pub struct RateEstimate {
    rate: f64,
    pending: u64,
}

impl RateEstimate {
    /// Counts `n` bytes.
    pub fn add(&mut self, n: u64) {
        self.pending += n;
    }

    /// Closes a tick of `elapsed`; the estimate follows the last ~3 ticks.
    pub fn tick(&mut self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64().max(1e-3);
        let sample = self.pending as f64 / secs;
        self.pending = 0;
        self.rate = if self.rate == 0.0 {
            sample
        } else {
            self.rate * 0.6 + sample * 0.4
        };
    }

    /// Bytes per second.
    pub fn get(&self) -> u64 {
        self.rate as u64
    }
}

/// A token bucket shared by every connection of a session: `take(n)` says
/// how long to pause so that the long-run rate stays at the limit.
#[derive(Debug)]
pub struct RateLimiter {
    rate: u64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// A limiter of `rate` bytes per second (burst: a quarter of a second's worth).
    pub fn new(rate: u64) -> Self {
        RateLimiter {
            rate: rate.max(1),
            state: Mutex::new((0.0, Instant::now())),
        }
    }

    /// Records `n` bytes at `now`; returns how long the caller should wait
    /// before moving more data.
    pub fn take(&self, n: u64, now: Instant) -> Duration {
        let Ok(mut s) = self.state.lock() else {
            return Duration::ZERO;
        };
        let rate = self.rate as f64;
        let elapsed = now.saturating_duration_since(s.1).as_secs_f64();
        s.1 = now;
        // Refill, capped at the burst size.
        s.0 = (s.0 + elapsed * rate).min(rate / 4.0);
        s.0 -= n as f64;
        if s.0 >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-s.0 / rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_follows_the_rate() {
        let mut r = RateEstimate::default();
        for _ in 0..10 {
            r.add(1000);
            r.tick(Duration::from_millis(500));
        }
        assert_eq!(r.get(), 2000);
        r.tick(Duration::from_secs(1));
        assert!(r.get() < 2000);
    }

    #[test]
    fn limiter_makes_callers_wait() {
        let start = Instant::now();
        let l = RateLimiter::new(1000);
        assert_eq!(l.take(0, start), Duration::ZERO);
        let wait = l.take(1000, start);
        assert_eq!(wait, Duration::from_secs(1));
        // A second later the debt is paid back.
        assert_eq!(l.take(0, start + Duration::from_secs(2)), Duration::ZERO);
    }
}
