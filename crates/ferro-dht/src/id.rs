//! Node ids, the XOR metric, and compact node info (BEP 5 "Contact Encoding").

use std::cmp::Ordering;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use ferro_core::InfoHash;
use rand::Rng;

use crate::Error;

/// A 160-bit DHT node id (BEP 5: "the same 160-bit space as BitTorrent infohashes").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NodeId(pub [u8; 20]);

/// The XOR distance between two ids; compares as a 160-bit unsigned integer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Distance(pub [u8; 20]);

impl NodeId {
    /// The id from exactly 20 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
        <[u8; 20]>::try_from(bytes)
            .map(NodeId)
            .map_err(|_| Error::IdLength(bytes.len()))
    }

    /// A uniformly random id.
    pub fn random(rng: &mut impl Rng) -> Self {
        NodeId(rng.random())
    }

    /// A random id that shares exactly the first `prefix_len` bits with `self`
    /// and differs in the next one (the bucket at index `prefix_len`). With
    /// `prefix_len >= 160`, returns `self`.
    pub fn random_in_bucket(&self, prefix_len: usize, rng: &mut impl Rng) -> Self {
        if prefix_len >= 160 {
            return *self;
        }
        let mut out: [u8; 20] = rng.random();
        // Cannot fail: bit <= prefix_len < 160, so byte < 20.
        #[allow(clippy::indexing_slicing)]
        for bit in 0..=prefix_len {
            let (byte, mask) = (bit / 8, 0x80u8 >> (bit % 8));
            let mine = self.0[byte] & mask;
            // Copy our bits before `prefix_len`, flip the one at `prefix_len`.
            let want = if bit == prefix_len { mine ^ mask } else { mine };
            out[byte] = (out[byte] & !mask) | want;
        }
        NodeId(out)
    }

    /// XOR distance to `other` (Kademlia's metric).
    pub fn distance(&self, other: &NodeId) -> Distance {
        // A plain indexed loop: this runs for every routing decision, and
        // iterator adapters are slow in the debug builds the simulator tests use.
        let mut d = [0u8; 20];
        let mut i = 0;
        // Cannot fail: i < 20 and all three arrays hold 20 bytes.
        #[allow(clippy::indexing_slicing)]
        while i < 20 {
            d[i] = self.0[i] ^ other.0[i];
            i += 1;
        }
        Distance(d)
    }

    /// Number of leading bits `self` and `other` share (160 when equal).
    pub fn common_prefix_len(&self, other: &NodeId) -> usize {
        self.distance(other).leading_zeros()
    }

    /// Orders `a` and `b` by their distance to `self`.
    pub fn cmp_distance(&self, a: &NodeId, b: &NodeId) -> Ordering {
        self.distance(a).cmp(&self.distance(b))
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

impl Distance {
    /// Leading zero bits of the distance: the shared prefix length (0..=160).
    pub fn leading_zeros(&self) -> usize {
        let mut n = 0;
        for b in self.0 {
            if b == 0 {
                n += 8;
            } else {
                return n + b.leading_zeros() as usize;
            }
        }
        n
    }
}

impl From<InfoHash> for NodeId {
    fn from(ih: InfoHash) -> Self {
        NodeId(ih.0)
    }
}

impl From<NodeId> for InfoHash {
    fn from(id: NodeId) -> Self {
        InfoHash(id.0)
    }
}

impl From<[u8; 20]> for NodeId {
    fn from(b: [u8; 20]) -> Self {
        NodeId(b)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

/// Size of one compact IPv4 node: 20-byte id, 4-byte address, 2-byte port (BEP 5).
pub const NODE_V4_LEN: usize = 26;
/// Size of one compact IPv6 node: 20-byte id, 16-byte address, 2-byte port (BEP 32 `nodes6`).
pub const NODE_V6_LEN: usize = 38;

/// A node's id and UDP address: one entry of a `nodes` / `nodes6` list.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct NodeInfo {
    /// The node's id.
    pub id: NodeId,
    /// Where it receives KRPC datagrams.
    pub addr: SocketAddr,
}

impl NodeInfo {
    /// Appends the compact form: 26 bytes for IPv4, 38 for IPv6.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.0);
        ferro_core::compact::encode_one(&self.addr, out);
    }
}

/// Decodes a `nodes` string (26-byte entries). Entries with port 0 are skipped
/// (nobody can be reached there); a ragged length is an error.
pub fn decode_nodes_v4(bytes: &[u8]) -> Result<Vec<NodeInfo>, Error> {
    decode_nodes(bytes, NODE_V4_LEN, |b| {
        let a: [u8; 4] = b.get(..4)?.try_into().ok()?;
        let p: [u8; 2] = b.get(4..6)?.try_into().ok()?;
        Some(SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::from(a),
            u16::from_be_bytes(p),
        )))
    })
}

/// Decodes a `nodes6` string (38-byte entries), as [`decode_nodes_v4`] does.
pub fn decode_nodes_v6(bytes: &[u8]) -> Result<Vec<NodeInfo>, Error> {
    decode_nodes(bytes, NODE_V6_LEN, |b| {
        let a: [u8; 16] = b.get(..16)?.try_into().ok()?;
        let p: [u8; 2] = b.get(16..18)?.try_into().ok()?;
        Some(SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::from(a),
            u16::from_be_bytes(p),
            0,
            0,
        )))
    })
}

fn decode_nodes(
    bytes: &[u8],
    entry: usize,
    addr: impl Fn(&[u8]) -> Option<SocketAddr>,
) -> Result<Vec<NodeInfo>, Error> {
    if !bytes.len().is_multiple_of(entry) {
        return Err(Error::CompactNodesLength {
            len: bytes.len(),
            entry,
        });
    }
    Ok(bytes
        .chunks_exact(entry)
        .filter_map(|c| {
            let id = NodeId::from_slice(c.get(..20)?).ok()?;
            let addr = addr(c.get(20..)?)?;
            (addr.port() != 0).then_some(NodeInfo { id, addr })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn distance_and_prefix() {
        let a = NodeId([0; 20]);
        let mut b = [0u8; 20];
        b[0] = 0x10;
        let b = NodeId(b);
        assert_eq!(a.common_prefix_len(&b), 3);
        assert_eq!(a.common_prefix_len(&a), 160);
        let mut c = [0u8; 20];
        c[19] = 1;
        assert_eq!(a.common_prefix_len(&NodeId(c)), 159);
        assert_eq!(a.cmp_distance(&NodeId(c), &b), Ordering::Less);
    }

    #[test]
    fn compact_nodes_known_bytes() {
        let mut raw = vec![0xabu8; 20];
        raw.extend_from_slice(&[127, 0, 0, 1, 0x1a, 0xe1]);
        let v = decode_nodes_v4(&raw).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].addr, "127.0.0.1:6881".parse().unwrap());
        assert_eq!(v[0].id, NodeId([0xab; 20]));
        assert!(matches!(
            decode_nodes_v4(&raw[..25]),
            Err(Error::CompactNodesLength { len: 25, entry: 26 })
        ));
        let mut zero_port = raw.clone();
        zero_port[24] = 0;
        zero_port[25] = 0;
        assert!(decode_nodes_v4(&zero_port).unwrap().is_empty());
    }

    proptest! {
        #[test]
        fn random_in_bucket_has_prefix(seed: u64, mine: [u8; 20], prefix in 0usize..160) {
            let mut rng = StdRng::seed_from_u64(seed);
            let me = NodeId(mine);
            let id = me.random_in_bucket(prefix, &mut rng);
            prop_assert_eq!(me.common_prefix_len(&id), prefix);
        }

        #[test]
        fn compact_round_trip(nodes in proptest::collection::vec((any::<[u8; 20]>(), any::<SocketAddrV4>()), 0..10),
                              nodes6 in proptest::collection::vec((any::<[u8; 20]>(), any::<u128>(), 1u16..), 0..10)) {
            let v4: Vec<NodeInfo> = nodes.into_iter().filter(|(_, a)| a.port() != 0)
                .map(|(id, a)| NodeInfo { id: NodeId(id), addr: SocketAddr::V4(a) }).collect();
            let v6: Vec<NodeInfo> = nodes6.into_iter()
                .map(|(id, ip, port)| NodeInfo { id: NodeId(id), addr: SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, 0, 0)) }).collect();
            let mut b4 = Vec::new();
            v4.iter().for_each(|n| n.encode(&mut b4));
            let mut b6 = Vec::new();
            v6.iter().for_each(|n| n.encode(&mut b6));
            prop_assert_eq!(b4.len(), v4.len() * NODE_V4_LEN);
            prop_assert_eq!(b6.len(), v6.len() * NODE_V6_LEN);
            prop_assert_eq!(decode_nodes_v4(&b4).unwrap(), v4);
            prop_assert_eq!(decode_nodes_v6(&b6).unwrap(), v6);
        }
    }
}
