//! Byte strings in serde.
//!
//! serde treats `Vec<u8>`, `&[u8]` and `[u8; N]` as sequences, which would encode
//! as bencode *lists* of integers. Mark such fields
//! `#[serde(with = "ferro_bencode::bytes")]` (or use [`ByteBuf`]) to get byte strings.
//!
//! ```
//! #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
//! struct Announce<'a> {
//!     #[serde(with = "ferro_bencode::bytes")]
//!     info_hash: [u8; 20],
//!     #[serde(borrow, with = "ferro_bencode::bytes")]
//!     peers: &'a [u8],
//!     #[serde(with = "ferro_bencode::bytes")]
//!     key: Vec<u8>,
//! }
//! let a = Announce { info_hash: [7; 20], peers: &[1, 2, 3], key: b"k".to_vec() };
//! let enc = ferro_bencode::to_bytes(&a)?;
//! assert!(enc.starts_with(b"d9:info_hash20:"));
//! assert_eq!(ferro_bencode::from_bytes::<Announce<'_>>(&enc)?, a);
//! # Ok::<(), ferro_bencode::Error>(())
//! ```

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;

/// An owned byte string that (de)serializes as a bencode byte string.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteBuf(pub Vec<u8>);

impl fmt::Debug for ByteBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(s) => write!(f, "{s:?}"),
            Err(_) => write!(f, "<{} bytes>", self.0.len()),
        }
    }
}

impl From<Vec<u8>> for ByteBuf {
    fn from(v: Vec<u8>) -> Self {
        ByteBuf(v)
    }
}

impl std::ops::Deref for ByteBuf {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl serde::Serialize for ByteBuf {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <Vec<u8> as ByteField<'de>>::deserialize(d).map(ByteBuf)
    }
}

/// A borrowed byte string that serializes as a bencode byte string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes<'a>(pub &'a [u8]);

impl serde::Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// `#[serde(with = "ferro_bencode::bytes")]`: serializes anything that is `AsRef<[u8]>` as a byte string.
pub fn serialize<T: AsRef<[u8]> + ?Sized, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(v.as_ref())
}

/// `#[serde(with = "ferro_bencode::bytes")]`: deserializes a byte string into
/// `Vec<u8>`, `&'de [u8]` (with `#[serde(borrow)]`) or `[u8; N]` (exact length).
pub fn deserialize<'de, T: ByteField<'de>, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    T::deserialize(d)
}

/// The field types [`deserialize`] can produce from a byte string.
pub trait ByteField<'de>: Sized {
    /// Deserializes `Self` from a byte string.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        Ok(v.as_bytes().to_vec())
    }
}

impl<'de> ByteField<'de> for Vec<u8> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_byte_buf(BytesVisitor)
    }
}

struct BorrowedVisitor;

impl<'de> Visitor<'de> for BorrowedVisitor {
    type Value = &'de [u8];
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a borrowed byte string")
    }
    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<&'de [u8], E> {
        Ok(v)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<&'de [u8], E> {
        Ok(v.as_bytes())
    }
}

impl<'de> ByteField<'de> for &'de [u8] {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_bytes(BorrowedVisitor)
    }
}

impl<'de, const N: usize> ByteField<'de> for [u8; N] {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = d.deserialize_bytes(BytesVisitor)?;
        <[u8; N]>::try_from(v.as_slice()).map_err(|_| {
            de::Error::invalid_length(v.len(), &format!("a byte string of {N} bytes").as_str())
        })
    }
}
