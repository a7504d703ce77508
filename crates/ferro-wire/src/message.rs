//! Peer wire messages: BEP 3 core, BEP 5 `port`, BEP 6 fast extension, BEP 10 extended.
//!
//! On the wire every message but keep-alive is `<length: u32 BE><id: u8><payload>`;
//! keep-alive is a bare zero length.

use bytes::{BufMut, Bytes, BytesMut};

use crate::{Bitfield, Error};

/// A piece's index in the torrent (BEP 3 `index`).
pub type PieceIndex = u32;

/// Message ids (BEP 3, BEP 5, BEP 6, BEP 10; assignments listed in BEP 4).
pub mod id {
    /// `choke`
    pub const CHOKE: u8 = 0;
    /// `unchoke`
    pub const UNCHOKE: u8 = 1;
    /// `interested`
    pub const INTERESTED: u8 = 2;
    /// `not interested`
    pub const NOT_INTERESTED: u8 = 3;
    /// `have`
    pub const HAVE: u8 = 4;
    /// `bitfield`
    pub const BITFIELD: u8 = 5;
    /// `request`
    pub const REQUEST: u8 = 6;
    /// `piece`
    pub const PIECE: u8 = 7;
    /// `cancel`
    pub const CANCEL: u8 = 8;
    /// `port` (BEP 5)
    pub const PORT: u8 = 9;
    /// `suggest piece` (BEP 6)
    pub const SUGGEST_PIECE: u8 = 0x0d;
    /// `have all` (BEP 6)
    pub const HAVE_ALL: u8 = 0x0e;
    /// `have none` (BEP 6)
    pub const HAVE_NONE: u8 = 0x0f;
    /// `reject request` (BEP 6)
    pub const REJECT_REQUEST: u8 = 0x10;
    /// `allowed fast` (BEP 6)
    pub const ALLOWED_FAST: u8 = 0x11;
    /// `extended` (BEP 10)
    pub const EXTENDED: u8 = 20;
}

/// A block of a piece, as named by `request`, `cancel` and `reject request`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockRequest {
    /// The piece.
    pub index: PieceIndex,
    /// Byte offset within the piece.
    pub begin: u32,
    /// Block length in bytes (16 KiB by convention).
    pub length: u32,
}

/// The data of a `piece` message. `data` is a slice of the decoder's read
/// buffer: decoding never copies the block.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Block {
    /// The piece.
    pub index: PieceIndex,
    /// Byte offset within the piece.
    pub begin: u32,
    /// The block's bytes.
    pub data: Bytes,
}

impl Block {
    /// The 13 bytes that precede the data on the wire (length, id 7, index,
    /// begin). A writer that sends `header()` and then `data` with vectored
    /// I/O uploads a block without copying it into a write buffer.
    pub fn header(&self) -> [u8; 13] {
        let mut h = [0u8; 13];
        let len = u32::try_from(9 + self.data.len()).unwrap_or(u32::MAX);
        let mut w = &mut h[..];
        w.put_u32(len);
        w.put_u8(id::PIECE);
        w.put_u32(self.index);
        w.put_u32(self.begin);
        h
    }

    /// The request this block answers.
    pub fn request(&self) -> BlockRequest {
        BlockRequest {
            index: self.index,
            begin: self.begin,
            length: self.data.len() as u32,
        }
    }
}

/// One peer wire message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Zero-length message that keeps the connection open (BEP 3).
    KeepAlive,
    /// The sender will not serve requests.
    Choke,
    /// The sender will serve requests.
    Unchoke,
    /// The sender wants pieces the receiver has.
    Interested,
    /// The sender wants nothing from the receiver.
    NotInterested,
    /// The sender completed and verified a piece.
    Have(PieceIndex),
    /// The pieces the sender has; only right after the handshake.
    Bitfield(Bitfield),
    /// Asks for a block.
    Request(BlockRequest),
    /// A block of data.
    Piece(Block),
    /// Withdraws a request.
    Cancel(BlockRequest),
    /// The sender's DHT port (BEP 5).
    Port(u16),
    /// The sender suggests downloading this piece (BEP 6).
    SuggestPiece(PieceIndex),
    /// The sender has every piece; replaces a bitfield (BEP 6).
    HaveAll,
    /// The sender has no piece; replaces a bitfield (BEP 6).
    HaveNone,
    /// The sender will not serve this request (BEP 6).
    RejectRequest(BlockRequest),
    /// The receiver may request this piece even while choked (BEP 6).
    AllowedFast(PieceIndex),
    /// An extension protocol message (BEP 10). Extended id 0 is the extended
    /// handshake ([`ExtendedHandshake`](crate::ExtendedHandshake)); other ids are
    /// those the receiver assigned in its handshake's `m` dictionary.
    Extended {
        /// Extended message id.
        id: u8,
        /// The extension's payload, sliced from the read buffer.
        payload: Bytes,
    },
}

impl Message {
    /// The message id on the wire; `None` for keep-alive.
    pub fn id(&self) -> Option<u8> {
        Some(match self {
            Message::KeepAlive => return None,
            Message::Choke => id::CHOKE,
            Message::Unchoke => id::UNCHOKE,
            Message::Interested => id::INTERESTED,
            Message::NotInterested => id::NOT_INTERESTED,
            Message::Have(_) => id::HAVE,
            Message::Bitfield(_) => id::BITFIELD,
            Message::Request(_) => id::REQUEST,
            Message::Piece(_) => id::PIECE,
            Message::Cancel(_) => id::CANCEL,
            Message::Port(_) => id::PORT,
            Message::SuggestPiece(_) => id::SUGGEST_PIECE,
            Message::HaveAll => id::HAVE_ALL,
            Message::HaveNone => id::HAVE_NONE,
            Message::RejectRequest(_) => id::REJECT_REQUEST,
            Message::AllowedFast(_) => id::ALLOWED_FAST,
            Message::Extended { .. } => id::EXTENDED,
        })
    }

    /// Payload length (after the id byte).
    fn payload_len(&self) -> usize {
        match self {
            Message::KeepAlive
            | Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => 0,
            Message::Have(_) | Message::SuggestPiece(_) | Message::AllowedFast(_) => 4,
            Message::Port(_) => 2,
            Message::Request(_) | Message::Cancel(_) | Message::RejectRequest(_) => 12,
            Message::Bitfield(b) => b.as_bytes().len(),
            Message::Piece(b) => 8 + b.data.len(),
            Message::Extended { payload, .. } => 1 + payload.len(),
        }
    }

    /// Bytes this message takes on the wire, length prefix included.
    pub fn encoded_len(&self) -> usize {
        match self {
            Message::KeepAlive => 4,
            m => 5 + m.payload_len(),
        }
    }

    /// Appends the message, length prefix included, to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(self.encoded_len());
        let Some(id) = self.id() else {
            dst.put_u32(0);
            return;
        };
        // Lengths are bounded by the decoder's limits on the receiving side; a
        // caller building a message over 4 GiB is a programming error we clamp.
        dst.put_u32(u32::try_from(1 + self.payload_len()).unwrap_or(u32::MAX));
        dst.put_u8(id);
        match self {
            Message::Have(i) | Message::SuggestPiece(i) | Message::AllowedFast(i) => {
                dst.put_u32(*i)
            }
            Message::Port(p) => dst.put_u16(*p),
            Message::Request(r) | Message::Cancel(r) | Message::RejectRequest(r) => {
                dst.put_u32(r.index);
                dst.put_u32(r.begin);
                dst.put_u32(r.length);
            }
            Message::Bitfield(b) => dst.put_slice(b.as_bytes()),
            Message::Piece(b) => {
                dst.put_u32(b.index);
                dst.put_u32(b.begin);
                dst.put_slice(&b.data);
            }
            Message::Extended { id, payload } => {
                dst.put_u8(*id);
                dst.put_slice(payload);
            }
            _ => {}
        }
    }

    /// Encodes into a fresh buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut b);
        b.freeze()
    }

    /// Parses one message from its id and payload (the frame without its
    /// length prefix). `pieces` is the torrent's piece count when known; it
    /// sizes the bitfield and bounds piece indices. Returns `Ok(None)` for an
    /// id this crate does not know (the caller skips it).
    pub fn from_payload(
        msg_id: u8,
        payload: Bytes,
        pieces: Option<u32>,
    ) -> Result<Option<Message>, Error> {
        match msg_id {
            id::PIECE => Self::piece(payload, pieces).map(Some),
            id::EXTENDED => Self::extended(payload).map(Some),
            _ => Self::from_small_payload(msg_id, &payload, pieces),
        }
    }

    /// `piece`: the block stays a view of `payload`.
    fn piece(payload: Bytes, pieces: Option<u32>) -> Result<Message, Error> {
        if payload.len() < 8 {
            return Err(Error::PayloadLength {
                id: id::PIECE,
                len: payload.len(),
                expected: "at least 8",
            });
        }
        let index = be_u32(&payload, 0);
        if let Some(n) = pieces
            && index >= n
        {
            return Err(Error::PieceIndex { index, pieces: n });
        }
        Ok(Message::Piece(Block {
            index,
            begin: be_u32(&payload, 4),
            // A view into the same allocation: no copy of the block.
            data: payload.slice(8..),
        }))
    }

    /// `extended`: the extension's payload stays a view of `payload`.
    fn extended(payload: Bytes) -> Result<Message, Error> {
        let Some(&ext) = payload.first() else {
            return Err(Error::ExtendedEmpty);
        };
        Ok(Message::Extended {
            id: ext,
            payload: payload.slice(1..),
        })
    }

    /// Every message but `piece` and `extended` parsed from a borrowed payload,
    /// so the decoder needs no shared buffer handle (and no atomic reference
    /// count) for the small messages that make up most of a stream.
    #[inline]
    pub(crate) fn from_small_payload(
        msg_id: u8,
        payload: &[u8],
        pieces: Option<u32>,
    ) -> Result<Option<Message>, Error> {
        let fixed = |expected: usize, text: &'static str| {
            if payload.len() == expected {
                Ok(())
            } else {
                Err(Error::PayloadLength {
                    id: msg_id,
                    len: payload.len(),
                    expected: text,
                })
            }
        };
        let index_at = |at: usize| -> Result<PieceIndex, Error> {
            let i = be_u32(payload, at);
            match pieces {
                Some(n) if i >= n => Err(Error::PieceIndex {
                    index: i,
                    pieces: n,
                }),
                _ => Ok(i),
            }
        };
        let request = || -> Result<BlockRequest, Error> {
            fixed(12, "12")?;
            Ok(BlockRequest {
                index: index_at(0)?,
                begin: be_u32(payload, 4),
                length: be_u32(payload, 8),
            })
        };
        let msg = match msg_id {
            id::CHOKE => fixed(0, "0").map(|_| Message::Choke)?,
            id::UNCHOKE => fixed(0, "0").map(|_| Message::Unchoke)?,
            id::INTERESTED => fixed(0, "0").map(|_| Message::Interested)?,
            id::NOT_INTERESTED => fixed(0, "0").map(|_| Message::NotInterested)?,
            id::HAVE_ALL => fixed(0, "0").map(|_| Message::HaveAll)?,
            id::HAVE_NONE => fixed(0, "0").map(|_| Message::HaveNone)?,
            id::HAVE => {
                fixed(4, "4")?;
                Message::Have(index_at(0)?)
            }
            id::SUGGEST_PIECE => {
                fixed(4, "4")?;
                Message::SuggestPiece(index_at(0)?)
            }
            id::ALLOWED_FAST => {
                fixed(4, "4")?;
                Message::AllowedFast(index_at(0)?)
            }
            id::PORT => {
                fixed(2, "2")?;
                Message::Port(u16::from_be_bytes([
                    payload.first().copied().unwrap_or(0),
                    payload.get(1).copied().unwrap_or(0),
                ]))
            }
            id::REQUEST => Message::Request(request()?),
            id::CANCEL => Message::Cancel(request()?),
            id::REJECT_REQUEST => Message::RejectRequest(request()?),
            id::BITFIELD => Message::Bitfield(match pieces {
                Some(n) => Bitfield::from_bytes(payload, n as usize)?,
                None => Bitfield::from_bytes_unsized(payload),
            }),
            id::PIECE => Self::piece(Bytes::copy_from_slice(payload), pieces)?,
            id::EXTENDED => Self::extended(Bytes::copy_from_slice(payload))?,
            _ => return Ok(None),
        };
        Ok(Some(msg))
    }

    /// Parses one whole frame (length prefix included) from a buffer holding
    /// exactly that frame; for tests, fuzzing and one-off use. Streams use the
    /// [`MessageDecoder`](crate::MessageDecoder).
    pub fn from_frame(frame: Bytes, pieces: Option<u32>) -> Result<Option<Message>, Error> {
        let need = (be_u32(&frame, 0) as usize).saturating_add(4);
        if frame.len() < 4 || frame.len() < need {
            return Err(Error::Truncated {
                have: frame.len(),
                need: need.max(4),
            });
        }
        if need == 4 {
            return Ok(Some(Message::KeepAlive));
        }
        let msg_id = frame.get(4).copied().unwrap_or(0);
        Message::from_payload(msg_id, frame.slice(5..need), pieces)
    }
}

/// Big-endian u32 at `at`, 0 past the end (callers check lengths first).
pub(crate) fn be_u32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        w.copy_from_slice(s);
    }
    u32::from_be_bytes(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(m: &Message) -> Bytes {
        m.to_bytes()
    }

    #[test]
    fn known_encodings() {
        let cases: Vec<(Message, &[u8])> = vec![
            (Message::KeepAlive, &[0, 0, 0, 0]),
            (Message::Choke, &[0, 0, 0, 1, 0]),
            (Message::Unchoke, &[0, 0, 0, 1, 1]),
            (Message::Interested, &[0, 0, 0, 1, 2]),
            (Message::NotInterested, &[0, 0, 0, 1, 3]),
            (Message::Have(0x01020304), &[0, 0, 0, 5, 4, 1, 2, 3, 4]),
            (Message::Port(6881), &[0, 0, 0, 3, 9, 0x1a, 0xe1]),
            (Message::HaveAll, &[0, 0, 0, 1, 0x0e]),
            (Message::HaveNone, &[0, 0, 0, 1, 0x0f]),
            (Message::SuggestPiece(7), &[0, 0, 0, 5, 0x0d, 0, 0, 0, 7]),
            (Message::AllowedFast(7), &[0, 0, 0, 5, 0x11, 0, 0, 0, 7]),
            (
                Message::Request(BlockRequest {
                    index: 1,
                    begin: 0x4000,
                    length: 0x4000,
                }),
                &[0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0],
            ),
            (
                Message::Cancel(BlockRequest {
                    index: 1,
                    begin: 2,
                    length: 3,
                }),
                &[0, 0, 0, 13, 8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3],
            ),
            (
                Message::RejectRequest(BlockRequest {
                    index: 1,
                    begin: 2,
                    length: 3,
                }),
                &[0, 0, 0, 13, 0x10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3],
            ),
            (
                Message::Piece(Block {
                    index: 2,
                    begin: 4,
                    data: Bytes::from_static(b"abc"),
                }),
                &[0, 0, 0, 12, 7, 0, 0, 0, 2, 0, 0, 0, 4, b'a', b'b', b'c'],
            ),
            (
                Message::Bitfield(Bitfield::from_bytes(&[0xa0], 3).unwrap()),
                &[0, 0, 0, 2, 5, 0xa0],
            ),
            (
                Message::Extended {
                    id: 0,
                    payload: Bytes::from_static(b"de"),
                },
                &[0, 0, 0, 4, 20, 0, b'd', b'e'],
            ),
        ];
        for (m, wire) in cases {
            assert_eq!(&frame(&m)[..], wire, "{m:?}");
            assert_eq!(m.encoded_len(), wire.len());
            let pieces = matches!(m, Message::Bitfield(_)).then_some(3);
            let back = Message::from_frame(Bytes::copy_from_slice(wire), pieces).unwrap();
            assert_eq!(back, Some(m));
        }
    }

    #[test]
    fn rejects_bad_payload_lengths() {
        for (wire, want_id) in [
            (&[0u8, 0, 0, 2, 0, 0][..], 0u8),
            (&[0, 0, 0, 4, 4, 0, 0, 0], 4),
            (&[0, 0, 0, 2, 9, 0], 9),
            (&[0, 0, 0, 12, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 6),
            (&[0, 0, 0, 5, 7, 0, 0, 0, 0], 7),
            (&[0, 0, 0, 2, 0x0e, 0], 0x0e),
        ] {
            match Message::from_frame(Bytes::copy_from_slice(wire), None) {
                Err(Error::PayloadLength { id, .. }) => assert_eq!(id, want_id),
                other => panic!("{wire:?}: {other:?}"),
            }
        }
        assert!(matches!(
            Message::from_frame(Bytes::from_static(&[0, 0, 0, 1, 20]), None),
            Err(Error::ExtendedEmpty)
        ));
        assert!(matches!(
            Message::from_frame(Bytes::from_static(&[0, 0, 0, 5, 4, 0]), None),
            Err(Error::Truncated { have: 6, need: 9 })
        ));
        assert!(matches!(
            Message::from_frame(Bytes::from_static(&[0, 0]), None),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn checks_piece_index_when_count_known() {
        let wire = Message::Have(10).to_bytes();
        assert!(Message::from_frame(wire.clone(), None).unwrap().is_some());
        assert!(matches!(
            Message::from_frame(wire, Some(10)),
            Err(Error::PieceIndex {
                index: 10,
                pieces: 10
            })
        ));
        let req = Message::Request(BlockRequest {
            index: 5,
            begin: 0,
            length: 1,
        })
        .to_bytes();
        assert!(matches!(
            Message::from_frame(req, Some(5)),
            Err(Error::PieceIndex {
                index: 5,
                pieces: 5
            })
        ));
    }

    #[test]
    fn unknown_id_is_none() {
        assert_eq!(
            Message::from_frame(Bytes::from_static(&[0, 0, 0, 3, 0x42, 1, 2]), None).unwrap(),
            None
        );
    }

    #[test]
    fn piece_payload_is_a_view() {
        let wire = Message::Piece(Block {
            index: 0,
            begin: 0,
            data: Bytes::from(vec![7u8; 100]),
        })
        .to_bytes();
        let range = wire.as_ptr_range();
        let Some(Message::Piece(b)) = Message::from_frame(wire.clone(), None).unwrap() else {
            panic!("not a piece");
        };
        assert!(range.contains(&b.data.as_ptr()));
        let mut again = b.header().to_vec();
        again.extend_from_slice(&b.data);
        assert_eq!(&again[..], &wire[..]);
        assert_eq!(
            b.request(),
            BlockRequest {
                index: 0,
                begin: 0,
                length: 100
            }
        );
    }
}
