//! The sans-IO DHT node: datagrams and `Instant`s in; datagrams, events and
//! deadlines out. It owns no socket, no clock and no global RNG.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferro_core::InfoHash;
use rand::Rng;
use rand::rngs::StdRng;

use crate::config::DhtConfig;
use crate::id::{NodeId, NodeInfo};
use crate::krpc::{self, Body, Message, Query, Response};
use crate::lookup::{Lookup, LookupId, LookupKind, LookupStats};
use crate::peer_store::PeerStore;
use crate::persist::SavedState;
use crate::rate_limit::RateLimiter;
use crate::routing::{InsertOutcome, RoutingTable};
use crate::stats::NodeStats;
use crate::token::TokenSecret;

mod serve;

/// How often the node expires stored peers, rotates token secrets and checks
/// for idle buckets.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);
/// Delay before retrying a bootstrap that left the routing table empty.
const REBOOTSTRAP_AFTER: Duration = Duration::from_secs(5);

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub to: SocketAddr,
    /// The encoded KRPC message.
    pub payload: Vec<u8>,
}

/// Something that happened, for the node's user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A get_peers or announce lookup found peers it had not reported before.
    Peers {
        /// The lookup.
        lookup: LookupId,
        /// The torrent.
        info_hash: InfoHash,
        /// The new peers.
        peers: Vec<SocketAddr>,
    },
    /// A lookup finished.
    LookupDone {
        /// The lookup.
        lookup: LookupId,
        /// What it was for.
        kind: LookupKind,
        /// Its target id or info-hash.
        target: NodeId,
        /// The k closest nodes that answered, nearest first.
        closest: Vec<NodeInfo>,
        /// Every peer found (get_peers and announce lookups).
        peers: Vec<SocketAddr>,
        /// Costs and rounds.
        stats: LookupStats,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Ping,
    Lookup(LookupId),
    Announce(LookupId),
}

#[derive(Clone, Debug)]
struct Pending {
    to: SocketAddr,
    expect: Option<NodeId>,
    purpose: Purpose,
}

/// The node core. See the crate docs for an example.
pub struct Node {
    cfg: DhtConfig,
    id: NodeId,
    rng: StdRng,
    table: RoutingTable,
    tokens: TokenSecret,
    store: PeerStore,
    limiter: Option<RateLimiter>,
    pending: HashMap<u32, Pending>,
    pinging: HashSet<SocketAddr>,
    /// Query deadlines: `(when, transaction, stall-only)`.
    deadlines: BinaryHeap<Reverse<(Instant, u32, bool)>>,
    next_tid: u32,
    lookups: HashMap<LookupId, Lookup>,
    next_lookup: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    next_maintenance: Instant,
    /// Bootstrap lookups whose end triggers a refresh of the farther buckets.
    bootstraps: HashSet<LookupId>,
    /// The last bootstrap addresses, retried while the table stays empty.
    bootstrap_addrs: Vec<SocketAddr>,
    /// When to retry the bootstrap.
    rebootstrap_at: Option<Instant>,
    stats: NodeStats,
}

impl Node {
    /// A node with id `id`, drawing all randomness (transaction ids, token
    /// secrets, refresh targets) from `rng`.
    pub fn new(cfg: DhtConfig, id: NodeId, mut rng: StdRng, now: Instant) -> Self {
        let tokens = TokenSecret::new(&mut rng, now);
        let next_tid = rng.random();
        Node {
            table: RoutingTable::new(id, cfg.routing.clone(), now),
            store: PeerStore::new(cfg.peer_store.clone()),
            limiter: cfg.rate_limit.clone().map(RateLimiter::new),
            cfg,
            id,
            rng,
            tokens,
            pending: HashMap::new(),
            pinging: HashSet::new(),
            deadlines: BinaryHeap::new(),
            next_tid,
            lookups: HashMap::new(),
            next_lookup: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            next_maintenance: now + MAINTENANCE_EVERY,
            bootstraps: HashSet::new(),
            bootstrap_addrs: Vec::new(),
            rebootstrap_at: None,
            stats: NodeStats::default(),
        }
    }

    /// Our node id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The settings.
    pub fn config(&self) -> &DhtConfig {
        &self.cfg
    }

    /// The routing table (read-only).
    pub fn routing_table(&self) -> &RoutingTable {
        &self.table
    }

    /// The peers announced to us.
    pub fn peer_store(&self) -> &PeerStore {
        &self.store
    }

    /// Datagrams sent and received so far.
    pub fn message_counts(&self) -> (u64, u64) {
        (self.stats.datagrams_sent, self.stats.datagrams_received)
    }

    /// What the node has counted: queries served and refused, and why.
    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// Lookups in progress.
    pub fn active_lookups(&self) -> usize {
        self.lookups.len()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let q = self.deadlines.peek().map(|Reverse((t, _, _))| *t);
        let t = q.map_or(self.next_maintenance, |t| t.min(self.next_maintenance));
        Some(self.rebootstrap_at.map_or(t, |r| r.min(t)))
    }

    /// The nodes worth saving for the next start (our id and the table).
    pub fn save_state(&self) -> SavedState {
        SavedState {
            id: self.id,
            nodes: self.table.entries().map(|e| e.info).collect(),
        }
    }

    /// Pings `addr` so that, if it answers, it joins the routing table. Use it
    /// for saved nodes, bootstrap nodes and BitTorrent `port` messages (BEP 5).
    pub fn add_node(&mut self, addr: SocketAddr, now: Instant) {
        self.ping(addr, None, now);
    }

    fn ping(&mut self, addr: SocketAddr, expect: Option<NodeId>, now: Instant) {
        if addr.port() == 0 || !self.pinging.insert(addr) {
            return;
        }
        let q = Query::Ping { id: self.id };
        if !self.send_query(addr, q, expect, Purpose::Ping, now) {
            self.pinging.remove(&addr);
        }
    }

    /// Starts a find_node lookup for our own id, from the routing table plus
    /// `bootstrap` addresses (BEP 5 "bootstrapping"). Completion is reported
    /// by [`Event::LookupDone`].
    ///
    /// When it ends, every bucket farther than our closest neighbour is
    /// refreshed with a lookup of a random id in its range (Kademlia §2.3:
    /// "it then refreshes all k-buckets further away than its closest
    /// neighbor"), so a new node quickly knows nodes across the whole space.
    pub fn bootstrap(&mut self, bootstrap: &[SocketAddr], now: Instant) -> LookupId {
        let lid = LookupId(self.next_lookup);
        self.bootstraps.insert(lid);
        self.bootstrap_addrs = bootstrap.to_vec();
        self.rebootstrap_at = None;
        let started = self.start_lookup(LookupKind::FindNode, self.id, bootstrap, now);
        self.after_lookup(now);
        started
    }

    /// Starts the bucket refreshes of finished bootstrap lookups.
    fn after_lookup(&mut self, now: Instant) {
        let finished: Vec<LookupId> = self
            .bootstraps
            .iter()
            .filter(|l| !self.lookups.contains_key(l))
            .copied()
            .collect();
        for lid in finished {
            self.bootstraps.remove(&lid);
            if self.table.is_empty() {
                // Nobody answered (loss, or the routers are down): try again.
                self.rebootstrap_at = Some(now + REBOOTSTRAP_AFTER);
                continue;
            }
            let buckets = self.table.bucket_count();
            for i in 0..buckets.saturating_sub(1) {
                // Full buckets need no help.
                if self
                    .table
                    .bucket(i)
                    .is_some_and(|(n, _)| n.len() >= self.cfg.routing.k)
                {
                    continue;
                }
                let target = self.id.random_in_bucket(i, &mut self.rng);
                self.find_node(target, now);
            }
        }
    }

    /// Starts a find_node lookup for `target`.
    pub fn find_node(&mut self, target: NodeId, now: Instant) -> LookupId {
        self.start_lookup(LookupKind::FindNode, target, &[], now)
    }

    /// Starts a get_peers lookup; peers arrive in [`Event::Peers`].
    pub fn get_peers(&mut self, info_hash: InfoHash, now: Instant) -> LookupId {
        self.start_lookup(LookupKind::GetPeers, info_hash.into(), &[], now)
    }

    /// Starts a get_peers lookup followed by announce_peer to the closest
    /// nodes that gave a token. `port: None` asks for `implied_port`.
    pub fn announce(&mut self, info_hash: InfoHash, port: Option<u16>, now: Instant) -> LookupId {
        let kind = LookupKind::Announce {
            port: port.unwrap_or(0),
            implied_port: port.is_none(),
        };
        self.start_lookup(kind, info_hash.into(), &[], now)
    }

    fn start_lookup(
        &mut self,
        kind: LookupKind,
        target: NodeId,
        unknown: &[SocketAddr],
        now: Instant,
    ) -> LookupId {
        let lid = LookupId(self.next_lookup);
        self.next_lookup += 1;
        let k = self.cfg.routing.k;
        let start = if self.lookups.len() >= self.cfg.max_lookups {
            Vec::new()
        } else {
            self.table.closest(&target, k)
        };
        let unknown = if self.lookups.len() >= self.cfg.max_lookups {
            &[][..]
        } else {
            unknown
        };
        let restrict = self.cfg.routing.restrict_routing_ips;
        let lookup = Lookup::new(kind, target, &start, unknown, k, self.cfg.alpha, restrict);
        self.lookups.insert(lid, lookup);
        self.drive_lookup(lid, now);
        lid
    }

    fn allocate_tid(&mut self) -> u32 {
        // Bounded: `pending` holds at most `max_pending` ids.
        loop {
            self.next_tid = self.next_tid.wrapping_add(1);
            if !self.pending.contains_key(&self.next_tid) {
                return self.next_tid;
            }
        }
    }

    fn send_query(
        &mut self,
        to: SocketAddr,
        query: Query,
        expect: Option<NodeId>,
        purpose: Purpose,
        now: Instant,
    ) -> bool {
        if self.pending.len() >= self.cfg.max_pending {
            return false;
        }
        let tid = self.allocate_tid();
        let msg = Message {
            transaction_id: tid.to_be_bytes().to_vec(),
            version: self.cfg.version.clone(),
            read_only: self.cfg.read_only,
            body: Body::Query(query),
        };
        self.pending.insert(
            tid,
            Pending {
                to,
                expect,
                purpose,
            },
        );
        self.deadlines
            .push(Reverse((now + self.cfg.query_timeout, tid, false)));
        if matches!(purpose, Purpose::Lookup(_)) && self.cfg.query_stall < self.cfg.query_timeout {
            self.deadlines
                .push(Reverse((now + self.cfg.query_stall, tid, true)));
        }
        self.transmit(to, krpc::encode(&msg));
        true
    }

    fn transmit(&mut self, to: SocketAddr, payload: Vec<u8>) {
        self.stats.datagrams_sent += 1;
        self.transmits.push_back(Transmit { to, payload });
    }

    /// Sends the lookup's next queries, or finishes it.
    fn drive_lookup(&mut self, lid: LookupId, now: Instant) {
        let Some(l) = self.lookups.get_mut(&lid) else {
            return;
        };
        if l.announcing.is_some() {
            if l.announcing == Some(0) {
                self.finish_lookup(lid);
            }
            return;
        }
        let (kind, target) = (l.kind, l.target);
        let queries = l.next_queries();
        for (expect, addr) in queries {
            let q = match kind {
                LookupKind::FindNode => Query::FindNode {
                    id: self.id,
                    target,
                    want: None,
                },
                LookupKind::GetPeers | LookupKind::Announce { .. } => Query::GetPeers {
                    id: self.id,
                    info_hash: target,
                    want: None,
                },
            };
            if !self.send_query(addr, q, expect, Purpose::Lookup(lid), now)
                && let Some(l) = self.lookups.get_mut(&lid)
            {
                l.on_failure(addr);
            }
        }
        let Some(l) = self.lookups.get_mut(&lid) else {
            return;
        };
        if !l.search_done() {
            return;
        }
        if let LookupKind::Announce { port, implied_port } = kind {
            let targets = l.announce_targets();
            l.announcing = Some(0);
            let mut sent = 0;
            for (node, token) in targets {
                let q = Query::AnnouncePeer {
                    id: self.id,
                    info_hash: target,
                    port,
                    token,
                    implied_port,
                };
                if self.send_query(node.addr, q, Some(node.id), Purpose::Announce(lid), now) {
                    sent += 1;
                }
            }
            if let Some(l) = self.lookups.get_mut(&lid) {
                l.announcing = Some(sent);
            }
            if sent > 0 {
                return;
            }
        }
        self.finish_lookup(lid);
    }

    fn finish_lookup(&mut self, lid: LookupId) {
        if let Some(l) = self.lookups.remove(&lid) {
            self.stats.lookup_nodes_rejected_ip += u64::from(l.stats.restricted_ip);
            self.events.push_back(Event::LookupDone {
                lookup: lid,
                kind: l.kind,
                target: l.target,
                closest: l.closest(),
                peers: l.peers,
                stats: l.stats,
            });
        }
    }

    /// Handles one datagram from `from`. Malformed input is dropped or
    /// answered with a KRPC error; it never panics.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.stats.datagrams_received += 1;
        let msg = match krpc::decode(bytes) {
            Ok(m) => m,
            Err(e) => {
                // Nothing else happens: no table, store or lookup change.
                self.stats.malformed += 1;
                if let Some((tid, code)) = krpc::error_reply_for(bytes, &e)
                    && self.may_serve(from, now)
                {
                    self.send_error(from, tid, code, &e.to_string());
                }
                return;
            }
        };
        match msg.body {
            Body::Query(q) => {
                self.handle_query(now, from, msg.transaction_id, msg.read_only, q, bytes.len())
            }
            Body::Response(r) => {
                self.handle_response(now, from, &msg.transaction_id, msg.read_only, r)
            }
            Body::Error(_) => self.handle_error(now, from, &msg.transaction_id),
        }
        if !self.bootstraps.is_empty() {
            self.after_lookup(now);
        }
    }

    fn take_pending(&mut self, from: SocketAddr, tid: &[u8]) -> Option<Pending> {
        let tid = <[u8; 4]>::try_from(tid).ok().map(u32::from_be_bytes);
        // An answer from another address than we asked is ignored (spoofing).
        let Some(tid) = tid.filter(|t| self.pending.get(t).is_some_and(|p| p.to == from)) else {
            self.stats.unexpected_responses += 1;
            return None;
        };
        let p = self.pending.remove(&tid)?;
        if p.purpose == Purpose::Ping {
            self.pinging.remove(&p.to);
        }
        Some(p)
    }

    fn handle_response(
        &mut self,
        now: Instant,
        from: SocketAddr,
        tid: &[u8],
        read_only: bool,
        r: Response,
    ) {
        let Some(p) = self.take_pending(from, tid) else {
            return;
        };
        if !read_only {
            let outcome = self.table.insert(
                NodeInfo {
                    id: r.id,
                    addr: from,
                },
                now,
            );
            match outcome {
                InsertOutcome::Cached { ping: Some(n) } => self.ping(n.addr, Some(n.id), now),
                InsertOutcome::RestrictedIp => self.stats.nodes_rejected_ip += 1,
                _ => {}
            }
        }
        match p.purpose {
            Purpose::Ping => {}
            Purpose::Lookup(lid) => {
                let own = self.id;
                let Some(l) = self.lookups.get_mut(&lid) else {
                    return;
                };
                // Follow only nodes of the family we talk on: the responder's.
                let same_family = if from.is_ipv4() { &r.nodes } else { &r.nodes6 };
                let nodes = same_family.iter().copied().filter(|n| n.id != own);
                let fresh = l.on_response(from, r.id, nodes, &r.values, r.token);
                if !fresh.is_empty() {
                    let info_hash = l.target.into();
                    self.events.push_back(Event::Peers {
                        lookup: lid,
                        info_hash,
                        peers: fresh,
                    });
                }
                self.drive_lookup(lid, now);
            }
            Purpose::Announce(lid) => self.announce_answered(lid, true, now),
        }
    }

    fn announce_answered(&mut self, lid: LookupId, ok: bool, now: Instant) {
        if let Some(l) = self.lookups.get_mut(&lid) {
            if ok {
                l.stats.announced += 1;
            }
            l.announcing = l.announcing.map(|n| n.saturating_sub(1));
            self.drive_lookup(lid, now);
        }
    }

    fn handle_error(&mut self, now: Instant, from: SocketAddr, tid: &[u8]) {
        let Some(p) = self.take_pending(from, tid) else {
            return;
        };
        match p.purpose {
            Purpose::Ping => {}
            Purpose::Lookup(lid) => {
                if let Some(l) = self.lookups.get_mut(&lid) {
                    l.on_failure(from);
                }
                self.drive_lookup(lid, now);
            }
            Purpose::Announce(lid) => self.announce_answered(lid, false, now),
        }
    }

    /// Expires queries past their deadline and runs periodic maintenance.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((t, tid, stall))) = self.deadlines.peek().copied() {
            if t > now {
                break;
            }
            self.deadlines.pop();
            if stall {
                if let Some(Pending {
                    to,
                    purpose: Purpose::Lookup(lid),
                    ..
                }) = self.pending.get(&tid).cloned()
                {
                    if let Some(l) = self.lookups.get_mut(&lid) {
                        l.on_stall(to);
                    }
                    self.drive_lookup(lid, now);
                }
                continue;
            }
            let Some(p) = self.pending.remove(&tid) else {
                continue;
            };
            if let Some(id) = p.expect {
                self.table.failed(&id, now);
            }
            match p.purpose {
                Purpose::Ping => {
                    self.pinging.remove(&p.to);
                }
                Purpose::Lookup(lid) => {
                    if let Some(l) = self.lookups.get_mut(&lid) {
                        l.on_failure(p.to);
                    }
                    self.drive_lookup(lid, now);
                }
                Purpose::Announce(lid) => self.announce_answered(lid, false, now),
            }
        }
        if let Some(at) = self.rebootstrap_at
            && now >= at
        {
            self.rebootstrap_at = None;
            if self.table.is_empty() && !self.bootstrap_addrs.is_empty() {
                let addrs = std::mem::take(&mut self.bootstrap_addrs);
                self.bootstrap(&addrs, now);
            }
        }
        if now >= self.next_maintenance {
            self.next_maintenance = now + MAINTENANCE_EVERY;
            self.tokens.maybe_rotate(now, &mut self.rng);
            self.store.expire(now);
            if !self.table.is_empty() {
                for target in self.table.refresh_targets(now, &mut self.rng) {
                    self.find_node(target, now);
                }
            }
        }
        if !self.bootstraps.is_empty() {
            self.after_lookup(now);
        }
    }
}

#[cfg(test)]
mod tests;
