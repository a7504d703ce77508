//! Sybil attackers for the simulator: many node ids behind one IP address,
//! all close to one target info-hash, trying to eclipse it (issue #11).
//!
//! A sybil answers like a node but lies: `find_node` and `get_peers` get the
//! k sybils closest to the target asked (never an honest node, never a
//! peer), `announce_peer` is acknowledged and thrown away. Once a lookup's k
//! closest candidates are all sybils, announces land nowhere and get_peers
//! finds nothing. Each sybil makes itself known by pinging the honest nodes
//! closest to the target (as a crawler would find them); they ping it back
//! and, unless the IP restriction stops them, put it in their tables.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use rand::Rng;

use crate::id::{NodeId, NodeInfo};
use crate::krpc::{self, Body, Message, Query, Response};

/// The one IP all sybils share (TEST-NET-1; nothing is ever sent on a network).
pub const SYBIL_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 66));

/// The attacking host.
#[derive(Clone, Debug)]
pub(crate) struct Sybils {
    pub(crate) nodes: Vec<NodeInfo>,
    /// `announce_peer` queries swallowed.
    pub(crate) announces_swallowed: u64,
}

impl Sybils {
    /// `count` ids sharing their first 64 bits with `target`, on ports 20000+.
    pub(crate) fn new(count: usize, target: NodeId, rng: &mut impl Rng) -> Self {
        let nodes = (0..count)
            .map(|j| {
                let mut id: [u8; 20] = rng.random();
                id[..8].copy_from_slice(&target.0[..8]);
                let port = 20000u16.saturating_add(u16::try_from(j).unwrap_or(u16::MAX));
                NodeInfo {
                    id: NodeId(id),
                    addr: SocketAddr::new(SYBIL_IP, port),
                }
            })
            .collect();
        Sybils {
            nodes,
            announces_swallowed: 0,
        }
    }

    /// The k sybils closest to `target`.
    fn closest(&self, target: &NodeId) -> Vec<NodeInfo> {
        let mut v = self.nodes.clone();
        v.sort_by_key(|n| target.distance(&n.id));
        v.truncate(8);
        v
    }

    /// A ping from sybil `j`, to make itself known.
    pub(crate) fn ping(&self, j: usize, tid: u32) -> Option<Vec<u8>> {
        let me = self.nodes.get(j)?;
        Some(krpc::encode(&Message {
            transaction_id: tid.to_be_bytes().to_vec(),
            version: None,
            read_only: false,
            body: Body::Query(Query::Ping { id: me.id }),
        }))
    }

    /// Sybil `j`'s lying answer to `payload`, if it is a query.
    pub(crate) fn answer(&mut self, j: usize, payload: &[u8]) -> Option<Vec<u8>> {
        let me = *self.nodes.get(j)?;
        let msg = krpc::decode(payload).ok()?;
        let Body::Query(q) = msg.body else {
            return None;
        };
        let mut r = Response::id_only(me.id);
        match q {
            Query::Ping { .. } => {}
            Query::FindNode { target, .. } => r.nodes = self.closest(&target),
            Query::GetPeers { info_hash, .. } => {
                r.nodes = self.closest(&info_hash);
                r.token = Some(b"sybil".to_vec());
            }
            Query::AnnouncePeer { .. } => self.announces_swallowed += 1,
        }
        Some(krpc::encode(&Message {
            transaction_id: msg.transaction_id,
            version: None,
            read_only: false,
            body: Body::Response(r),
        }))
    }
}
