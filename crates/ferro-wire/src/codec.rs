//! The sans-IO message decoder: feed it the read buffer as bytes arrive, take
//! messages out. No socket, no clock.

use bytes::{Buf, BytesMut};

use crate::message::{be_u32, id};
use crate::{Error, Message};

/// Size of a block by convention (BEP 3 practice; larger requests are refused
/// by most clients).
pub const BLOCK_LEN: u32 = 16 * 1024;

/// Limits the decoder enforces. Defaults follow the design brief: a `piece`
/// may carry at most one 16 KiB block; any other message is at most 1 MiB (a
/// bitfield for a very large torrent is the largest normal message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Largest block a `piece` message may carry (default 16 KiB).
    pub max_block_len: u32,
    /// Largest length prefix for every other message (default 1 MiB).
    pub max_message_len: u32,
    /// The torrent's piece count when known: bitfields must then be exactly
    /// `ceil(pieces / 8)` bytes and piece indices below it.
    pub piece_count: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_block_len: BLOCK_LEN,
            max_message_len: 1024 * 1024,
            piece_count: None,
        }
    }
}

/// Decodes a stream of length-prefixed messages (everything after the handshake).
///
/// [`decode`](Self::decode) takes whole messages off the front of the read
/// buffer. A `piece` block is handed out as a [`Bytes`](bytes::Bytes) view of
/// that buffer (`split_to` + `freeze`), never copied. Unknown message ids are
/// skipped without being buffered; lengths above [`Config`]'s limits are errors
/// as soon as the 5-byte header is in.
#[derive(Clone, Debug, Default)]
pub struct MessageDecoder {
    config: Config,
    /// Bytes of an unknown message still to be discarded.
    skip: usize,
    skipped: u64,
}

impl MessageDecoder {
    /// A decoder with the given limits.
    pub fn new(config: Config) -> Self {
        MessageDecoder {
            config,
            skip: 0,
            skipped: 0,
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sets the piece count once it is known (e.g. after a magnet link's
    /// metadata arrived).
    pub fn set_piece_count(&mut self, pieces: Option<u32>) {
        self.config.piece_count = pieces;
    }

    /// How many messages with unknown ids were skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Largest length prefix accepted for message `msg_id`.
    fn max_len(&self, msg_id: u8) -> u32 {
        match msg_id {
            id::PIECE => self.config.max_block_len.saturating_add(9),
            _ => self.config.max_message_len,
        }
    }

    /// Takes the next message off the front of `buf`. `Ok(None)` means more
    /// bytes are needed; call again after the next read. An error means the
    /// peer broke the protocol: drop the connection.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, Error> {
        // Bounded: each pass either returns or consumes one whole unknown message.
        loop {
            if self.skip > 0 {
                let n = self.skip.min(buf.len());
                buf.advance(n);
                self.skip -= n;
                if self.skip > 0 {
                    return Ok(None);
                }
            }
            if buf.len() < 4 {
                return Ok(None);
            }
            let len = be_u32(buf, 0);
            if len == 0 {
                buf.advance(4);
                return Ok(Some(Message::KeepAlive));
            }
            let Some(&msg_id) = buf.get(4) else {
                return Ok(None);
            };
            let max = self.max_len(msg_id);
            if len > max {
                return Err(Error::MessageTooLong {
                    id: msg_id,
                    len,
                    max,
                });
            }
            // A bitfield's exact size is known before its bytes arrive: fail early.
            if msg_id == id::BITFIELD
                && let Some(pieces) = self.config.piece_count
            {
                let expected = (pieces as usize).div_ceil(8);
                if len as usize != expected + 1 {
                    return Err(Error::BitfieldLength {
                        len: len as usize - 1,
                        pieces: pieces as usize,
                        expected,
                    });
                }
            }
            let total = (len as usize).saturating_add(4);
            if !is_known(msg_id) {
                // BEP 3/BEP 10: ignore what we do not understand; never buffer it.
                self.skipped += 1;
                self.skip = total;
                continue;
            }
            if buf.len() < total {
                // Make room for the whole frame once, so a 16 KiB block lands in
                // one allocation and is never moved while it arrives.
                buf.reserve(total - buf.len());
                return Ok(None);
            }
            let parsed = if msg_id == id::PIECE || msg_id == id::EXTENDED {
                // Hand the bytes out as they are: split the frame off the read
                // buffer and freeze it; the block is a view, never a copy.
                let mut frame = buf.split_to(total);
                frame.advance(5);
                Message::from_payload(msg_id, frame.freeze(), self.config.piece_count)?
            } else {
                let m = Message::from_small_payload(
                    msg_id,
                    buf.get(5..total).unwrap_or_default(),
                    self.config.piece_count,
                )?;
                buf.advance(total);
                m
            };
            if let Some(m) = parsed {
                return Ok(Some(m));
            }
        }
    }
}

fn is_known(msg_id: u8) -> bool {
    matches!(
        msg_id,
        0..=9 | id::SUGGEST_PIECE..=id::ALLOWED_FAST | id::EXTENDED
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Bitfield, Block, BlockRequest};
    use bytes::{BufMut, Bytes};
    use proptest::prelude::*;

    fn all_kinds() -> Vec<Message> {
        vec![
            Message::KeepAlive,
            Message::Choke,
            Message::Unchoke,
            Message::Interested,
            Message::NotInterested,
            Message::Have(3),
            Message::Bitfield(Bitfield::from_bytes(&[0xff, 0x80], 9).unwrap()),
            Message::Request(BlockRequest {
                index: 1,
                begin: 16384,
                length: 16384,
            }),
            Message::Piece(Block {
                index: 1,
                begin: 0,
                data: Bytes::from(vec![9u8; 16384]),
            }),
            Message::Cancel(BlockRequest {
                index: 1,
                begin: 16384,
                length: 16384,
            }),
            Message::Port(6881),
            Message::SuggestPiece(2),
            Message::HaveAll,
            Message::HaveNone,
            Message::RejectRequest(BlockRequest {
                index: 8,
                begin: 0,
                length: 100,
            }),
            Message::AllowedFast(4),
            Message::Extended {
                id: 0,
                payload: Bytes::from_static(b"d1:md6:ut_pexi1eee"),
            },
            Message::Extended {
                id: 3,
                payload: Bytes::new(),
            },
        ]
    }

    fn stream(msgs: &[Message]) -> Vec<u8> {
        let mut b = BytesMut::new();
        for m in msgs {
            m.encode(&mut b);
        }
        b.to_vec()
    }

    fn decode_all(dec: &mut MessageDecoder, buf: &mut BytesMut) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(m) = dec.decode(buf).unwrap() {
            out.push(m);
        }
        out
    }

    #[test]
    fn round_trip_every_message_at_every_split() {
        let msgs = all_kinds();
        let wire = stream(&msgs);
        let config = Config {
            piece_count: Some(9),
            ..Config::default()
        };
        // Every split point of the whole stream into two reads.
        for split in 0..=wire.len() {
            let mut dec = MessageDecoder::new(config);
            let mut buf = BytesMut::from(&wire[..split]);
            let mut got = decode_all(&mut dec, &mut buf);
            buf.extend_from_slice(&wire[split..]);
            got.extend(decode_all(&mut dec, &mut buf));
            assert_eq!(got, msgs, "split at {split}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn byte_at_a_time() {
        let msgs = all_kinds();
        let wire = stream(&msgs);
        let mut dec = MessageDecoder::new(Config {
            piece_count: Some(9),
            ..Config::default()
        });
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in wire {
            buf.put_u8(b);
            got.extend(decode_all(&mut dec, &mut buf));
        }
        assert_eq!(got, msgs);
    }

    #[test]
    fn piece_block_is_not_copied() {
        let mut wire = BytesMut::new();
        for i in 0..4 {
            Message::Piece(Block {
                index: i,
                begin: 0,
                data: Bytes::from(vec![i as u8; 16384]),
            })
            .encode(&mut wire);
        }
        let buf_range = wire.as_ptr_range();
        let mut dec = MessageDecoder::default();
        let mut n = 0;
        while let Some(m) = dec.decode(&mut wire).unwrap() {
            let Message::Piece(b) = m else {
                panic!("{m:?}")
            };
            let data = b.data.as_ptr_range();
            // The block lies inside the allocation the bytes were read into.
            assert!(buf_range.start <= data.start && data.end <= buf_range.end);
            assert_eq!(b.data.len(), 16384);
            assert!(b.data.iter().all(|x| *x == n as u8));
            n += 1;
        }
        assert_eq!(n, 4);
    }

    #[test]
    fn partial_piece_reserves_whole_frame() {
        let wire = Message::Piece(Block {
            index: 0,
            begin: 0,
            data: Bytes::from(vec![1u8; 16384]),
        })
        .to_bytes();
        let mut buf = BytesMut::with_capacity(16);
        buf.extend_from_slice(&wire[..16]);
        let mut dec = MessageDecoder::default();
        assert_eq!(dec.decode(&mut buf).unwrap(), None);
        assert!(buf.capacity() >= wire.len());
        let before = buf.as_ptr();
        buf.extend_from_slice(&wire[16..]);
        assert_eq!(
            buf.as_ptr(),
            before,
            "no reallocation while the block arrives"
        );
        let Some(Message::Piece(b)) = dec.decode(&mut buf).unwrap() else {
            panic!()
        };
        assert_eq!(b.data.as_ptr(), before.wrapping_add(13));
    }

    #[test]
    fn limits() {
        let mut dec = MessageDecoder::default();
        // A piece one byte over 16 KiB + 9.
        let mut buf = BytesMut::from(&[0, 0, 0x40, 0x0a, 7][..]);
        assert!(matches!(
            dec.decode(&mut buf),
            Err(Error::MessageTooLong {
                id: 7,
                len: 16394,
                max: 16393
            })
        ));
        let mut buf = BytesMut::from(&[0, 0, 0x40, 0x09, 7][..]);
        assert_eq!(dec.decode(&mut buf).unwrap(), None);
        // Anything else over 1 MiB, even an unknown id.
        for msg_id in [5u8, 20, 0x42] {
            let mut buf = BytesMut::from(&[0, 0x10, 0, 1, msg_id][..]);
            assert!(matches!(
                MessageDecoder::default().decode(&mut buf),
                Err(Error::MessageTooLong {
                    len: 0x100001,
                    max: 0x100000,
                    ..
                })
            ));
        }
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, 0][..]);
        assert!(dec.decode(&mut buf).is_err());
        // Configurable block size.
        let mut big = MessageDecoder::new(Config {
            max_block_len: 32768,
            ..Config::default()
        });
        let mut buf = BytesMut::from(&[0, 0, 0x80, 0x09, 7][..]);
        assert_eq!(big.decode(&mut buf).unwrap(), None);
    }

    #[test]
    fn bitfield_sized_by_piece_count() {
        let mut dec = MessageDecoder::new(Config {
            piece_count: Some(20),
            ..Config::default()
        });
        // 20 pieces need 3 bytes; a 4-byte bitfield fails on its header alone.
        let mut buf = BytesMut::from(&[0, 0, 0, 5, 5][..]);
        assert!(matches!(
            dec.decode(&mut buf),
            Err(Error::BitfieldLength {
                len: 4,
                pieces: 20,
                expected: 3
            })
        ));
        let mut buf = BytesMut::from(&[0, 0, 0, 4, 5, 0xff, 0xff, 0xf8][..]);
        assert!(matches!(
            dec.decode(&mut buf),
            Err(Error::BitfieldSpareBits { .. })
        ));
        let mut buf = BytesMut::from(&[0, 0, 0, 4, 5, 0xff, 0xff, 0xf0][..]);
        let Some(Message::Bitfield(b)) = dec.decode(&mut buf).unwrap() else {
            panic!()
        };
        assert!(b.all());
        // Unknown piece count: any length is taken as-is.
        dec.set_piece_count(None);
        let mut buf = BytesMut::from(&[0, 0, 0, 5, 5, 1, 2, 3, 4][..]);
        let Some(Message::Bitfield(b)) = dec.decode(&mut buf).unwrap() else {
            panic!()
        };
        assert_eq!(b.len(), 32);
    }

    #[test]
    fn unknown_ids_are_skipped_unbuffered() {
        let mut wire = vec![0, 0, 0, 9, 0x42, 1, 2, 3, 4, 5, 6, 7, 8];
        wire.extend_from_slice(&[0, 0, 0, 1, 2]);
        wire.extend_from_slice(&[0, 0, 0, 1, 0xff]);
        wire.extend_from_slice(&[0, 0, 0, 0]);
        for split in 0..=wire.len() {
            let mut dec = MessageDecoder::default();
            let mut buf = BytesMut::from(&wire[..split]);
            let mut got = decode_all(&mut dec, &mut buf);
            buf.extend_from_slice(&wire[split..]);
            got.extend(decode_all(&mut dec, &mut buf));
            assert_eq!(
                got,
                vec![Message::Interested, Message::KeepAlive],
                "split {split}"
            );
            assert_eq!(dec.skipped(), 2);
        }
    }

    #[test]
    fn malformed_known_ids_are_errors() {
        let mut dec = MessageDecoder::default();
        let mut buf = BytesMut::from(&[0, 0, 0, 2, 1, 0][..]);
        assert!(matches!(
            dec.decode(&mut buf),
            Err(Error::PayloadLength { id: 1, .. })
        ));
        let mut buf = BytesMut::from(&[0, 0, 0, 1, 7][..]);
        assert!(matches!(
            dec.decode(&mut buf),
            Err(Error::PayloadLength { id: 7, .. })
        ));
    }

    fn arb_request() -> impl Strategy<Value = BlockRequest> {
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(index, begin, length)| BlockRequest {
            index,
            begin,
            length,
        })
    }

    fn arb_message() -> impl Strategy<Value = Message> {
        prop_oneof![
            Just(Message::KeepAlive),
            Just(Message::Choke),
            Just(Message::Unchoke),
            Just(Message::Interested),
            Just(Message::NotInterested),
            Just(Message::HaveAll),
            Just(Message::HaveNone),
            any::<u32>().prop_map(Message::Have),
            any::<u32>().prop_map(Message::SuggestPiece),
            any::<u32>().prop_map(Message::AllowedFast),
            any::<u16>().prop_map(Message::Port),
            arb_request().prop_map(Message::Request),
            arb_request().prop_map(Message::Cancel),
            arb_request().prop_map(Message::RejectRequest),
            proptest::collection::vec(any::<u8>(), 0..64)
                .prop_map(|b| Message::Bitfield(Bitfield::from_bytes_unsized(&b))),
            (
                any::<u32>(),
                any::<u32>(),
                proptest::collection::vec(any::<u8>(), 0..2000)
            )
                .prop_map(|(index, begin, d)| Message::Piece(Block {
                    index,
                    begin,
                    data: d.into()
                })),
            (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..200)).prop_map(|(id, p)| {
                Message::Extended {
                    id,
                    payload: p.into(),
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn prop_round_trip(msgs in proptest::collection::vec(arb_message(), 0..20),
                           cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6)) {
            let wire = stream(&msgs);
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
            points.push(wire.len());
            points.sort_unstable();
            let mut dec = MessageDecoder::default();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut at = 0;
            for p in points {
                buf.extend_from_slice(&wire[at..p]);
                at = p;
                got.extend(decode_all(&mut dec, &mut buf));
            }
            prop_assert_eq!(got, msgs);
        }

        #[test]
        fn prop_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut dec = MessageDecoder::new(Config { piece_count: Some(17), ..Config::default() });
            let mut buf = BytesMut::from(&bytes[..]);
            for _ in 0..400 {
                match dec.decode(&mut buf) {
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }
}
