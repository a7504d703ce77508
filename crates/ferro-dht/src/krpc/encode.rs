//! Canonical KRPC encoding with ferro-bencode's [`Encoder`]: keys are given in
//! sorted order by hand, since every KRPC dictionary has a fixed, small set of keys.

use ferro_bencode::Encoder;

use super::{Body, KrpcError, Message, Query, Response, Want};

/// ferro-bencode's writer, with key/value shorthands.
struct W(Encoder<Vec<u8>>);

impl W {
    fn bytes(&mut self, b: &[u8]) {
        self.0.bytes(b);
    }
    fn int(&mut self, i: i64) {
        self.0.int(i);
    }
    fn key_bytes(&mut self, k: &str, v: &[u8]) {
        self.0.bytes(k.as_bytes());
        self.0.bytes(v);
    }
    fn key_int(&mut self, k: &str, v: i64) {
        self.0.bytes(k.as_bytes());
        self.0.int(v);
    }
    fn dict(&mut self) {
        self.0.begin_dict();
    }
    fn list(&mut self) {
        self.0.begin_list();
    }
    fn end(&mut self) {
        self.0.end();
    }
}

/// Encodes `msg` as canonical bencode.
pub fn encode(msg: &Message) -> Vec<u8> {
    let mut w = W(Encoder::new(Vec::with_capacity(256)));
    w.dict();
    // Top-level keys in sorted order: a, e, q, r, ro, t, v, y.
    match &msg.body {
        Body::Query(q) => {
            w.bytes(b"a");
            query_args(&mut w, q);
            w.key_bytes("q", q.method().as_bytes());
        }
        Body::Error(KrpcError { code, message }) => {
            w.bytes(b"e");
            w.list();
            w.int(*code);
            w.bytes(message.as_bytes());
            w.end();
        }
        Body::Response(r) => {
            w.bytes(b"r");
            response(&mut w, r);
        }
    }
    if msg.read_only {
        w.key_int("ro", 1);
    }
    w.key_bytes("t", &msg.transaction_id);
    if let Some(v) = &msg.version {
        w.key_bytes("v", v);
    }
    let y: &[u8] = match msg.body {
        Body::Query(_) => b"q",
        Body::Response(_) => b"r",
        Body::Error(_) => b"e",
    };
    w.key_bytes("y", y);
    w.end();
    w.0.into_inner()
}

fn want(w: &mut W, want: &Option<Want>) {
    if let Some(want) = want {
        w.bytes(b"want");
        w.list();
        if want.v4 {
            w.bytes(b"n4");
        }
        if want.v6 {
            w.bytes(b"n6");
        }
        w.end();
    }
}

fn query_args(w: &mut W, q: &Query) {
    w.dict();
    match q {
        Query::Ping { id } => w.key_bytes("id", &id.0),
        Query::FindNode {
            id,
            target,
            want: wn,
        } => {
            w.key_bytes("id", &id.0);
            w.key_bytes("target", &target.0);
            want(w, wn);
        }
        Query::GetPeers {
            id,
            info_hash,
            want: wn,
        } => {
            w.key_bytes("id", &id.0);
            w.key_bytes("info_hash", &info_hash.0);
            want(w, wn);
        }
        Query::AnnouncePeer {
            id,
            info_hash,
            port,
            token,
            implied_port,
        } => {
            w.key_bytes("id", &id.0);
            if *implied_port {
                w.key_int("implied_port", 1);
            }
            w.key_bytes("info_hash", &info_hash.0);
            w.key_int("port", i64::from(*port));
            w.key_bytes("token", token);
        }
    }
    w.end();
}

fn response(w: &mut W, r: &Response) {
    w.dict();
    w.key_bytes("id", &r.id.0);
    if !r.nodes.is_empty() {
        let mut b = Vec::with_capacity(r.nodes.len() * crate::id::NODE_V4_LEN);
        r.nodes
            .iter()
            .filter(|n| n.addr.is_ipv4())
            .for_each(|n| n.encode(&mut b));
        w.key_bytes("nodes", &b);
    }
    if !r.nodes6.is_empty() {
        let mut b = Vec::with_capacity(r.nodes6.len() * crate::id::NODE_V6_LEN);
        r.nodes6
            .iter()
            .filter(|n| n.addr.is_ipv6())
            .for_each(|n| n.encode(&mut b));
        w.key_bytes("nodes6", &b);
    }
    if let Some(t) = &r.token {
        w.key_bytes("token", t);
    }
    if !r.values.is_empty() {
        w.bytes(b"values");
        w.list();
        let mut b = Vec::with_capacity(18);
        for v in &r.values {
            b.clear();
            ferro_core::compact::encode_one(v, &mut b);
            w.bytes(&b);
        }
        w.end();
    }
    w.end();
}
