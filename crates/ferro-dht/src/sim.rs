//! An in-process DHT network: N node cores, virtual time, configurable loss
//! and latency, one seed for all randomness — the same seed gives the same run.
//!
//! Each node gets its own address (10.x.y.z:6881, never contacted: no socket
//! exists). [`run`] bootstraps every node from one seed node, measures
//! find_node lookups against the true closest node, then announces an
//! info-hash from one node and looks it up from others.
//!
//! With [`SimConfig::attackers`] > 0, that many sybil ids on one IP address
//! (see [`SYBIL_IP`]) sit next to the announced info-hash and lie to every
//! lookup that reaches them; the report then shows how many honest get_peers
//! still found the announcer, with the IP restriction as configured in
//! [`SimConfig::dht`] (`routing.restrict_routing_ips`).
//!
//! ```
//! let report = ferro_dht::sim::run(&ferro_dht::sim::SimConfig { nodes: 50, ..Default::default() });
//! assert_eq!(report.get_peers_found, report.get_peers_tried);
//! println!("{report}");
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::InfoHash;
use crate::config::DhtConfig;
use crate::id::NodeId;
use crate::lookup::{LookupId, LookupStats};
use crate::node::{Event, Node, Transmit};

mod sybil;
pub use sybil::SYBIL_IP;
use sybil::Sybils;

/// Honest nodes each sybil pings to make itself known: the ones closest to
/// the target, as an attacker who crawled the network would pick.
const SYBIL_REACH: usize = 64;

/// Simulation settings.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Nodes in the network, including the seed node.
    pub nodes: usize,
    /// Seed of every random choice (ids, loss, latency, node RNGs).
    pub seed: u64,
    /// Probability that a datagram is lost (0.0..1.0).
    pub loss: f64,
    /// One-way latency of every datagram, before jitter.
    pub latency: Duration,
    /// Up to this much is added to each datagram's latency, uniformly.
    pub jitter: Duration,
    /// Virtual time between two nodes joining.
    pub join_interval: Duration,
    /// Random find_node lookups measured after the bootstrap.
    pub lookups: usize,
    /// Nodes that look up the announced info-hash.
    pub get_peers: usize,
    /// Fraction of nodes (never the seed) that go offline after the
    /// bootstrap, before the measurements: their routing-table entries
    /// elsewhere go stale and must be failed and replaced.
    pub churn: f64,
    /// Sybil node ids on one IP address around the announced info-hash
    /// (0: no attack).
    pub attackers: usize,
    /// Node settings (bootstrap routers are ignored).
    pub dht: DhtConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            nodes: 1000,
            seed: 1,
            loss: 0.0,
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(30),
            join_interval: Duration::from_millis(10),
            lookups: 100,
            get_peers: 20,
            churn: 0.0,
            attackers: 0,
            dht: DhtConfig {
                bootstrap_nodes: Vec::new(),
                ..DhtConfig::default()
            },
        }
    }
}

/// What a simulation measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimReport {
    /// Nodes simulated.
    pub nodes: usize,
    /// Nodes taken offline after the bootstrap.
    pub offline: usize,
    /// Datagrams sent during the whole run.
    pub datagrams: u64,
    /// Datagrams dropped by the simulated loss.
    pub dropped: u64,
    /// Virtual time the run took.
    pub virtual_time: Duration,
    /// Mean routing-table size after bootstrap.
    pub mean_table_size: f64,
    /// Smallest routing table after bootstrap.
    pub min_table_size: usize,
    /// find_node lookups measured.
    pub lookups: usize,
    /// Lookups whose nearest answer was the true nearest node of the network.
    pub lookups_found_closest: usize,
    /// Mean and largest number of rounds per lookup.
    pub mean_rounds: f64,
    /// Largest number of rounds of one lookup.
    pub max_rounds: u32,
    /// Mean queries sent per lookup.
    pub mean_queries: f64,
    /// Mean datagrams per lookup: its queries plus the answers they drew.
    pub mean_messages: f64,
    /// Mean virtual time per lookup.
    pub mean_lookup_time: Duration,
    /// log2 of the node count, for comparison with the rounds.
    pub log2_nodes: f64,
    /// Nodes that the announce reached (announce_peer answered).
    pub announced_to: u32,
    /// get_peers lookups run after the announce.
    pub get_peers_tried: usize,
    /// Of them, those that found the announcing peer.
    pub get_peers_found: usize,
    /// Sybil ids in the attack (0: none).
    pub attackers: usize,
    /// Routing-table entries of honest nodes that are sybils, summed.
    pub sybil_table_entries: usize,
    /// Honest nodes with at least one sybil in their routing table.
    pub nodes_with_sybils: usize,
    /// `announce_peer` queries the sybils swallowed.
    pub sybil_announces: u64,
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "nodes (offline)            {} ({})",
            self.nodes, self.offline
        )?;
        writeln!(
            f,
            "datagrams (dropped)        {} ({})",
            self.datagrams, self.dropped
        )?;
        writeln!(
            f,
            "virtual time               {:.1} s",
            self.virtual_time.as_secs_f64()
        )?;
        writeln!(
            f,
            "routing table size         mean {:.1}, min {}",
            self.mean_table_size, self.min_table_size
        )?;
        writeln!(
            f,
            "find_node lookups          {} ({} found the true closest node)",
            self.lookups, self.lookups_found_closest
        )?;
        writeln!(
            f,
            "rounds per lookup          mean {:.2}, max {} (log2 N = {:.1})",
            self.mean_rounds, self.max_rounds, self.log2_nodes
        )?;
        writeln!(
            f,
            "queries per lookup         mean {:.1} ({:.1} datagrams with answers)",
            self.mean_queries, self.mean_messages
        )?;
        writeln!(
            f,
            "virtual time per lookup    mean {:.0} ms",
            self.mean_lookup_time.as_secs_f64() * 1000.0
        )?;
        writeln!(f, "announce reached           {} nodes", self.announced_to)?;
        write!(
            f,
            "get_peers found announcer  {}/{}",
            self.get_peers_found, self.get_peers_tried
        )?;
        if self.attackers > 0 {
            write!(
                f,
                "\nsybils (one IP)            {} ids; {} table entries in {} honest nodes; {} announces swallowed",
                self.attackers,
                self.sybil_table_entries,
                self.nodes_with_sybils,
                self.sybil_announces
            )?;
        }
        Ok(())
    }
}

struct Datagram {
    at: Instant,
    seq: u64,
    to: usize,
    from: SocketAddr,
    payload: Vec<u8>,
}

impl PartialEq for Datagram {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Datagram {}
impl PartialOrd for Datagram {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Datagram {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// A simulated network of node cores.
pub struct Sim {
    cfg: SimConfig,
    nodes: Vec<Node>,
    addrs: Vec<SocketAddr>,
    index: HashMap<SocketAddr, usize>,
    start: Instant,
    now: Instant,
    net: BinaryHeap<Reverse<Datagram>>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    /// The deadline each node has an entry for in `timers` (others are stale).
    scheduled: Vec<Option<Instant>>,
    rng: StdRng,
    offline: Vec<bool>,
    seq: u64,
    datagrams: u64,
    dropped: u64,
    done: HashMap<(usize, LookupId), Event>,
    /// The attacker (no ids when there is no attack); datagram destinations
    /// past the last node index are sybils.
    sybils: Sybils,
    sybil_index: HashMap<SocketAddr, usize>,
    /// While [`Sim::inject`] runs: what the node sends outside the simulation.
    outside: Option<Vec<Transmit>>,
}

/// The simulated address of node `i`: unique per node, never contacted.
/// Up to 65,536 nodes each get their own /24 (10.a.b.1), as hosts on the
/// Internet mostly do, so the routing table's per-subnet rule does not
/// bind on honest simulated nodes.
pub fn sim_addr(i: usize) -> SocketAddr {
    let i = u32::try_from(i).unwrap_or(u32::MAX) & 0x00ff_ffff;
    let ip = 0x0a00_0000 | ((i & 0xffff) << 8) | ((i >> 16) + 1);
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), 6881))
}

impl Sim {
    /// Creates the nodes (none bootstrapped yet).
    pub fn new(cfg: SimConfig) -> Self {
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let start = Instant::now();
        let mut nodes = Vec::with_capacity(cfg.nodes);
        let mut addrs = Vec::with_capacity(cfg.nodes);
        let mut index = HashMap::with_capacity(cfg.nodes);
        for i in 0..cfg.nodes {
            let id = NodeId::random(&mut rng);
            let node_rng = StdRng::seed_from_u64(rng.random());
            nodes.push(Node::new(cfg.dht.clone(), id, node_rng, start));
            addrs.push(sim_addr(i));
            index.insert(sim_addr(i), i);
        }
        Sim {
            cfg,
            offline: vec![false; nodes.len()],
            scheduled: vec![None; nodes.len()],
            nodes,
            addrs,
            index,
            start,
            now: start,
            net: BinaryHeap::new(),
            timers: BinaryHeap::new(),
            rng,
            seq: 0,
            datagrams: 0,
            dropped: 0,
            done: HashMap::new(),
            sybils: Sybils::new(0, NodeId([0; 20]), &mut StdRng::seed_from_u64(0)),
            sybil_index: HashMap::new(),
            outside: None,
        }
    }

    /// Hands node `i` a datagram from `from`, an address outside the
    /// simulation (a test's attacker), at the current time; returns what the
    /// node sent to addresses outside the simulation in response.
    pub fn inject(&mut self, i: usize, from: SocketAddr, payload: &[u8]) -> Vec<Transmit> {
        self.outside = Some(Vec::new());
        self.with_node(i, |n, now| n.handle_datagram(now, from, payload));
        self.outside.take().unwrap_or_default()
    }

    /// Queues `payload` from `from` to node or sybil `to`, with loss and latency.
    fn send(&mut self, from: SocketAddr, to: usize, payload: Vec<u8>) {
        self.datagrams += 1;
        if self.offline.get(to).copied().unwrap_or(false)
            || (self.cfg.loss > 0.0 && self.rng.random_bool(self.cfg.loss.clamp(0.0, 1.0)))
        {
            self.dropped += 1;
            return;
        }
        let jitter = self.cfg.jitter.mul_f64(self.rng.random::<f64>());
        self.seq += 1;
        self.net.push(Reverse(Datagram {
            at: self.now + self.cfg.latency + jitter,
            seq: self.seq,
            to,
            from,
            payload,
        }));
    }

    /// Sets up `count` sybils around `target`; each pings the honest nodes
    /// closest to it.
    fn attack(&mut self, count: usize, target: NodeId) {
        self.sybils = Sybils::new(count, target, &mut self.rng);
        let base = self.nodes.len();
        self.sybil_index = self
            .sybils
            .nodes
            .iter()
            .enumerate()
            .map(|(j, n)| (n.addr, base + j))
            .collect();
        let mut near: Vec<usize> = (0..self.nodes.len())
            .filter(|i| self.is_online(*i))
            .collect();
        near.sort_by_key(|i| self.nodes.get(*i).map(|n| target.distance(&n.id())));
        near.truncate(SYBIL_REACH);
        for j in 0..count {
            let from = self.sybils.nodes.get(j).map(|n| n.addr);
            for &i in &near {
                let tid = self.rng.random();
                if let (Some(from), Some(ping)) = (from, self.sybils.ping(j, tid)) {
                    self.send(from, i, ping);
                }
            }
        }
    }

    /// The node cores.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Calls `f` on node `i` at the current time and routes what it sends.
    pub fn with_node<T>(&mut self, i: usize, f: impl FnOnce(&mut Node, Instant) -> T) -> Option<T> {
        let now = self.now;
        let out = f(self.nodes.get_mut(i)?, now);
        self.flush(i);
        Some(out)
    }

    fn flush(&mut self, i: usize) {
        let Some(node) = self.nodes.get_mut(i) else {
            return;
        };
        let from = self.addrs.get(i).copied().unwrap_or_else(|| sim_addr(i));
        let mut out = Vec::new();
        while let Some(t) = node.poll_transmit() {
            out.push(t);
        }
        let events: Vec<Event> = std::iter::from_fn(|| node.poll_event()).collect();
        let deadline = node.poll_timeout();
        for t in out {
            match self
                .index
                .get(&t.to)
                .or_else(|| self.sybil_index.get(&t.to))
            {
                Some(&to) => self.send(from, to, t.payload),
                None => {
                    self.datagrams += 1;
                    match &mut self.outside {
                        Some(o) => o.push(t),
                        None => self.dropped += 1,
                    }
                }
            }
        }
        for ev in events {
            if let Event::LookupDone { lookup, .. } = &ev {
                self.done.insert((i, *lookup), ev);
            }
        }
        // Most datagrams leave the deadline as it was: push only a new one.
        if let Some(slot) = self.scheduled.get_mut(i)
            && *slot != deadline
        {
            *slot = deadline;
            if let Some(t) = deadline {
                self.timers.push(Reverse((t, i)));
            }
        }
    }

    /// Processes the next datagram or timer at or before `until`; false if none.
    fn step(&mut self, until: Instant) -> bool {
        let net_at = self.net.peek().map(|Reverse(d)| d.at);
        let timer_at = self.timers.peek().map(|Reverse((t, _))| *t);
        let next = match (net_at, timer_at) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return false,
        };
        if next > until {
            return false;
        }
        self.now = self.now.max(next);
        if net_at == Some(next) {
            if let Some(Reverse(d)) = self.net.pop() {
                if let Some(node) = self.nodes.get_mut(d.to) {
                    node.handle_datagram(self.now, d.from, &d.payload);
                    self.flush(d.to);
                } else if let Some(j) = d.to.checked_sub(self.nodes.len())
                    && let Some(reply) = self.sybils.answer(j, &d.payload)
                    && let Some(&back) = self.index.get(&d.from)
                    && let Some(me) = self.sybils.nodes.get(j).map(|n| n.addr)
                {
                    self.send(me, back, reply);
                }
            }
        } else if let Some(Reverse((t, i))) = self.timers.pop()
            && self.offline.get(i).is_some_and(|o| !o)
            && self.scheduled.get(i) == Some(&Some(t))
            && let Some(node) = self.nodes.get_mut(i)
        {
            // (Entries for a deadline that has since moved are skipped above.)
            if let Some(slot) = self.scheduled.get_mut(i) {
                *slot = None;
            }
            node.handle_timeout(self.now);
            self.flush(i);
        }
        true
    }

    /// Runs the network until virtual time `until`.
    pub fn run_until(&mut self, until: Instant) {
        while self.step(until) {}
        self.now = self.now.max(until);
    }

    /// Runs until node `i`'s lookup `lid` finishes (bounded by an hour of
    /// virtual time) and returns its [`Event::LookupDone`].
    pub fn wait_lookup(&mut self, i: usize, lid: LookupId) -> Option<Event> {
        let limit = self.now + Duration::from_secs(3600);
        loop {
            if let Some(ev) = self.done.remove(&(i, lid)) {
                return Some(ev);
            }
            if !self.step(limit) {
                return self.done.remove(&(i, lid));
            }
        }
    }

    /// Takes node `i` offline: datagrams to it are lost, its timers stop.
    pub fn set_offline(&mut self, i: usize) {
        if let Some(o) = self.offline.get_mut(i) {
            *o = true;
        }
    }

    /// Whether node `i` is online.
    pub fn is_online(&self, i: usize) -> bool {
        self.offline.get(i).is_some_and(|o| !o)
    }

    /// Starts node `i` at the current time, bootstrapping from node `seed`.
    pub fn join(&mut self, i: usize, seed: usize) -> Option<LookupId> {
        let seed_addr = *self.addrs.get(seed)?;
        self.with_node(i, |n, now| n.bootstrap(&[seed_addr], now))
    }
}

fn stats_of(ev: &Event) -> Option<(&LookupStats, &[crate::NodeInfo], &[SocketAddr])> {
    match ev {
        Event::LookupDone {
            stats,
            closest,
            peers,
            ..
        } => Some((stats, closest, peers)),
        Event::Peers { .. } => None,
    }
}

/// Bootstraps `cfg.nodes` nodes from node 0, then measures lookups and an
/// announce. Deterministic for a given [`SimConfig`].
pub fn run(cfg: &SimConfig) -> SimReport {
    let mut sim = Sim::new(cfg.clone());
    let n = cfg.nodes;
    let mut report = SimReport {
        nodes: n,
        log2_nodes: (n.max(1) as f64).log2(),
        ..SimReport::default()
    };
    if n < 2 {
        return report;
    }
    // Join one by one, as a network grows.
    for i in 1..n {
        let at = sim.now + cfg.join_interval;
        sim.run_until(at);
        sim.join(i, 0);
    }
    let settle = sim.now + Duration::from_secs(30);
    sim.run_until(settle);
    // The attack's target is drawn apart, so runs without one stay as they were.
    let attack_target = InfoHash(StdRng::seed_from_u64(cfg.seed ^ 0x5b11_0000).random());
    if cfg.attackers > 0 {
        sim.attack(cfg.attackers, attack_target.into());
        let settle = sim.now + Duration::from_secs(30);
        sim.run_until(settle);
        report.attackers = cfg.attackers;
        for n in &sim.nodes {
            let held = n
                .routing_table()
                .entries()
                .filter(|e| e.info.addr.ip() == SYBIL_IP)
                .count();
            report.sybil_table_entries += held;
            report.nodes_with_sybils += usize::from(held > 0);
        }
    }
    let sizes: Vec<usize> = sim.nodes.iter().map(|n| n.routing_table().len()).collect();
    // Churn: some nodes leave; the rest must notice and route around them.
    let leaving = ((n - 1) as f64 * cfg.churn.clamp(0.0, 1.0)) as usize;
    while report.offline < leaving {
        let i = sim.rng.random_range(1..n);
        if sim.is_online(i) {
            sim.set_offline(i);
            report.offline += 1;
        }
    }
    let online: Vec<usize> = (0..n).filter(|i| sim.is_online(*i)).collect();
    let pick = |sim: &mut Sim| {
        online
            .get(sim.rng.random_range(0..online.len()))
            .copied()
            .unwrap_or(0)
    };
    report.mean_table_size = sizes.iter().sum::<usize>() as f64 / n as f64;
    report.min_table_size = sizes.iter().copied().min().unwrap_or(0);

    // find_node toward random targets, checked against the true nearest node.
    let ids: Vec<NodeId> = online
        .iter()
        .filter_map(|i| sim.nodes.get(*i))
        .map(Node::id)
        .collect();
    let mut rounds = 0u64;
    let mut queries = 0u64;
    let mut messages = 0u64;
    let mut time = Duration::ZERO;
    for _ in 0..cfg.lookups {
        let from = pick(&mut sim);
        let target = NodeId::random(&mut sim.rng);
        let own = sim.nodes.get(from).map(Node::id);
        let truth = ids
            .iter()
            .filter(|id| Some(**id) != own)
            .min_by_key(|id| target.distance(id))
            .copied();
        let started = sim.now;
        let Some(lid) = sim.with_node(from, |node, now| node.find_node(target, now)) else {
            continue;
        };
        let Some(ev) = sim.wait_lookup(from, lid) else {
            continue;
        };
        time += sim.now.saturating_duration_since(started);
        if let Some((stats, closest, _)) = stats_of(&ev) {
            report.lookups += 1;
            rounds += u64::from(stats.rounds);
            queries += u64::from(stats.queries);
            messages += u64::from(stats.queries) + u64::from(stats.responses);
            report.max_rounds = report.max_rounds.max(stats.rounds);
            if closest.first().map(|c| c.id) == truth {
                report.lookups_found_closest += 1;
            }
        }
    }
    if report.lookups > 0 {
        report.mean_rounds = rounds as f64 / report.lookups as f64;
        report.mean_queries = queries as f64 / report.lookups as f64;
        report.mean_messages = messages as f64 / report.lookups as f64;
        report.mean_lookup_time = time / report.lookups as u32;
    }

    // Announce from one node, look the info-hash up from others.
    let info_hash = InfoHash(sim.rng.random());
    let info_hash = if cfg.attackers > 0 {
        attack_target
    } else {
        info_hash
    };
    let announcer = pick(&mut sim);
    let port = 51413;
    if let Some(lid) = sim.with_node(announcer, |node, now| {
        node.announce(info_hash, Some(port), now)
    }) && let Some(ev) = sim.wait_lookup(announcer, lid)
        && let Some((stats, _, _)) = stats_of(&ev)
    {
        report.announced_to = stats.announced;
    }
    let want = SocketAddr::new(sim_addr(announcer).ip(), port);
    for _ in 0..cfg.get_peers {
        // The announcer does not store itself; ask from any other node.
        let mut from = pick(&mut sim);
        while from == announcer && online.len() > 1 {
            from = pick(&mut sim);
        }
        report.get_peers_tried += 1;
        let Some(lid) = sim.with_node(from, |node, now| node.get_peers(info_hash, now)) else {
            continue;
        };
        if let Some(ev) = sim.wait_lookup(from, lid)
            && let Some((_, _, peers)) = stats_of(&ev)
            && peers.contains(&want)
        {
            report.get_peers_found += 1;
        }
    }
    report.sybil_announces = sim.sybils.announces_swallowed;
    report.datagrams = sim.datagrams;
    report.dropped = sim.dropped;
    report.virtual_time = sim.now.saturating_duration_since(sim.start);
    report
}
