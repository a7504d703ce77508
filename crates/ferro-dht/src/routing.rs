//! The Kademlia routing table of BEP 5 ("Routing Table").
//!
//! Buckets cover the 160-bit id space by shared-prefix length with our own id:
//! bucket `i` (all but the last) holds ids sharing exactly `i` leading bits with
//! ours; the last bucket holds every id sharing at least as many. Only the last
//! bucket (the one that covers our own id) splits, so the table keeps fine
//! detail near us and coarse detail far away, with at most `k` nodes per bucket.
//!
//! Only nodes that answered one of our queries are stored: a node heard of in a
//! `nodes` list or by its query has to answer a ping first (the node core does
//! that), so the table never holds addresses nobody verified.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::id::{NodeId, NodeInfo};

/// BEP 5: a good node "has responded to one of our queries
/// within the last 15 minutes" (or has ever responded and queried us within
/// the last 15 minutes); the same period marks a bucket for refresh.
pub const GOOD_PERIOD: Duration = Duration::from_secs(15 * 60);

/// Routing-table settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingConfig {
    /// Nodes per bucket (BEP 5: k = 8).
    pub k: usize,
    /// At most this many table entries share one IP address, so one host cannot
    /// fill the table (an eclipse defence). Loopback tests with many nodes on
    /// 127.0.0.1 need it raised.
    pub max_nodes_per_ip: usize,
    /// Failed queries in a row after which a node is bad.
    pub max_failures: u8,
    /// A bucket not changed for this long gets a refresh lookup (BEP 5: 15 min).
    pub refresh_after: Duration,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            k: 8,
            max_nodes_per_ip: 1,
            max_failures: 2,
            refresh_after: GOOD_PERIOD,
        }
    }
}

/// A node's standing (BEP 5 "good", "questionable", "bad").
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NodeState {
    /// Answered us, or answered once and queried us, within the last 15 minutes.
    Good,
    /// Silent for 15 minutes: still used, pinged before being replaced.
    Questionable,
    /// Failed to answer several queries in a row: replaced first.
    Bad,
}

/// One routing-table entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEntry {
    /// The node's id and address.
    pub info: NodeInfo,
    /// When it last answered one of our queries.
    pub last_response: Instant,
    /// When it last sent us a query.
    pub last_query: Option<Instant>,
    /// Our queries it failed to answer since its last answer.
    pub failures: u8,
}

impl NodeEntry {
    fn new(info: NodeInfo, now: Instant) -> Self {
        NodeEntry {
            info,
            last_response: now,
            last_query: None,
            failures: 0,
        }
    }

    /// The BEP 5 state at `now`.
    pub fn state(&self, now: Instant, cfg: &RoutingConfig) -> NodeState {
        let recent = |t: Instant| now.saturating_duration_since(t) < GOOD_PERIOD;
        if self.failures >= cfg.max_failures {
            NodeState::Bad
        } else if recent(self.last_response) || self.last_query.is_some_and(recent) {
            NodeState::Good
        } else {
            NodeState::Questionable
        }
    }
}

#[derive(Clone, Debug)]
struct Bucket {
    nodes: Vec<NodeEntry>,
    /// Recently seen nodes that did not fit; newest last (BEP 5 and Kademlia §4.1).
    replacements: Vec<NodeEntry>,
    last_changed: Instant,
}

impl Bucket {
    fn new(now: Instant) -> Self {
        Bucket {
            nodes: Vec::new(),
            replacements: Vec::new(),
            last_changed: now,
        }
    }
}

/// What [`RoutingTable::insert`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InsertOutcome {
    /// A new entry.
    Added,
    /// An existing entry was refreshed.
    Updated,
    /// The bucket was full of live nodes: the node went into the replacement
    /// cache. The caller should ping `ping` (the bucket's stalest questionable
    /// node), whose failure will make room.
    Cached {
        /// A questionable node to check, if the bucket has one.
        ping: Option<NodeInfo>,
    },
    /// Not stored: our own id, a known id at a new address, or the per-IP cap.
    Rejected,
}

/// The routing table. See the module docs.
#[derive(Clone, Debug)]
pub struct RoutingTable {
    own_id: NodeId,
    cfg: RoutingConfig,
    buckets: Vec<Bucket>,
    /// Stored entries per IP address, for the per-IP cap.
    per_ip: HashMap<IpAddr, usize>,
}

impl RoutingTable {
    /// An empty table (one bucket covering the whole space) around `own_id`.
    pub fn new(own_id: NodeId, cfg: RoutingConfig, now: Instant) -> Self {
        RoutingTable {
            own_id,
            cfg,
            buckets: vec![Bucket::new(now)],
            per_ip: HashMap::new(),
        }
    }

    /// Our own id.
    pub fn own_id(&self) -> NodeId {
        self.own_id
    }

    /// The settings.
    pub fn config(&self) -> &RoutingConfig {
        &self.cfg
    }

    /// Number of buckets (1..=160).
    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    /// Number of stored nodes (not counting replacement caches).
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.nodes.len()).sum()
    }

    /// True when no node is stored.
    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(|b| b.nodes.is_empty())
    }

    /// Every stored entry, bucket by bucket.
    pub fn entries(&self) -> impl Iterator<Item = &NodeEntry> {
        self.buckets.iter().flat_map(|b| b.nodes.iter())
    }

    /// The entries of bucket `i` and its replacement cache (for tests and stats).
    pub fn bucket(&self, i: usize) -> Option<(&[NodeEntry], &[NodeEntry])> {
        self.buckets
            .get(i)
            .map(|b| (b.nodes.as_slice(), b.replacements.as_slice()))
    }

    /// The bucket index `id` falls in.
    pub fn bucket_index(&self, id: &NodeId) -> usize {
        let last = self.buckets.len().saturating_sub(1);
        self.own_id.common_prefix_len(id).min(last)
    }

    /// The stored entry for `id`.
    pub fn get(&self, id: &NodeId) -> Option<&NodeEntry> {
        let b = self.buckets.get(self.bucket_index(id))?;
        b.nodes.iter().find(|e| e.info.id == *id)
    }

    fn get_mut(&mut self, id: &NodeId) -> Option<&mut NodeEntry> {
        let i = self.bucket_index(id);
        let b = self.buckets.get_mut(i)?;
        b.nodes.iter_mut().find(|e| e.info.id == *id)
    }

    fn ip_count(&self, ip: IpAddr) -> usize {
        self.per_ip.get(&ip).copied().unwrap_or(0)
    }

    fn count_ip(
        per_ip: &mut HashMap<IpAddr, usize>,
        added: Option<IpAddr>,
        removed: Option<IpAddr>,
    ) {
        if let Some(ip) = added {
            *per_ip.entry(ip).or_insert(0) += 1;
        }
        if let Some(ip) = removed
            && let Some(n) = per_ip.get_mut(&ip)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_ip.remove(&ip);
            }
        }
    }

    /// Records that `info` answered one of our queries at `now`, storing it if
    /// there is room. See [`InsertOutcome`].
    pub fn insert(&mut self, info: NodeInfo, now: Instant) -> InsertOutcome {
        if info.id == self.own_id {
            return InsertOutcome::Rejected;
        }
        if let Some(e) = self.get_mut(&info.id) {
            if e.info.addr != info.addr {
                // Keep the address we verified; a second address for the same
                // id is either a NAT rebinding or someone spoofing the id.
                return InsertOutcome::Rejected;
            }
            e.last_response = now;
            e.failures = 0;
            let i = self.bucket_index(&info.id);
            if let Some(b) = self.buckets.get_mut(i) {
                b.last_changed = now;
            }
            return InsertOutcome::Updated;
        }
        if self.ip_count(info.addr.ip()) >= self.cfg.max_nodes_per_ip {
            return InsertOutcome::Rejected;
        }
        // At most 160 splits can happen; the bound keeps the loop finite.
        for _ in 0..=160 {
            let i = self.bucket_index(&info.id);
            let count = self.buckets.len();
            let last = count - 1;
            let (k, cfg) = (self.cfg.k, self.cfg.clone());
            let Some(b) = self.buckets.get_mut(i) else {
                return InsertOutcome::Rejected;
            };
            if b.nodes.len() < k {
                b.replacements.retain(|e| e.info.id != info.id);
                b.nodes.push(NodeEntry::new(info, now));
                b.last_changed = now;
                Self::count_ip(&mut self.per_ip, Some(info.addr.ip()), None);
                return InsertOutcome::Added;
            }
            if let Some(bad) = b
                .nodes
                .iter()
                .position(|e| e.state(now, &cfg) == NodeState::Bad)
            {
                b.replacements.retain(|e| e.info.id != info.id);
                if let Some(slot) = b.nodes.get_mut(bad) {
                    let old = std::mem::replace(slot, NodeEntry::new(info, now));
                    Self::count_ip(
                        &mut self.per_ip,
                        Some(info.addr.ip()),
                        Some(old.info.addr.ip()),
                    );
                }
                b.last_changed = now;
                return InsertOutcome::Added;
            }
            if i == last && count < 160 {
                self.split_last(now);
                continue;
            }
            b.replacements.retain(|e| e.info.id != info.id);
            if b.replacements.len() >= k {
                b.replacements.remove(0);
            }
            b.replacements.push(NodeEntry::new(info, now));
            let ping = b
                .nodes
                .iter()
                .filter(|e| e.state(now, &cfg) == NodeState::Questionable)
                .min_by_key(|e| e.last_response)
                .map(|e| e.info);
            return InsertOutcome::Cached { ping };
        }
        InsertOutcome::Rejected
    }

    /// Splits the last bucket: ids sharing more bits with ours move to a new one.
    fn split_last(&mut self, now: Instant) {
        let i = self.buckets.len() - 1;
        let own = self.own_id;
        let Some(old) = self.buckets.get_mut(i) else {
            return;
        };
        let mut new = Bucket::new(now);
        new.last_changed = old.last_changed;
        let moves = |e: &NodeEntry| own.common_prefix_len(&e.info.id) > i;
        let (far, near): (Vec<_>, Vec<_>) = old.nodes.drain(..).partition(|e| !moves(e));
        old.nodes = far;
        new.nodes = near;
        let (far, near): (Vec<_>, Vec<_>) = old.replacements.drain(..).partition(|e| !moves(e));
        old.replacements = far;
        new.replacements = near;
        self.buckets.push(new);
    }

    /// Whether a node `id` at `ip` that answered now would be stored (not a
    /// replacement-cache entry): used to decide whether to ping a stranger.
    pub fn has_room_for(&self, id: &NodeId, ip: IpAddr, now: Instant) -> bool {
        if *id == self.own_id
            || self.get(id).is_some()
            || self.ip_count(ip) >= self.cfg.max_nodes_per_ip
        {
            return false;
        }
        let i = self.bucket_index(id);
        let Some(b) = self.buckets.get(i) else {
            return false;
        };
        b.nodes.len() < self.cfg.k
            || (i + 1 == self.buckets.len() && self.buckets.len() < 160)
            || b.nodes
                .iter()
                .any(|e| e.state(now, &self.cfg) == NodeState::Bad)
    }

    /// Records that `id` (at `addr`) sent us a query: a known node stays good.
    pub fn heard_query(&mut self, id: &NodeId, addr: SocketAddr, now: Instant) -> bool {
        match self.get_mut(id) {
            Some(e) if e.info.addr == addr => {
                e.last_query = Some(now);
                true
            }
            _ => false,
        }
    }

    /// Records that a query to `id` timed out. A node that became bad is
    /// replaced by the newest node of its bucket's replacement cache.
    pub fn failed(&mut self, id: &NodeId, now: Instant) {
        let cfg = self.cfg.clone();
        let i = self.bucket_index(id);
        let Some(b) = self.buckets.get_mut(i) else {
            return;
        };
        let Some(pos) = b.nodes.iter().position(|e| e.info.id == *id) else {
            b.replacements.retain(|e| e.info.id != *id);
            return;
        };
        let bad = match b.nodes.get_mut(pos) {
            Some(e) => {
                e.failures = e.failures.saturating_add(1);
                e.state(now, &cfg) == NodeState::Bad
            }
            None => false,
        };
        if !bad {
            return;
        }
        // The newest replacement whose IP still has room takes the slot.
        let max = self.cfg.max_nodes_per_ip;
        let per_ip = &mut self.per_ip;
        let Some(old_ip) = b.nodes.get(pos).map(|e| e.info.addr.ip()) else {
            return;
        };
        let fits = |e: &NodeEntry| {
            let ip = e.info.addr.ip();
            ip == old_ip || per_ip.get(&ip).copied().unwrap_or(0) < max
        };
        if let Some(r) = b.replacements.iter().rposition(fits) {
            let r = b.replacements.remove(r);
            let new_ip = r.info.addr.ip();
            if let Some(slot) = b.nodes.get_mut(pos) {
                *slot = r;
                Self::count_ip(per_ip, Some(new_ip), Some(old_ip));
            }
            b.last_changed = now;
        }
    }

    /// Up to `n` non-bad nodes closest to `target`, nearest first.
    pub fn closest(&self, target: &NodeId, n: usize) -> Vec<NodeInfo> {
        self.closest_matching(target, n, |_| true)
    }

    /// Up to `n` non-bad nodes closest to `target` for which `keep` holds.
    ///
    /// Reads only the buckets that can hold them: with `c` the prefix `target`
    /// shares with our id, bucket `c` holds the nearest ids (they agree with
    /// `target` on bit `c`), then every bucket past `c` (all at distances with
    /// leading bit `c`), then buckets `c-1`, `c-2`, ... each strictly farther
    /// than the one before.
    pub fn closest_matching(
        &self,
        target: &NodeId,
        n: usize,
        keep: impl Fn(&NodeInfo) -> bool,
    ) -> Vec<NodeInfo> {
        if n == 0 {
            return Vec::new();
        }
        let c = self.bucket_index(target);
        let mut v: Vec<(crate::id::Distance, NodeInfo)> = Vec::with_capacity(n * 2);
        let take = |v: &mut Vec<(crate::id::Distance, NodeInfo)>, b: &Bucket| {
            for e in &b.nodes {
                if e.failures < self.cfg.max_failures && keep(&e.info) {
                    v.push((target.distance(&e.info.id), e.info));
                }
            }
        };
        if let Some(b) = self.buckets.get(c) {
            take(&mut v, b);
        }
        if v.len() < n {
            for b in self.buckets.iter().skip(c + 1) {
                take(&mut v, b);
            }
        }
        for i in (0..c).rev() {
            if v.len() >= n {
                break;
            }
            if let Some(b) = self.buckets.get(i) {
                take(&mut v, b);
            }
        }
        v.sort_unstable_by_key(|a| a.0);
        v.truncate(n);
        v.into_iter().map(|(_, i)| i).collect()
    }

    /// Random targets for buckets unchanged for `refresh_after` (BEP 5: "Buckets
    /// that have not been changed in 15 minutes should be refreshed"); marks them
    /// refreshed now.
    pub fn refresh_targets(&mut self, now: Instant, rng: &mut impl Rng) -> Vec<NodeId> {
        let mut out = Vec::new();
        for (i, b) in self.buckets.iter_mut().enumerate() {
            if now.saturating_duration_since(b.last_changed) >= self.cfg.refresh_after {
                b.last_changed = now;
                out.push(self.own_id.random_in_bucket(i, rng));
            }
        }
        out
    }

    /// The earliest time a bucket will need a refresh.
    pub fn next_refresh(&self) -> Option<Instant> {
        self.buckets
            .iter()
            .map(|b| b.last_changed + self.cfg.refresh_after)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, SocketAddrV4};

    fn node(id: [u8; 20], ip: u32) -> NodeInfo {
        NodeInfo {
            id: NodeId(id),
            addr: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), 6881)),
        }
    }

    fn id_with_first(b: u8) -> [u8; 20] {
        let mut id = [0u8; 20];
        id[0] = b;
        id[19] = b;
        id
    }

    #[test]
    fn own_id_and_duplicates() {
        let now = Instant::now();
        let mut t = RoutingTable::new(NodeId([0; 20]), RoutingConfig::default(), now);
        assert_eq!(t.insert(node([0; 20], 1), now), InsertOutcome::Rejected);
        assert_eq!(t.insert(node([1; 20], 1), now), InsertOutcome::Added);
        assert_eq!(t.insert(node([1; 20], 1), now), InsertOutcome::Updated);
        // Same id, new address: kept at the verified address.
        assert_eq!(t.insert(node([1; 20], 2), now), InsertOutcome::Rejected);
        // One entry per IP by default.
        assert_eq!(t.insert(node([2; 20], 1), now), InsertOutcome::Rejected);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn far_bucket_fills_then_caches_and_replaces_bad() {
        let now = Instant::now();
        let cfg = RoutingConfig::default();
        let mut t = RoutingTable::new(NodeId([0; 20]), cfg, now);
        // 0x80.. ids share 0 bits with ours: all go to bucket 0 once split.
        for i in 0..8u8 {
            assert_eq!(
                t.insert(node(id_with_first(0x80 | i), i as u32 + 1), now),
                InsertOutcome::Added
            );
        }
        let later = now + GOOD_PERIOD;
        let out = t.insert(node(id_with_first(0x90), 100), later);
        assert!(
            matches!(out, InsertOutcome::Cached { ping: Some(_) }),
            "{out:?}"
        );
        assert_eq!(t.bucket(0).unwrap().1.len(), 1);
        // Two failures make a node bad; the cached node takes its place.
        let victim = NodeId(id_with_first(0x83));
        t.failed(&victim, later);
        assert!(t.get(&victim).is_some());
        t.failed(&victim, later);
        assert!(t.get(&victim).is_none());
        assert!(t.get(&NodeId(id_with_first(0x90))).is_some());
        assert_eq!(t.len(), 8);
    }

    #[test]
    fn states_follow_the_15_minute_rule() {
        let now = Instant::now();
        let cfg = RoutingConfig::default();
        let mut e = NodeEntry::new(node([1; 20], 1), now);
        assert_eq!(e.state(now, &cfg), NodeState::Good);
        assert_eq!(e.state(now + GOOD_PERIOD, &cfg), NodeState::Questionable);
        e.last_query = Some(now + GOOD_PERIOD);
        assert_eq!(e.state(now + GOOD_PERIOD, &cfg), NodeState::Good);
        e.failures = 2;
        assert_eq!(e.state(now, &cfg), NodeState::Bad);
    }

    #[test]
    fn refresh_targets_land_in_idle_buckets() {
        let now = Instant::now();
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
        let mut t = RoutingTable::new(NodeId([0; 20]), RoutingConfig::default(), now);
        assert!(t.refresh_targets(now, &mut rng).is_empty());
        let targets = t.refresh_targets(now + GOOD_PERIOD, &mut rng);
        assert_eq!(targets.len(), 1);
        assert!(t.refresh_targets(now + GOOD_PERIOD, &mut rng).is_empty());
        assert_eq!(t.next_refresh(), Some(now + GOOD_PERIOD * 2));
    }

    #[test]
    fn closest_is_sorted() {
        let now = Instant::now();
        let mut t = RoutingTable::new(NodeId([0; 20]), RoutingConfig::default(), now);
        for i in 1..=20u8 {
            t.insert(node(id_with_first(i.wrapping_mul(37)), i as u32), now);
        }
        let target = NodeId(id_with_first(0x42));
        let c = t.closest(&target, 8);
        assert_eq!(c.len(), 8);
        assert!(
            c.windows(2)
                .all(|w| target.distance(&w[0].id) <= target.distance(&w[1].id))
        );
    }

    proptest! {
        #[test]
        fn closest_matches_brute_force(own: [u8; 20], ids in proptest::collection::vec(any::<[u8; 20]>(), 0..200), target: [u8; 20], n in 0usize..20) {
            let now = Instant::now();
            let mut t = RoutingTable::new(NodeId(own), RoutingConfig::default(), now);
            for (i, id) in ids.into_iter().enumerate() {
                let mut id = id;
                if i % 2 == 0 { id[..2].copy_from_slice(&own[..2]); }
                t.insert(node(id, i as u32), now);
            }
            let target = NodeId(target);
            let mut all: Vec<NodeInfo> = t.entries().map(|e| e.info).collect();
            all.sort_by_key(|i| target.distance(&i.id));
            all.truncate(n);
            prop_assert_eq!(t.closest(&target, n), all);
        }
    }

    proptest! {
        #[test]
        fn invariants_hold_under_random_insertions(
            own: [u8; 20],
            ops in proptest::collection::vec((any::<[u8; 20]>(), 0u32..64, any::<bool>(), 0u64..2000), 1..400),
            per_ip in 1usize..4,
        ) {
            let start = Instant::now();
            let cfg = RoutingConfig { max_nodes_per_ip: per_ip, ..RoutingConfig::default() };
            let own = NodeId(own);
            let mut t = RoutingTable::new(own, cfg.clone(), start);
            for (id, ip, fail, secs) in ops {
                let now = start + Duration::from_secs(secs);
                // Some ids near ours, so the table splits deeply.
                let mut id = id;
                if ip % 3 == 0 { id[..4].copy_from_slice(&own.0[..4]); }
                let info = node(id, ip);
                if fail { t.failed(&info.id, now); } else { t.insert(info, now); }
                let last = t.bucket_count() - 1;
                let mut seen = std::collections::HashSet::new();
                let mut per = std::collections::HashMap::new();
                for i in 0..t.bucket_count() {
                    let (nodes, repl) = t.bucket(i).unwrap();
                    prop_assert!(nodes.len() <= cfg.k);
                    prop_assert!(repl.len() <= cfg.k);
                    for e in nodes.iter().chain(repl) {
                        let cpl = own.common_prefix_len(&e.info.id);
                        prop_assert!(e.info.id != own);
                        if i < last { prop_assert_eq!(cpl, i); } else { prop_assert!(cpl >= last); }
                    }
                    for e in nodes {
                        prop_assert!(seen.insert(e.info.id), "duplicate id");
                        *per.entry(e.info.addr.ip()).or_insert(0usize) += 1;
                    }
                }
                prop_assert!(per.values().all(|&n| n <= per_ip));
                prop_assert_eq!(&per, &t.per_ip, "per-IP counts track the entries");
                prop_assert!(t.bucket_count() <= 160);
            }
        }
    }
}
