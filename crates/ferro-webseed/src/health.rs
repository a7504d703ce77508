//! Per-URL health: backoff after errors, files the seed lacks, and dropping a
//! seed that keeps serving corrupt data.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::plan::Error;

/// Backoff and tolerance settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// Wait after the first failure; doubled for each further one in a row. Default 15 s.
    pub base_backoff: Duration,
    /// Longest wait. Default 30 min.
    pub max_backoff: Duration,
    /// Pieces from this seed that may fail the hash check before it is dropped. Default 3.
    pub max_hash_failures: u32,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            base_backoff: Duration::from_secs(15),
            max_backoff: Duration::from_secs(30 * 60),
            max_hash_failures: 3,
        }
    }
}

/// The health of one web seed URL.
#[derive(Debug, Clone)]
pub struct SeedHealth {
    config: HealthConfig,
    failures: u32,
    retry_at: Option<Instant>,
    missing: BTreeSet<usize>,
    hash_failures: u32,
}

impl SeedHealth {
    /// A healthy seed.
    pub fn new(config: HealthConfig) -> Self {
        SeedHealth {
            config,
            failures: 0,
            retry_at: None,
            missing: BTreeSet::new(),
            hash_failures: 0,
        }
    }

    /// True once the seed served too many pieces that failed the hash check.
    pub fn is_dropped(&self) -> bool {
        self.hash_failures >= self.config.max_hash_failures
    }

    /// May we ask this seed for file `file_index` at `now`?
    pub fn usable(&self, now: Instant, file_index: usize) -> bool {
        !self.is_dropped()
            && self.retry_at.is_none_or(|t| now >= t)
            && !self.missing.contains(&file_index)
    }

    /// When the seed may be asked again, if it is backing off.
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// A request succeeded: the backoff is over.
    pub fn on_success(&mut self) {
        self.failures = 0;
        self.retry_at = None;
    }

    /// A request for `file_index` failed with `err` (or a timeout/transport
    /// error, passed as `None`). A missing file is remembered, not backed off;
    /// anything else backs the whole URL off exponentially.
    pub fn on_error(&mut self, now: Instant, file_index: usize, err: Option<&Error>) {
        if let Some(Error::NotFound(_)) = err {
            self.missing.insert(file_index);
            return;
        }
        let shift = self.failures.min(16);
        let wait = self
            .config
            .base_backoff
            .saturating_mul(1u32 << shift)
            .min(self.config.max_backoff);
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(now + wait);
    }

    /// A piece with bytes from this seed failed the hash check.
    pub fn on_hash_failure(&mut self) {
        self.hash_failures = self.hash_failures.saturating_add(1);
    }
}
