//! Bencode, the encoding of BitTorrent (BEP 3), for untrusted input.
//!
//! - [`decode`]: a zero-copy decoder over `&[u8]`. One pass fills a flat tape of
//!   tokens (one allocation per document); [`Value`]s borrow strings from the
//!   input and expose the exact raw bytes of any value ([`Value::raw`]), which
//!   the info-hash needs. Lenient by default (unsorted keys, as real torrents
//!   have them), strict on request ([`DecodeOptions::strict`]).
//! - [`Encoder`] and [`OwnedValue`]: canonical encoding into any
//!   [`BufMut`](::bytes::BufMut) (`Vec<u8>`, `BytesMut`).
//! - serde: [`from_bytes`] (borrowing `&'de [u8]` and `&'de str`) and [`to_bytes`]
//!   (keys sorted), with [`ByteBuf`] and [`bytes`] for byte-string fields.
//!
//! Every limit is enforced while decoding (nesting depth, number of values,
//! string lengths against the input) and every error names its kind and byte
//! offset; no input makes the decoder panic.
//!
//! ```
//! use ferro_bencode::{decode, DecodeOptions, ErrorKind};
//!
//! let doc = decode(b"d4:infod4:name3:fooe8:announce3:urle")?; // unsorted keys: lenient accepts
//! let root = doc.root().as_dict().unwrap();
//! assert_eq!(root.get(b"info").unwrap().raw(), b"d4:name3:fooe");
//!
//! let strict = ferro_bencode::decode_with(b"d1:bi1e1:ai2ee", &DecodeOptions::strict());
//! assert_eq!(strict.unwrap_err().kind(), &ErrorKind::UnsortedKeys);
//! # Ok::<(), ferro_bencode::Error>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

pub mod bytes;
mod de;
mod decode;
mod encode;
mod error;
mod owned;
mod scan;
mod ser;

pub use crate::bytes::ByteBuf;
pub use de::{from_bytes, from_bytes_with};
pub use decode::{
    DecodeOptions, Dict, Document, Kind, List, Value, decode, decode_prefix, decode_with,
};
pub use encode::Encoder;
pub use error::{Error, ErrorKind};
pub use owned::OwnedValue;
pub use ser::to_bytes;
