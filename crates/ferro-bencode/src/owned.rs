//! An owned bencode value.

use std::collections::BTreeMap;
use std::fmt;

use bytes::BufMut;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::encode::Encoder;

/// An owned bencode value. Dictionaries are `BTreeMap`s, so encoding is always
/// canonical (keys sorted, unique).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OwnedValue {
    /// An integer.
    Int(i64),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<OwnedValue>),
    /// A dictionary.
    Dict(BTreeMap<Vec<u8>, OwnedValue>),
}

impl OwnedValue {
    /// Canonical bencode of this value.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the canonical bencode of this value to `out`.
    pub fn encode_into<B: BufMut>(&self, out: &mut B) {
        let mut e = Encoder::new(out);
        self.write(&mut e);
    }

    fn write<B: BufMut>(&self, e: &mut Encoder<B>) {
        match self {
            OwnedValue::Int(i) => e.int(*i),
            OwnedValue::Bytes(b) => e.bytes(b),
            OwnedValue::List(l) => {
                e.begin_list();
                for v in l {
                    v.write(e);
                }
                e.end();
            }
            OwnedValue::Dict(d) => {
                e.begin_dict();
                for (k, v) in d {
                    e.bytes(k);
                    v.write(e);
                }
                e.end();
            }
        }
    }

    /// The byte string as UTF-8, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            OwnedValue::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

impl fmt::Debug for OwnedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OwnedValue::Int(i) => write!(f, "{i}"),
            OwnedValue::Bytes(b) => match std::str::from_utf8(b) {
                Ok(s) => write!(f, "{s:?}"),
                Err(_) => write!(f, "<{} bytes>", b.len()),
            },
            OwnedValue::List(l) => f.debug_list().entries(l).finish(),
            OwnedValue::Dict(d) => f
                .debug_map()
                .entries(d.iter().map(|(k, v)| (String::from_utf8_lossy(k), v)))
                .finish(),
        }
    }
}

impl From<i64> for OwnedValue {
    fn from(v: i64) -> Self {
        OwnedValue::Int(v)
    }
}

impl From<&str> for OwnedValue {
    fn from(v: &str) -> Self {
        OwnedValue::Bytes(v.as_bytes().to_vec())
    }
}

impl From<&[u8]> for OwnedValue {
    fn from(v: &[u8]) -> Self {
        OwnedValue::Bytes(v.to_vec())
    }
}

impl Serialize for OwnedValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            OwnedValue::Int(i) => s.serialize_i64(*i),
            OwnedValue::Bytes(b) => s.serialize_bytes(b),
            OwnedValue::List(l) => {
                let mut seq = s.serialize_seq(Some(l.len()))?;
                for v in l {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            OwnedValue::Dict(d) => {
                let mut map = s.serialize_map(Some(d.len()))?;
                for (k, v) in d {
                    map.serialize_entry(&crate::bytes::Bytes(k), v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for OwnedValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OwnedVisitor)
    }
}

struct OwnedVisitor;

impl<'de> Visitor<'de> for OwnedVisitor {
    type Value = OwnedValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a bencode value")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<OwnedValue, E> {
        Ok(OwnedValue::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<OwnedValue, E> {
        i64::try_from(v)
            .map(OwnedValue::Int)
            .map_err(|_| E::custom(format!("integer {v} overflows i64")))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<OwnedValue, E> {
        Ok(OwnedValue::Int(i64::from(v)))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<OwnedValue, E> {
        Ok(OwnedValue::Bytes(v.to_vec()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<OwnedValue, E> {
        Ok(OwnedValue::Bytes(v.as_bytes().to_vec()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OwnedValue, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(OwnedValue::List(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OwnedValue, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((k, v)) = map.next_entry::<crate::bytes::ByteBuf, OwnedValue>()? {
            out.insert(k.0, v);
        }
        Ok(OwnedValue::Dict(out))
    }
}
