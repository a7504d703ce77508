//! Iterative lookups (Kademlia §2.3, BEP 5 "get_peers"): query the α closest
//! nodes not yet asked, add the nodes they return, and stop once the k closest
//! nodes known have all answered.
//!
//! With the IP restriction on (`RoutingConfig::restrict_routing_ips`), a
//! lookup takes at most one node per IP address among its candidates, as
//! libtorrent's `dht_restrict_search_ips` does: a host running a thousand
//! sybil ids near a target answers with one node, not with k of its own,
//! so it cannot take the k closest places of the lookup (an eclipse).

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};

use crate::id::{Distance, NodeId, NodeInfo};

/// Most peers one lookup collects; a torrent's swarm rarely needs more from
/// the DHT, and the bound keeps hostile `values` lists from growing memory.
pub const MAX_LOOKUP_PEERS: usize = 2000;

/// Names one lookup started on a [`Node`](crate::Node).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct LookupId(pub u64);

/// What a lookup is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LookupKind {
    /// `find_node` toward a target id (bootstrap, bucket refresh).
    FindNode,
    /// `get_peers` for an info-hash, collecting peers.
    GetPeers,
    /// `get_peers`, then `announce_peer` to the closest nodes that gave a token.
    Announce {
        /// Our peer port (ignored when `implied_port`).
        port: u16,
        /// Ask nodes to use our datagrams' source port.
        implied_port: bool,
    },
}

/// What a finished lookup cost and found.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct LookupStats {
    /// Queries sent (not counting announces).
    pub queries: u32,
    /// Answers received.
    pub responses: u32,
    /// Queries that timed out or drew an error.
    pub failures: u32,
    /// Rounds: the longest chain of referrals from a starting node to a node
    /// we queried (the first round is 1).
    pub rounds: u32,
    /// `announce_peer` queries answered (announce lookups only).
    pub announced: u32,
    /// Nodes not followed because a candidate of the same IP was known
    /// (IP restriction).
    pub restricted_ip: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CandState {
    Fresh,
    InFlight,
    /// Asked, no answer within the stall period: its slot goes to another
    /// query, but a late answer is still taken.
    Stalled,
    Responded,
    Failed,
}

#[derive(Clone, Debug)]
struct Candidate {
    /// Unknown for bootstrap addresses until they answer.
    id: Option<NodeId>,
    addr: SocketAddr,
    depth: u32,
    state: CandState,
    token: Option<Vec<u8>>,
    /// Distance to the target, cached: the list is kept sorted by it.
    dist: Distance,
}

/// The state of one lookup (owned by the node core).
#[derive(Clone, Debug)]
pub(crate) struct Lookup {
    pub(crate) kind: LookupKind,
    pub(crate) target: NodeId,
    pub(crate) stats: LookupStats,
    pub(crate) peers: Vec<SocketAddr>,
    /// Announces still waiting for an answer; `Some` once the search is over.
    pub(crate) announcing: Option<u32>,
    peer_set: HashSet<SocketAddr>,
    /// Sorted by distance to the target (unknown ids first).
    candidates: Vec<Candidate>,
    addrs: HashSet<SocketAddr>,
    ids: HashSet<NodeId>,
    /// IPs among the candidates, when restricted (one node per IP).
    ips: Option<HashSet<IpAddr>>,
    in_flight: usize,
    k: usize,
    alpha: usize,
    max_candidates: usize,
}

impl Lookup {
    pub(crate) fn new(
        kind: LookupKind,
        target: NodeId,
        start: &[NodeInfo],
        unknown: &[SocketAddr],
        k: usize,
        alpha: usize,
        restrict_ips: bool,
    ) -> Self {
        let mut l = Lookup {
            kind,
            target,
            stats: LookupStats::default(),
            peers: Vec::new(),
            announcing: None,
            peer_set: HashSet::new(),
            candidates: Vec::new(),
            addrs: HashSet::new(),
            ids: HashSet::new(),
            ips: restrict_ips.then(HashSet::new),
            in_flight: 0,
            k: k.max(1),
            alpha: alpha.max(1),
            max_candidates: (k * 8).max(32),
        };
        for a in unknown {
            l.add(None, *a, 1);
        }
        for n in start {
            l.add(Some(n.id), n.addr, 1);
        }
        l
    }

    fn key(&self, id: Option<NodeId>) -> Distance {
        // Addresses of unknown id sort first: they are all we have at bootstrap.
        id.map_or(Distance([0; 20]), |id| self.target.distance(&id))
    }

    fn add(&mut self, id: Option<NodeId>, addr: SocketAddr, depth: u32) {
        if addr.port() == 0 || self.addrs.contains(&addr) {
            return;
        }
        if let Some(ips) = &self.ips
            && ips.contains(&addr.ip())
        {
            self.stats.restricted_ip += 1;
            return;
        }
        if let Some(id) = id
            && !self.ids.insert(id)
        {
            return;
        }
        self.addrs.insert(addr);
        if let Some(ips) = &mut self.ips {
            ips.insert(addr.ip());
        }
        let dist = self.key(id);
        let c = Candidate {
            id,
            addr,
            depth,
            state: CandState::Fresh,
            token: None,
            dist,
        };
        // Insert in order, so the list stays sorted without re-sorting it.
        let pos = self.candidates.partition_point(|x| x.dist <= dist);
        self.candidates.insert(pos, c);
    }

    /// Picks the next nodes to query (at most α in flight), marking them in
    /// flight: `(expected id, address)`.
    pub(crate) fn next_queries(&mut self) -> Vec<(Option<NodeId>, SocketAddr)> {
        let mut out = Vec::new();
        let mut live = 0;
        for c in self.candidates.iter_mut() {
            if self.in_flight >= self.alpha || live >= self.k {
                break;
            }
            match c.state {
                CandState::Failed | CandState::Stalled => continue,
                CandState::Fresh => {
                    c.state = CandState::InFlight;
                    self.in_flight += 1;
                    self.stats.queries += 1;
                    self.stats.rounds = self.stats.rounds.max(c.depth);
                    out.push((c.id, c.addr));
                }
                CandState::InFlight | CandState::Responded => {}
            }
            live += 1;
        }
        out
    }

    /// True once nothing is in flight, the k closest live candidates have
    /// answered, and no stalled query could still land among them.
    pub(crate) fn search_done(&self) -> bool {
        if self.in_flight > 0 {
            return false;
        }
        let (mut live, mut responded) = (0, 0);
        for c in &self.candidates {
            if responded >= self.k {
                break;
            }
            match c.state {
                CandState::Failed => continue,
                // Closer than the k-th answer: its late answer would count.
                CandState::Stalled | CandState::InFlight => return false,
                CandState::Fresh if live < self.k => return false,
                CandState::Fresh => {}
                CandState::Responded => responded += 1,
            }
            live += 1;
        }
        true
    }

    fn find(&mut self, addr: SocketAddr) -> Option<&mut Candidate> {
        self.candidates.iter_mut().find(|c| c.addr == addr)
    }

    /// Records an answer from `addr`; returns the peers not seen before.
    pub(crate) fn on_response(
        &mut self,
        addr: SocketAddr,
        id: NodeId,
        nodes: impl Iterator<Item = NodeInfo>,
        values: &[SocketAddr],
        token: Option<Vec<u8>>,
    ) -> Vec<SocketAddr> {
        let target = self.target;
        let Some(c) = self.find(addr) else {
            return Vec::new();
        };
        let was_in_flight = match c.state {
            CandState::InFlight => true,
            CandState::Stalled => false,
            _ => return Vec::new(),
        };
        c.state = CandState::Responded;
        let learned_id = c.id.is_none();
        c.id = Some(id);
        c.dist = target.distance(&id);
        c.token = token;
        let depth = c.depth + 1;
        if learned_id {
            // A bootstrap address told us its id: move it to its place.
            self.ids.insert(id);
            self.candidates.sort_by_key(|c| c.dist);
        }
        if was_in_flight {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
        self.stats.responses += 1;
        for n in nodes {
            self.add(Some(n.id), n.addr, depth);
        }
        // Bound memory: far candidates that were never asked are dropped.
        if self.candidates.len() > self.max_candidates {
            let mut kept = 0;
            let max = self.max_candidates;
            // Dropped ones stay in `addrs`/`ids`: they are never re-added.
            self.candidates.retain(|c| {
                kept += 1;
                kept <= max || matches!(c.state, CandState::InFlight | CandState::Stalled)
            });
        }
        let mut fresh = Vec::new();
        for v in values {
            if self.peers.len() >= MAX_LOOKUP_PEERS {
                break;
            }
            if self.peer_set.insert(*v) {
                self.peers.push(*v);
                fresh.push(*v);
            }
        }
        fresh
    }

    /// Records that the query to `addr` timed out or drew an error.
    pub(crate) fn on_failure(&mut self, addr: SocketAddr) {
        let Some(c) = self.find(addr) else {
            return;
        };
        let was_in_flight = match c.state {
            CandState::InFlight => true,
            CandState::Stalled => false,
            _ => return,
        };
        c.state = CandState::Failed;
        if was_in_flight {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
        self.stats.failures += 1;
    }

    /// Records that the query to `addr` has gone unanswered for the stall
    /// period: another query may take its place (libtorrent calls this a
    /// short timeout), so one slow node does not hold up the lookup.
    pub(crate) fn on_stall(&mut self, addr: SocketAddr) {
        if let Some(c) = self.find(addr)
            && c.state == CandState::InFlight
        {
            c.state = CandState::Stalled;
            self.in_flight = self.in_flight.saturating_sub(1);
        }
    }

    /// The k closest nodes that answered, nearest first.
    pub(crate) fn closest(&self) -> Vec<NodeInfo> {
        self.candidates
            .iter()
            .filter(|c| c.state == CandState::Responded)
            .filter_map(|c| c.id.map(|id| NodeInfo { id, addr: c.addr }))
            .take(self.k)
            .collect()
    }

    /// The k closest answering nodes that gave us a token, for announce_peer.
    pub(crate) fn announce_targets(&self) -> Vec<(NodeInfo, Vec<u8>)> {
        self.candidates
            .iter()
            .filter(|c| c.state == CandState::Responded)
            .take(self.k)
            .filter_map(|c| {
                Some((
                    NodeInfo {
                        id: c.id?,
                        addr: c.addr,
                    },
                    c.token.clone()?,
                ))
            })
            .collect()
    }

    #[cfg(test)]
    fn distance_of_first(&self) -> Option<Distance> {
        self.candidates.first().map(|c| c.dist)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(b: u8) -> NodeInfo {
        NodeInfo {
            id: NodeId([b; 20]),
            addr: SocketAddr::from(([10, 0, 0, b], 6881)),
        }
    }

    #[test]
    fn converges_and_counts_rounds() {
        let target = NodeId([0; 20]);
        let mut l = Lookup::new(
            LookupKind::FindNode,
            target,
            &[info(0x80), info(0x40)],
            &[],
            2,
            3,
            true,
        );
        let q = l.next_queries();
        assert_eq!(q.len(), 2);
        // 0x40 knows closer nodes.
        l.on_response(
            info(0x40).addr,
            info(0x40).id,
            [info(0x01), info(0x02)].into_iter(),
            &[],
            None,
        );
        assert!(!l.search_done());
        assert_eq!(
            l.distance_of_first(),
            Some(target.distance(&NodeId([1; 20])))
        );
        let q = l.next_queries();
        assert_eq!(q.len(), 2, "the two new close nodes: {q:?}");
        l.on_failure(info(0x80).addr);
        l.on_response(
            info(0x01).addr,
            info(0x01).id,
            std::iter::empty(),
            &[],
            Some(b"t".to_vec()),
        );
        l.on_response(
            info(0x02).addr,
            info(0x02).id,
            std::iter::empty(),
            &[],
            None,
        );
        assert!(l.next_queries().is_empty());
        assert!(l.search_done());
        assert_eq!(l.closest(), vec![info(0x01), info(0x02)]);
        assert_eq!(l.announce_targets().len(), 1);
        assert_eq!(l.stats.rounds, 2);
        assert_eq!(l.stats.queries, 4);
        assert_eq!(l.stats.failures, 1);
    }

    #[test]
    fn stalled_queries_free_their_slot_and_may_still_answer() {
        let target = NodeId([0; 20]);
        let mut l = Lookup::new(
            LookupKind::FindNode,
            target,
            &[info(1), info(2)],
            &[],
            8,
            1,
            true,
        );
        assert_eq!(l.next_queries().len(), 1);
        assert!(l.next_queries().is_empty(), "alpha = 1");
        l.on_stall(info(1).addr);
        assert_eq!(l.next_queries(), vec![(Some(info(2).id), info(2).addr)]);
        l.on_response(info(2).addr, info(2).id, std::iter::empty(), &[], None);
        assert!(
            !l.search_done(),
            "the stalled node is closer than the answer"
        );
        l.on_response(info(1).addr, info(1).id, std::iter::empty(), &[], None);
        assert!(l.search_done());
        assert_eq!(
            l.closest(),
            vec![info(1), info(2)],
            "its late answer still counts"
        );
    }

    #[test]
    fn bootstrap_addresses_and_peers() {
        let a: SocketAddr = "10.9.9.9:1".parse().unwrap();
        let mut l = Lookup::new(LookupKind::GetPeers, NodeId([3; 20]), &[], &[a], 8, 3, true);
        assert_eq!(l.next_queries(), vec![(None, a)]);
        let p: SocketAddr = "10.1.1.1:6881".parse().unwrap();
        assert_eq!(
            l.on_response(a, NodeId([9; 20]), std::iter::empty(), &[p, p], None),
            vec![p]
        );
        assert!(l.search_done());
        assert_eq!(l.peers, vec![p]);
        // A stray answer from a node never asked changes nothing.
        assert!(
            l.on_response(
                "10.0.0.7:1".parse().unwrap(),
                NodeId([7; 20]),
                std::iter::empty(),
                &[p],
                None
            )
            .is_empty()
        );
    }
}
