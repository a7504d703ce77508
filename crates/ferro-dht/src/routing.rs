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
//!
//! # IP restriction (eclipse defence, issue #11)
//!
//! With [`RoutingConfig::restrict_routing_ips`] on (the default), the table
//! holds at most one node per IP address overall, and at most
//! [`RoutingConfig::max_per_subnet`] nodes of one /24 (IPv4) or /64 (IPv6)
//! in any one bucket, in the nodes and in the replacement cache alike. One
//! host answering with a thousand node ids therefore holds one slot, and a
//! rented /24 at most two per bucket; the rest of every bucket stays with
//! other hosts. libtorrent applies the same two rules (`dht_restrict_routing_ips`:
//! one entry per IP, and no two of a bucket in one /24). A node that answers
//! from the address of an entry but with a new id has restarted with a new
//! id: the new id replaces the old entry. From another port of the same IP it
//! is refused while the old entry is not bad. BEP 42 (ids derived from the
//! IP) is not enforced: most of the network still does not follow it.
//!
//! Everything on one test host shares 127.0.0.1, so simulations and loopback
//! tests turn the restriction off ([`DhtConfig::loopback`](crate::DhtConfig::loopback)).

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
    /// At most one entry per IP address, and at most `max_per_subnet` per
    /// /24 (/64) in a bucket, so one host cannot fill the table (see the
    /// module docs). Default on; loopback tests with many nodes on 127.0.0.1
    /// turn it off.
    pub restrict_routing_ips: bool,
    /// Entries of one /24 (IPv4) or /64 (IPv6) in one bucket at most, when
    /// `restrict_routing_ips` is on (default 2).
    pub max_per_subnet: usize,
    /// Failed queries in a row after which a node is bad.
    pub max_failures: u8,
    /// A bucket not changed for this long gets a refresh lookup (BEP 5: 15 min).
    pub refresh_after: Duration,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            k: 8,
            restrict_routing_ips: true,
            max_per_subnet: 2,
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
    /// Not stored: our own id, or a known id at a new address.
    Rejected,
    /// Not stored: its IP already has an entry, or its /24 (/64) has
    /// `max_per_subnet` in the bucket (`restrict_routing_ips`).
    RestrictedIp,
}

/// The /24 of an IPv4 address or the /64 of an IPv6 one, as a comparable key.
fn subnet(ip: IpAddr) -> (bool, u64) {
    match ip {
        IpAddr::V4(a) => (false, u64::from(u32::from(a) >> 8)),
        IpAddr::V6(a) => (true, (u128::from(a) >> 64) as u64),
    }
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

    /// Whether the IP restriction lets a node at `ip` into bucket `i`'s nodes
    /// (`cache`: its replacement cache instead), ignoring the entry `except`.
    fn ip_allowed(&self, ip: IpAddr, i: usize, cache: bool, except: Option<&NodeId>) -> bool {
        if !self.cfg.restrict_routing_ips {
            return true;
        }
        let Some(b) = self.buckets.get(i) else {
            return false;
        };
        let others = |e: &&NodeEntry| Some(&e.info.id) != except;
        let held = b.nodes.iter().filter(|e| e.info.addr.ip() == ip).count();
        if !cache && self.ip_count(ip) > held {
            // An entry in another bucket.
            return false;
        }
        let list = if cache { &b.replacements } else { &b.nodes };
        let net = subnet(ip);
        let mut same_net = 0;
        for e in list.iter().filter(others) {
            if e.info.addr.ip() == ip {
                return false;
            }
            if subnet(e.info.addr.ip()) == net {
                same_net += 1;
            }
        }
        same_net < self.cfg.max_per_subnet
    }

    /// Removes the entry `id` (not its replacement-cache entries).
    fn remove(&mut self, id: &NodeId) -> Option<NodeEntry> {
        let i = self.bucket_index(id);
        let b = self.buckets.get_mut(i)?;
        let pos = b.nodes.iter().position(|e| e.info.id == *id)?;
        let old = b.nodes.remove(pos);
        Self::count_ip(&mut self.per_ip, None, Some(old.info.addr.ip()));
        Some(old)
    }

    /// Makes room for `info` under the IP restriction: an entry at the same
    /// address with another id (the node restarted with a new id) or a bad
    /// entry of the same IP is removed. Returns false if the IP still holds
    /// a live entry elsewhere.
    fn displace_same_ip(&mut self, info: &NodeInfo, now: Instant) -> bool {
        let ip = info.addr.ip();
        if self.ip_count(ip) == 0 {
            return true;
        }
        let old = self
            .entries()
            .find(|e| e.info.addr.ip() == ip)
            .map(|e| (e.info, e.state(now, &self.cfg)));
        match old {
            Some((old, state)) if old.addr == info.addr || state == NodeState::Bad => {
                self.remove(&old.id);
                true
            }
            _ => !self.cfg.restrict_routing_ips,
        }
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
        if self.cfg.restrict_routing_ips && !self.displace_same_ip(&info, now) {
            return InsertOutcome::RestrictedIp;
        }
        // At most 160 splits can happen; the bound keeps the loop finite.
        for _ in 0..=160 {
            let i = self.bucket_index(&info.id);
            let count = self.buckets.len();
            let last = count - 1;
            let (k, cfg) = (self.cfg.k, self.cfg.clone());
            let allowed = self.ip_allowed(info.addr.ip(), i, false, None);
            let cache_allowed = self.ip_allowed(info.addr.ip(), i, true, Some(&info.id));
            let Some(b) = self.buckets.get_mut(i) else {
                return InsertOutcome::Rejected;
            };
            if b.nodes.len() < k {
                if !allowed {
                    // Its /24 already has its share of this bucket.
                    return InsertOutcome::RestrictedIp;
                }
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
                .filter(|_| allowed)
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
            if !allowed || !cache_allowed {
                return InsertOutcome::RestrictedIp;
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

    /// Whether a node `id` at `addr` that answered now would be stored (not
    /// a replacement-cache entry): used to decide whether to ping a stranger.
    /// A new id at the address of an entry would replace it: worth a ping.
    pub fn has_room_for(&self, id: &NodeId, addr: SocketAddr, now: Instant) -> bool {
        if *id == self.own_id || self.get(id).is_some() {
            return false;
        }
        if self.cfg.restrict_routing_ips
            && self.ip_count(addr.ip()) > 0
            && self.entries().any(|e| e.info.addr == addr)
        {
            return true;
        }
        let i = self.bucket_index(id);
        if !self.ip_allowed(addr.ip(), i, false, None) {
            return false;
        }
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
        // The newest replacement the IP restriction admits in the failed
        // node's place takes the slot.
        let candidates: Vec<IpAddr> = b.replacements.iter().map(|r| r.info.addr.ip()).collect();
        let fits: Vec<bool> = candidates
            .into_iter()
            .map(|ip| self.ip_allowed(ip, i, false, Some(id)))
            .collect();
        let Some(b) = self.buckets.get_mut(i) else {
            return;
        };
        let Some(old_ip) = b.nodes.get(pos).map(|e| e.info.addr.ip()) else {
            return;
        };
        if let Some(r) = fits.iter().rposition(|f| *f) {
            let r = b.replacements.remove(r);
            let new_ip = r.info.addr.ip();
            if let Some(slot) = b.nodes.get_mut(pos) {
                *slot = r;
                Self::count_ip(&mut self.per_ip, Some(new_ip), Some(old_ip));
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
mod tests;
