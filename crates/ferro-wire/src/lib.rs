//! The BitTorrent peer wire protocol as a sans-IO codec.
//!
//! - [`Handshake`] and the incremental [`HandshakeDecoder`] (BEP 3), with the
//!   [`Reserved`] extension bits of BEP 10 (extension protocol), BEP 6 (fast
//!   extension) and BEP 5 (DHT).
//! - [`Message`]: every BEP 3 message, BEP 5 `port`, the BEP 6 fast extension
//!   and BEP 10 `extended`; [`ExtendedHandshake`] is the typed BEP 10 handshake.
//! - [`MessageDecoder`]: takes bytes as they arrive and yields messages; a
//!   `piece` block is a [`Bytes`](bytes::Bytes) view of the read buffer, never
//!   copied. Limits from [`Config`]; unknown message ids are skipped.
//! - [`Bitfield`], [`allowed_fast_set`] (BEP 6), and peer ids:
//!   [`generate_peer_id`] (`-FE0100-…`) and [`client_info`] (BEP 20).
//! - With the `tokio` feature, `tokio_util::codec` adapters in [`tokio_codec`].
//!
//! No sockets, no runtime and no clock in the core: feed it bytes, get
//! messages back.
//!
//! ```
//! use bytes::BytesMut;
//! use ferro_core::{InfoHash, PeerId};
//! use ferro_wire::{Block, Handshake, HandshakeDecoder, Message, MessageDecoder};
//!
//! // What the remote peer sends: a handshake, then messages.
//! let theirs = Handshake::new(InfoHash([7; 20]), ferro_wire::generate_peer_id());
//! let mut wire = BytesMut::new();
//! theirs.encode(&mut wire);
//! Message::Unchoke.encode(&mut wire);
//! Message::Piece(Block { index: 0, begin: 0, data: vec![1u8; 16384].into() }).encode(&mut wire);
//!
//! // Our side: the bytes may arrive in any pieces; here all at once.
//! let mut read_buf = wire;
//! let hs = HandshakeDecoder::new().decode(&mut read_buf)?.expect("68 bytes are in");
//! assert!(hs.reserved.extension_protocol());
//! assert_eq!(ferro_wire::client_info(&hs.peer_id).unwrap().name, "Ferro");
//!
//! let mut decoder = MessageDecoder::default();
//! assert_eq!(decoder.decode(&mut read_buf)?, Some(Message::Unchoke));
//! let Some(Message::Piece(block)) = decoder.decode(&mut read_buf)? else { panic!() };
//! assert_eq!(block.data.len(), 16384);
//! assert_eq!(decoder.decode(&mut read_buf)?, None); // needs more bytes
//! # Ok::<(), ferro_wire::Error>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod bitfield;
mod codec;
mod error;
mod extended;
mod fast;
mod handshake;
mod message;
mod peer_id;

pub use bitfield::Bitfield;
pub use codec::{BLOCK_LEN, Config, MessageDecoder};
pub use error::Error;
pub use extended::{EXTENDED_HANDSHAKE_ID, ExtendedHandshake};
pub use fast::{ALLOWED_FAST_COUNT, allowed_fast_set, allowed_fast_set_from_key};
pub use handshake::{HANDSHAKE_LEN, Handshake, HandshakeDecoder, PROTOCOL, Reserved};
pub use message::{Block, BlockRequest, Message, PieceIndex, id};
pub use peer_id::{
    CLIENT_CODE, ClientInfo, client_info, generate_peer_id, generate_peer_id_with, peer_id_prefix,
};

pub use ferro_core::{InfoHash, PeerId};

#[cfg(feature = "tokio")]
pub mod tokio_codec;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
