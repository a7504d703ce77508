//! One connection's peer exchange: the rate and size limits of BEP 11 both ways.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::message::{PeerFlags, PexMessage};

/// Limits for one connection's exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PexConfig {
    /// Shortest time between two messages, each way. BEP 11: once a minute.
    pub interval: Duration,
    /// Most added peers per message (BEP 11: 50).
    pub max_added: usize,
    /// Most dropped peers per message (BEP 11: 50).
    pub max_dropped: usize,
}

impl Default for PexConfig {
    fn default() -> Self {
        PexConfig {
            interval: Duration::from_secs(60),
            max_added: 50,
            max_dropped: 50,
        }
    }
}

/// What an incoming message taught us, after limits and filtering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PexUpdate {
    /// New peers to consider, with their flags.
    pub added: Vec<(SocketAddr, PeerFlags)>,
    /// Peers the sender no longer talks to.
    pub dropped: Vec<SocketAddr>,
    /// True if the message broke a limit (too soon, too many entries, bogus addresses).
    pub violation: bool,
}

/// The exchange state of one connection.
#[derive(Debug, Clone)]
pub struct PexState {
    config: PexConfig,
    /// The set of peers as we last told this peer.
    told: BTreeSet<SocketAddr>,
    last_sent: Instant,
    last_received: Option<Instant>,
    violations: u32,
}

impl PexState {
    /// A new exchange; our first message may go out one interval after `now`
    /// (the connection's start), so that the swarm view has settled.
    pub fn new(config: PexConfig, now: Instant) -> Self {
        PexState {
            config,
            told: BTreeSet::new(),
            last_sent: now,
            last_received: None,
            violations: 0,
        }
    }

    /// How many times the peer broke the limits.
    pub fn violations(&self) -> u32 {
        self.violations
    }

    /// When [`poll_message`](Self::poll_message) may next return a message.
    pub fn next_send(&self) -> Instant {
        self.last_sent + self.config.interval
    }

    /// Our next message, if the interval has passed and something changed.
    /// `swarm` is the set of peers we are connected to now (excluding this one).
    /// Changes beyond the per-message caps stay pending for the next message.
    pub fn poll_message(
        &mut self,
        now: Instant,
        swarm: &BTreeMap<SocketAddr, PeerFlags>,
    ) -> Option<PexMessage> {
        if now < self.next_send() {
            return None;
        }
        let added: Vec<(SocketAddr, PeerFlags)> = swarm
            .iter()
            .filter(|(a, _)| !self.told.contains(a))
            .take(self.config.max_added)
            .map(|(a, f)| (*a, *f))
            .collect();
        let dropped: Vec<SocketAddr> = self
            .told
            .iter()
            .filter(|a| !swarm.contains_key(a))
            .take(self.config.max_dropped)
            .copied()
            .collect();
        if added.is_empty() && dropped.is_empty() {
            return None;
        }
        for (a, _) in &added {
            self.told.insert(*a);
        }
        for a in &dropped {
            self.told.remove(a);
        }
        self.last_sent = now;
        Some(PexMessage { added, dropped })
    }

    /// Applies the limits to a message from the peer. A message that comes
    /// sooner than the interval after the previous one is ignored; entries past
    /// the caps are trimmed; addresses no peer can have (port 0, unspecified,
    /// multicast, broadcast) are dropped. Each of these counts as a violation.
    pub fn on_message(&mut self, now: Instant, msg: &PexMessage) -> PexUpdate {
        let mut update = PexUpdate::default();
        // Allow a little slack: timers on both sides are not exact.
        let min_gap = self.config.interval.mul_f32(0.9);
        if let Some(prev) = self.last_received
            && now.saturating_duration_since(prev) < min_gap
        {
            self.violations += 1;
            update.violation = true;
            return update;
        }
        self.last_received = Some(now);
        let plausible = |a: &SocketAddr| {
            let ip = a.ip();
            a.port() != 0
                && !ip.is_unspecified()
                && !ip.is_multicast()
                && ip != std::net::Ipv4Addr::BROADCAST
        };
        let before = msg.added.len() + msg.dropped.len();
        update.added = msg
            .added
            .iter()
            .filter(|(a, _)| plausible(a))
            .take(self.config.max_added)
            .copied()
            .collect();
        update.dropped = msg
            .dropped
            .iter()
            .filter(|a| plausible(a))
            .take(self.config.max_dropped)
            .copied()
            .collect();
        if update.added.len() + update.dropped.len() < before {
            self.violations += 1;
            update.violation = true;
        }
        update
    }
}
