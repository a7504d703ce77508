//! Saved routing-table state: our id and the nodes of the table, so a restart
//! bootstraps from them instead of from the public routers (BEP 5 suggests
//! keeping the table across restarts). Stored as a bencoded dictionary
//! `{id, nodes, nodes6}` with compact node info.

use ferro_bencode::DecodeOptions;

use crate::Error;
use crate::id::{NodeId, NodeInfo, decode_nodes_v4, decode_nodes_v6};

/// Most nodes read back from a saved state.
pub const MAX_SAVED_NODES: usize = 2000;

/// Our id and known nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedState {
    /// The node id to reuse, so other nodes' tables stay right about us.
    pub id: NodeId,
    /// Nodes to ping on start.
    pub nodes: Vec<NodeInfo>,
}

impl SavedState {
    /// Bencodes the state.
    pub fn encode(&self) -> Vec<u8> {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for n in &self.nodes {
            if n.addr.is_ipv4() {
                n.encode(&mut v4);
            } else {
                n.encode(&mut v6);
            }
        }
        let mut e = ferro_bencode::Encoder::new(Vec::with_capacity(v4.len() + v6.len() + 64));
        e.begin_dict();
        e.bytes(b"id");
        e.bytes(&self.id.0);
        e.bytes(b"nodes");
        e.bytes(&v4);
        e.bytes(b"nodes6");
        e.bytes(&v6);
        e.end();
        e.into_inner()
    }

    /// Reads a state written by [`encode`](Self::encode).
    pub fn decode(buf: &[u8]) -> Result<Self, Error> {
        let opts = DecodeOptions {
            max_depth: 4,
            max_items: 64,
            strict: false,
        };
        let doc =
            ferro_bencode::decode_with(buf, &opts).map_err(|e| Error::SavedState(e.to_string()))?;
        let root = doc.root();
        let d = root
            .as_dict()
            .ok_or(Error::SavedState("not a dictionary".into()))?;
        let field = |k: &'static str| d.get(k.as_bytes()).and_then(|v| v.as_bytes());
        let id = NodeId::from_slice(field("id").ok_or(Error::SavedState("no id".into()))?)?;
        let mut nodes = decode_nodes_v4(field("nodes").unwrap_or_default())?;
        nodes.extend(decode_nodes_v6(field("nodes6").unwrap_or_default())?);
        nodes.truncate(MAX_SAVED_NODES);
        Ok(SavedState { id, nodes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let s = SavedState {
            id: NodeId([7; 20]),
            nodes: vec![
                NodeInfo {
                    id: NodeId([1; 20]),
                    addr: "10.0.0.1:6881".parse().unwrap(),
                },
                NodeInfo {
                    id: NodeId([2; 20]),
                    addr: "[::1]:6881".parse().unwrap(),
                },
            ],
        };
        assert_eq!(SavedState::decode(&s.encode()).unwrap(), s);
        assert!(SavedState::decode(b"le").is_err());
        assert!(SavedState::decode(b"d2:id3:abce").is_err());
        assert!(SavedState::decode(b"garbage").is_err());
    }
}
