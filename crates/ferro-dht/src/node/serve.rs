//! Answering queries (BEP 5 "Queries"): ping, find_node, get_peers and
//! announce_peer, within per-IP rate limits and amplification bounds.

use std::net::SocketAddr;
use std::time::Instant;

use super::Node;
use crate::id::{NodeId, NodeInfo};
use crate::krpc::{self, Body, KrpcError, Message, Query, Response, Want, code};
use crate::peer_store::StoreOutcome;

impl Node {
    /// Whether a query from `from` may be answered now (rate limit, BEP 43).
    pub(super) fn may_serve(&mut self, from: SocketAddr, now: Instant) -> bool {
        if self.cfg.read_only {
            // BEP 43: read-only nodes do not answer queries.
            return false;
        }
        let allowed = match &mut self.limiter {
            Some(l) => l.allow(from.ip(), now),
            None => true,
        };
        if !allowed {
            self.stats.queries_rate_limited += 1;
        }
        allowed
    }

    pub(super) fn send_error(&mut self, to: SocketAddr, tid: Vec<u8>, code: i64, message: &str) {
        self.stats.errors_sent += 1;
        let msg = Message {
            transaction_id: tid,
            version: self.cfg.version.clone(),
            read_only: false,
            body: Body::Error(KrpcError {
                code,
                message: message.chars().take(100).collect(),
            }),
        };
        self.transmit(to, krpc::encode(&msg));
    }

    pub(super) fn handle_query(
        &mut self,
        now: Instant,
        from: SocketAddr,
        tid: Vec<u8>,
        sender_read_only: bool,
        q: Query,
        query_len: usize,
    ) {
        self.stats.queries_received += 1;
        if !self.may_serve(from, now) {
            return;
        }
        let sender = q.sender_id();
        if !sender_read_only && sender != self.id && !self.table.heard_query(&sender, from, now) {
            // A node we do not know: verify it with a ping if the table has a
            // place for it (BEP 43: never for read-only nodes).
            if self.would_accept(&sender, from, now) {
                self.ping(from, Some(sender), now);
            }
        }
        let mut reply = Response::id_only(self.id);
        match q {
            Query::Ping { .. } => {}
            Query::FindNode { target, want, .. } => {
                self.fill_nodes(&mut reply, &target, want, from);
            }
            Query::GetPeers {
                info_hash, want, ..
            } => {
                reply.token = Some(self.tokens.token_for(from.ip()).to_vec());
                reply.values =
                    self.store
                        .peers(&info_hash.into(), self.cfg.max_values, now, &mut self.rng);
                self.fill_nodes(&mut reply, &info_hash, want, from);
            }
            Query::AnnouncePeer {
                info_hash,
                port,
                token,
                implied_port,
                ..
            } => {
                if !self.tokens.is_valid(&token, from.ip()) {
                    // BEP 5: a token not handed to this IP within the last
                    // two secrets is refused; nothing is stored.
                    self.stats.bad_tokens += 1;
                    self.send_error(from, tid, code::PROTOCOL, "bad token");
                    return;
                }
                // BEP 5: with implied_port the source port is the peer port.
                let port = if implied_port { from.port() } else { port };
                if port == 0 {
                    self.send_error(from, tid, code::PROTOCOL, "port 0");
                    return;
                }
                let peer = SocketAddr::new(from.ip(), port);
                match self.store.announce(info_hash.into(), peer, now) {
                    StoreOutcome::Refused => {
                        self.send_error(from, tid, code::SERVER, "peer store full");
                        return;
                    }
                    StoreOutcome::Evicted => {
                        self.stats.announces_stored += 1;
                        self.stats.announces_evicted += 1;
                    }
                    StoreOutcome::Added | StoreOutcome::Refreshed => {
                        self.stats.announces_stored += 1;
                    }
                }
            }
        }
        let msg = Message {
            transaction_id: tid,
            version: self.cfg.version.clone(),
            read_only: false,
            body: Body::Response(reply),
        };
        let limit = self
            .cfg
            .max_reply_size
            .min(query_len.saturating_mul(self.cfg.max_amplification));
        if let Some(bytes) = encode_within(msg, limit) {
            self.transmit(from, bytes);
        }
    }

    /// The k closest nodes of the families the querier wants (BEP 32 `want`;
    /// by default the family it wrote from).
    fn fill_nodes(
        &self,
        reply: &mut Response,
        target: &NodeId,
        want: Option<Want>,
        from: SocketAddr,
    ) {
        let want = want.unwrap_or(Want {
            v4: from.is_ipv4(),
            v6: from.is_ipv6(),
        });
        let k = self.cfg.routing.k;
        let pick = |v6: bool| -> Vec<NodeInfo> {
            self.table
                .closest_matching(target, k, |n| n.addr.is_ipv6() == v6)
        };
        if want.v4 {
            reply.nodes = pick(false);
        }
        if want.v6 {
            reply.nodes6 = pick(true);
        }
    }

    /// True if the table has a place for a node `id` at `addr` should it answer.
    pub(super) fn would_accept(&self, id: &NodeId, addr: SocketAddr, now: Instant) -> bool {
        if self.pinging.contains(&addr) || self.pending.len() >= self.cfg.max_pending / 2 {
            return false;
        }
        self.table.has_room_for(id, addr, now)
    }
}

/// Encodes `msg`, trimming values, then IPv6 nodes, then IPv4 nodes until it
/// fits in `limit` bytes; `None` if even the bare reply does not fit.
fn encode_within(mut msg: Message, limit: usize) -> Option<Vec<u8>> {
    // Each round removes at least one item, so this ends.
    loop {
        let bytes = krpc::encode(&msg);
        if bytes.len() <= limit {
            return Some(bytes);
        }
        let Body::Response(r) = &mut msg.body else {
            return None;
        };
        let excess = bytes.len() - limit;
        if !r.values.is_empty() {
            // 8 bytes per IPv4 value ("6:" + 6), 21 per IPv6 one.
            let drop = excess.div_ceil(8).clamp(1, r.values.len());
            r.values.truncate(r.values.len() - drop);
        } else if !r.nodes6.is_empty() {
            r.nodes6.pop();
        } else if !r.nodes.is_empty() {
            r.nodes.pop();
        } else {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_trimmed_to_the_limit() {
        let values: Vec<SocketAddr> = (0..100u16)
            .map(|p| SocketAddr::from(([10, 0, 0, 1], p + 1)))
            .collect();
        let nodes: Vec<NodeInfo> = (0..8u8)
            .map(|b| NodeInfo {
                id: NodeId([b; 20]),
                addr: SocketAddr::from(([10, 0, 1, b], 1)),
            })
            .collect();
        let msg = Message {
            transaction_id: b"aa".to_vec(),
            version: None,
            read_only: false,
            body: Body::Response(Response {
                id: NodeId([1; 20]),
                nodes,
                nodes6: Vec::new(),
                values,
                token: Some(vec![1; 8]),
            }),
        };
        let full = krpc::encode(&msg).len();
        let out = encode_within(msg.clone(), 400).unwrap();
        assert!(out.len() <= 400 && full > 400, "{} {full}", out.len());
        let Body::Response(r) = krpc::decode(&out).unwrap().body else {
            panic!()
        };
        assert_eq!(r.nodes.len(), 8, "nodes kept, values trimmed");
        assert!(!r.values.is_empty());
        assert!(encode_within(msg, 10).is_none());
    }
}
