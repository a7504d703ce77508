//! Canonical KRPC encoding: keys are written in sorted order by hand, since
//! every KRPC dictionary has a fixed, small set of keys.

use super::{Body, KrpcError, Message, Query, Response, Want};

/// A minimal bencode writer for fixed-shape messages.
struct W(Vec<u8>);

impl W {
    /// Decimal digits without an allocation (this runs for every string).
    fn decimal(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.0
            .extend_from_slice(digits.get(at..).unwrap_or_default());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.decimal(b.len() as u64);
        self.0.push(b':');
        self.0.extend_from_slice(b);
    }
    fn int(&mut self, i: i64) {
        self.0.push(b'i');
        if i < 0 {
            self.0.push(b'-');
        }
        self.decimal(i.unsigned_abs());
        self.0.push(b'e');
    }
    fn key_bytes(&mut self, k: &str, v: &[u8]) {
        self.bytes(k.as_bytes());
        self.bytes(v);
    }
    fn key_int(&mut self, k: &str, v: i64) {
        self.bytes(k.as_bytes());
        self.int(v);
    }
}

/// Encodes `msg` as canonical bencode.
pub fn encode(msg: &Message) -> Vec<u8> {
    let mut w = W(Vec::with_capacity(256));
    w.0.push(b'd');
    // Top-level keys in sorted order: a, e, q, r, ro, t, v, y.
    match &msg.body {
        Body::Query(q) => {
            w.bytes(b"a");
            query_args(&mut w, q);
            w.key_bytes("q", q.method().as_bytes());
        }
        Body::Error(KrpcError { code, message }) => {
            w.bytes(b"e");
            w.0.push(b'l');
            w.int(*code);
            w.bytes(message.as_bytes());
            w.0.push(b'e');
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
    w.0.push(b'e');
    w.0
}

fn want(w: &mut W, want: &Option<Want>) {
    if let Some(want) = want {
        w.bytes(b"want");
        w.0.push(b'l');
        if want.v4 {
            w.bytes(b"n4");
        }
        if want.v6 {
            w.bytes(b"n6");
        }
        w.0.push(b'e');
    }
}

fn query_args(w: &mut W, q: &Query) {
    w.0.push(b'd');
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
    w.0.push(b'e');
}

fn response(w: &mut W, r: &Response) {
    w.0.push(b'd');
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
        w.0.push(b'l');
        for v in &r.values {
            let mut b = Vec::with_capacity(18);
            ferro_core::compact::encode_one(v, &mut b);
            w.bytes(&b);
        }
        w.0.push(b'e');
    }
    w.0.push(b'e');
}
