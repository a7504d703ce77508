//! KRPC, the DHT's message layer (BEP 5 "KRPC Protocol"): bencoded dictionaries
//! over UDP, each a query (`y` = `q`), a response (`r`) or an error (`e`), tied
//! together by a transaction id `t`.
//!
//! Decoding is lenient where BEP 5 clients differ (unknown keys, unsorted keys,
//! odd entries in `values`) and strict where a value would be meaningless (ids
//! that are not 20 bytes, a missing `t`). Encoding is canonical bencode.

use std::net::SocketAddr;

use ferro_bencode::{DecodeOptions, Dict, Value};

use crate::Error;
use crate::id::{NodeId, NodeInfo, decode_nodes_v4, decode_nodes_v6};

/// Largest datagram we decode; KRPC messages fit one UDP packet on a normal MTU.
pub const MAX_DATAGRAM: usize = 4096;
/// Longest transaction id we accept (BEP 5: "a short string").
pub const MAX_TRANSACTION_ID: usize = 32;
/// Longest announce token we accept.
pub const MAX_TOKEN: usize = 64;

/// BEP 5 error codes.
pub mod code {
    /// 201 Generic Error.
    pub const GENERIC: i64 = 201;
    /// 202 Server Error.
    pub const SERVER: i64 = 202;
    /// 203 Protocol Error (malformed packet, invalid arguments, bad token).
    pub const PROTOCOL: i64 = 203;
    /// 204 Method Unknown.
    pub const METHOD_UNKNOWN: i64 = 204;
}

/// One KRPC message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// `t`: echoed by the response so the querier can match it.
    pub transaction_id: Vec<u8>,
    /// `v`: the sender's client and version (BEP 5: two letters + two bytes).
    pub version: Option<Vec<u8>>,
    /// `ro`: the sender is read-only and must not be added to routing tables (BEP 43).
    pub read_only: bool,
    /// What the message says.
    pub body: Body,
}

/// The three kinds of message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// `y` = `q`.
    Query(Query),
    /// `y` = `r`.
    Response(Response),
    /// `y` = `e`.
    Error(KrpcError),
}

/// Which address families a querier wants nodes for (BEP 32 `want`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Want {
    /// `n4`: `nodes`.
    pub v4: bool,
    /// `n6`: `nodes6`.
    pub v6: bool,
}

/// The four BEP 5 queries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// `ping`.
    Ping {
        /// Querier's id.
        id: NodeId,
    },
    /// `find_node`: the k closest nodes to `target`.
    FindNode {
        /// Querier's id.
        id: NodeId,
        /// The id sought.
        target: NodeId,
        /// BEP 32 `want`, if given.
        want: Option<Want>,
    },
    /// `get_peers`: peers for `info_hash`, or the closest nodes and a token.
    GetPeers {
        /// Querier's id.
        id: NodeId,
        /// The torrent.
        info_hash: NodeId,
        /// BEP 32 `want`, if given.
        want: Option<Want>,
    },
    /// `announce_peer`: the querier downloads `info_hash` on `port`.
    AnnouncePeer {
        /// Querier's id.
        id: NodeId,
        /// The torrent.
        info_hash: NodeId,
        /// Its peer port (ignored when `implied_port`).
        port: u16,
        /// The token from our earlier `get_peers` reply.
        token: Vec<u8>,
        /// Use the datagram's source port instead of `port` (BEP 5, for NATs and uTP).
        implied_port: bool,
    },
}

impl Query {
    /// The querier's id.
    pub fn sender_id(&self) -> NodeId {
        match self {
            Query::Ping { id }
            | Query::FindNode { id, .. }
            | Query::GetPeers { id, .. }
            | Query::AnnouncePeer { id, .. } => *id,
        }
    }

    /// The `q` method name.
    pub fn method(&self) -> &'static str {
        match self {
            Query::Ping { .. } => "ping",
            Query::FindNode { .. } => "find_node",
            Query::GetPeers { .. } => "get_peers",
            Query::AnnouncePeer { .. } => "announce_peer",
        }
    }
}

/// A response. KRPC responses do not name their query, so this carries every
/// field any response may have; the querier knows which ones to expect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Responder's id.
    pub id: NodeId,
    /// `nodes`: compact IPv4 node info.
    pub nodes: Vec<NodeInfo>,
    /// `nodes6`: compact IPv6 node info (BEP 32).
    pub nodes6: Vec<NodeInfo>,
    /// `values`: compact peers (get_peers).
    pub values: Vec<SocketAddr>,
    /// `token` (get_peers).
    pub token: Option<Vec<u8>>,
}

impl Response {
    /// A response carrying only the responder's id (ping, announce_peer).
    pub fn id_only(id: NodeId) -> Self {
        Response {
            id,
            nodes: Vec::new(),
            nodes6: Vec::new(),
            values: Vec::new(),
            token: None,
        }
    }
}

/// An error message: `e` = [code, text].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KrpcError {
    /// One of [`code`].
    pub code: i64,
    /// Human-readable text.
    pub message: String,
}

fn options() -> DecodeOptions {
    DecodeOptions {
        // KRPC nests at most three deep (message → args → want/values list).
        max_depth: 8,
        max_items: 1024,
        strict: false,
    }
}

/// The values of the keys a KRPC dictionary may have, found in one pass
/// (the dictionary API looks keys up one by one, which costs a scan each).
#[derive(Default)]
struct Fields<'d, 'a> {
    vals: [Option<Value<'d, 'a>>; KEYS.len()],
}

/// Every key read from any KRPC dictionary.
const KEYS: [&str; 17] = [
    "t",
    "v",
    "ro",
    "y",
    "q",
    "a",
    "r",
    "e",
    "id",
    "target",
    "info_hash",
    "want",
    "port",
    "token",
    "implied_port",
    "nodes",
    "nodes6",
];

impl<'d, 'a> Fields<'d, 'a> {
    fn of(d: &Dict<'d, 'a>) -> (Self, Option<Value<'d, 'a>>) {
        let mut f = Fields::default();
        let mut values = None;
        for (k, v) in d.iter() {
            if k == b"values" {
                values = Some(v);
            } else if let Some(i) = KEYS.iter().position(|x| x.as_bytes() == k)
                && let Some(slot) = f.vals.get_mut(i)
            {
                *slot = Some(v);
            }
        }
        (f, values)
    }

    fn get(&self, key: &'static str) -> Option<Value<'d, 'a>> {
        let i = KEYS.iter().position(|x| *x == key)?;
        self.vals.get(i).copied().flatten()
    }
}

fn bytes<'a>(d: &Fields<'_, 'a>, key: &'static str) -> Result<&'a [u8], Error> {
    d.get(key)
        .ok_or(Error::MissingKey(key))?
        .as_bytes()
        .ok_or(Error::WrongType(key))
}

fn opt_bytes<'a>(d: &Fields<'_, 'a>, key: &'static str) -> Result<Option<&'a [u8]>, Error> {
    match d.get(key) {
        None => Ok(None),
        Some(v) => v.as_bytes().map(Some).ok_or(Error::WrongType(key)),
    }
}

fn id20(d: &Fields<'_, '_>, key: &'static str) -> Result<NodeId, Error> {
    let b = bytes(d, key)?;
    NodeId::from_slice(b).map_err(|_| Error::BadId { key, len: b.len() })
}

fn flag(d: &Fields<'_, '_>, key: &'static str) -> bool {
    d.get(key).and_then(|v| v.as_int()).is_some_and(|i| i != 0)
}

fn want(d: &Fields<'_, '_>) -> Option<Want> {
    let list = d.get("want")?.as_list()?;
    let mut w = Want::default();
    for v in list.iter() {
        match v.as_bytes() {
            Some(b"n4") => w.v4 = true,
            Some(b"n6") => w.v6 = true,
            _ => {}
        }
    }
    Some(w)
}

/// Decodes one datagram. Never panics; see the module docs for what is accepted.
pub fn decode(buf: &[u8]) -> Result<Message, Error> {
    if buf.len() > MAX_DATAGRAM {
        return Err(Error::TooLarge(buf.len()));
    }
    let doc =
        ferro_bencode::decode_with(buf, &options()).map_err(|e| Error::Bencode(e.to_string()))?;
    let root = doc.root();
    let (top, _) = Fields::of(&root.as_dict().ok_or(Error::NotADict)?);
    let transaction_id = bytes(&top, "t")?;
    if transaction_id.len() > MAX_TRANSACTION_ID {
        return Err(Error::TransactionIdLength(transaction_id.len()));
    }
    let version = opt_bytes(&top, "v")?.map(<[u8]>::to_vec);
    let read_only = flag(&top, "ro");
    let body = match bytes(&top, "y")? {
        b"q" => Body::Query(decode_query(&top)?),
        b"r" => Body::Response(decode_response(&top)?),
        b"e" => Body::Error(decode_error(&top)?),
        other => {
            return Err(Error::UnknownMessageType(
                String::from_utf8_lossy(other).into_owned(),
            ));
        }
    };
    Ok(Message {
        transaction_id: transaction_id.to_vec(),
        version,
        read_only,
        body,
    })
}

fn decode_query(top: &Fields<'_, '_>) -> Result<Query, Error> {
    let method = bytes(top, "q")?;
    let (args, _) = Fields::of(
        &top.get("a")
            .ok_or(Error::MissingKey("a"))?
            .as_dict()
            .ok_or(Error::WrongType("a"))?,
    );
    let id = id20(&args, "id")?;
    Ok(match method {
        b"ping" => Query::Ping { id },
        b"find_node" => Query::FindNode {
            id,
            target: id20(&args, "target")?,
            want: want(&args),
        },
        b"get_peers" => Query::GetPeers {
            id,
            info_hash: id20(&args, "info_hash")?,
            want: want(&args),
        },
        b"announce_peer" => {
            let port = args.get("port").and_then(|v| v.as_int());
            let implied_port = flag(&args, "implied_port");
            let port = match port {
                Some(p) => u16::try_from(p).map_err(|_| Error::BadPort(p))?,
                None if implied_port => 0,
                None => return Err(Error::MissingKey("port")),
            };
            let token = bytes(&args, "token")?;
            if token.len() > MAX_TOKEN {
                return Err(Error::TokenLength(token.len()));
            }
            Query::AnnouncePeer {
                id,
                info_hash: id20(&args, "info_hash")?,
                port,
                token: token.to_vec(),
                implied_port,
            }
        }
        other => {
            return Err(Error::UnknownMethod(
                String::from_utf8_lossy(other).into_owned(),
            ));
        }
    })
}

fn decode_response(top: &Fields<'_, '_>) -> Result<Response, Error> {
    let (r, values_list) = Fields::of(
        &top.get("r")
            .ok_or(Error::MissingKey("r"))?
            .as_dict()
            .ok_or(Error::WrongType("r"))?,
    );
    let id = id20(&r, "id")?;
    let nodes = match opt_bytes(&r, "nodes")? {
        Some(b) => decode_nodes_v4(b)?,
        None => Vec::new(),
    };
    let nodes6 = match opt_bytes(&r, "nodes6")? {
        Some(b) => decode_nodes_v6(b)?,
        None => Vec::new(),
    };
    let mut values = Vec::new();
    if let Some(v) = values_list {
        let list = v.as_list().ok_or(Error::WrongType("values"))?;
        // Entries of the wrong size are skipped, not fatal: some clients mix
        // families in one list.
        for item in list.iter() {
            let Some(b) = item.as_bytes() else { continue };
            let addr = ferro_core::compact::decode_one_v4(b)
                .or_else(|| ferro_core::compact::decode_one_v6(b));
            if let Some(a) = addr {
                values.push(a);
            }
        }
    }
    let token = opt_bytes(&r, "token")?;
    if let Some(t) = token
        && t.len() > MAX_TOKEN
    {
        return Err(Error::TokenLength(t.len()));
    }
    Ok(Response {
        id,
        nodes,
        nodes6,
        values,
        token: token.map(<[u8]>::to_vec),
    })
}

fn decode_error(top: &Fields<'_, '_>) -> Result<KrpcError, Error> {
    let list = top
        .get("e")
        .ok_or(Error::MissingKey("e"))?
        .as_list()
        .ok_or(Error::WrongType("e"))?;
    let code = list
        .get(0)
        .and_then(|v| v.as_int())
        .ok_or(Error::WrongType("e"))?;
    let message = list
        .get(1)
        .and_then(|v| v.as_bytes())
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    Ok(KrpcError { code, message })
}

/// For a datagram that failed to decode: the transaction id and error code to
/// answer with, if it looks like a query at all (BEP 5: errors answer queries).
pub fn error_reply_for(buf: &[u8], err: &Error) -> Option<(Vec<u8>, i64)> {
    let doc = ferro_bencode::decode_with(buf, &options()).ok()?;
    let (top, _) = Fields::of(&doc.root().as_dict()?);
    if top.get("y")?.as_bytes()? != b"q" {
        return None;
    }
    let t = top.get("t")?.as_bytes()?;
    if t.len() > MAX_TRANSACTION_ID {
        return None;
    }
    let code = match err {
        Error::UnknownMethod(_) => code::METHOD_UNKNOWN,
        _ => code::PROTOCOL,
    };
    Some((t.to_vec(), code))
}

mod encode;
pub use encode::encode;

#[cfg(test)]
mod tests;
