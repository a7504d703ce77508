//! Which pieces a peer has: one bit per piece, high bit of byte 0 is piece 0 (BEP 3).

use crate::{Error, PieceIndex};

/// A compact set of piece indices with an O(1) count of set bits.
///
/// Spare bits past the last piece are always zero: [`Bitfield::from_bytes`]
/// rejects a bitfield with any of them set, as BEP 3 requires.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Bitfield {
    bytes: Vec<u8>,
    len: usize,
    ones: usize,
}

fn byte_len(pieces: usize) -> usize {
    pieces.div_ceil(8)
}

/// Counts set bits 8 bytes at a time.
fn popcount(bytes: &[u8]) -> usize {
    let mut chunks = bytes.chunks_exact(8);
    let mut n = 0usize;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        n += u64::from_ne_bytes(w).count_ones() as usize;
    }
    n + chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as usize)
        .sum::<usize>()
}

impl Bitfield {
    /// No piece set, for a torrent of `pieces` pieces.
    pub fn new(pieces: usize) -> Self {
        Bitfield {
            bytes: vec![0; byte_len(pieces)],
            len: pieces,
            ones: 0,
        }
    }

    /// Every piece set (a seed).
    pub fn full(pieces: usize) -> Self {
        let mut bytes = vec![0xff; byte_len(pieces)];
        if let Some(last) = bytes.last_mut() {
            *last &= spare_mask(pieces);
        }
        Bitfield {
            bytes,
            len: pieces,
            ones: pieces,
        }
    }

    /// A bitfield received for a torrent of `pieces` pieces: the length must be
    /// exactly `ceil(pieces / 8)` bytes and the spare bits zero.
    pub fn from_bytes(bytes: &[u8], pieces: usize) -> Result<Self, Error> {
        let expected = byte_len(pieces);
        if bytes.len() != expected {
            return Err(Error::BitfieldLength {
                len: bytes.len(),
                pieces,
                expected,
            });
        }
        if let Some(&last) = bytes.last()
            && last & !spare_mask(pieces) != 0
        {
            return Err(Error::BitfieldSpareBits {
                pieces,
                last_byte: last,
            });
        }
        Ok(Bitfield {
            bytes: bytes.to_vec(),
            len: pieces,
            ones: popcount(bytes),
        })
    }

    /// A bitfield received before the piece count is known (a magnet link still
    /// fetching metadata): its length is taken as `8 * bytes.len()`. Check it
    /// later with [`with_piece_count`](Self::with_piece_count).
    pub fn from_bytes_unsized(bytes: &[u8]) -> Self {
        Bitfield {
            bytes: bytes.to_vec(),
            len: bytes.len().saturating_mul(8),
            ones: popcount(bytes),
        }
    }

    /// Re-checks this bitfield against the piece count once it is known.
    pub fn with_piece_count(self, pieces: usize) -> Result<Self, Error> {
        if self.len == pieces {
            return Ok(self);
        }
        Self::from_bytes(&self.bytes, pieces)
    }

    /// Number of pieces (bits) this bitfield covers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when it covers no piece at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of pieces set; O(1).
    pub fn count_ones(&self) -> usize {
        self.ones
    }

    /// True when every piece is set (the peer is a seed).
    pub fn all(&self) -> bool {
        self.ones == self.len
    }

    /// True when no piece is set.
    pub fn none(&self) -> bool {
        self.ones == 0
    }

    /// Whether piece `index` is set; `false` past the end.
    pub fn get(&self, index: PieceIndex) -> bool {
        let i = index as usize;
        i < self.len
            && self
                .bytes
                .get(i / 8)
                .is_some_and(|b| b & (0x80 >> (i % 8)) != 0)
    }

    /// Sets or clears piece `index`; returns `false` (and changes nothing) when
    /// `index` is past the end.
    pub fn set(&mut self, index: PieceIndex, on: bool) -> bool {
        let i = index as usize;
        if i >= self.len {
            return false;
        }
        let Some(b) = self.bytes.get_mut(i / 8) else {
            return false;
        };
        let mask = 0x80 >> (i % 8);
        let was = *b & mask != 0;
        if on && !was {
            *b |= mask;
            self.ones += 1;
        } else if !on && was {
            *b &= !mask;
            self.ones -= 1;
        }
        true
    }

    /// The set piece indices in increasing order.
    pub fn iter_ones(&self) -> impl Iterator<Item = PieceIndex> + '_ {
        self.bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b != 0)
            .flat_map(|(i, b)| {
                (0..8u32)
                    .filter(move |bit| b & (0x80 >> bit) != 0)
                    .map(move |bit| (i as u32) * 8 + bit)
            })
    }

    /// The bytes as sent on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Mask of the bits in the last byte that belong to real pieces.
fn spare_mask(pieces: usize) -> u8 {
    match pieces % 8 {
        0 => 0xff,
        r => !(0xffu8 >> r),
    }
}

impl std::fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bitfield({}/{} pieces)", self.ones, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_is_msb_first() {
        let mut b = Bitfield::new(10);
        assert!(b.set(0, true));
        assert!(b.set(9, true));
        assert!(!b.set(10, true));
        assert_eq!(b.as_bytes(), &[0x80, 0x40]);
        assert_eq!(b.count_ones(), 2);
        assert!(b.get(9) && !b.get(8) && !b.get(10) && !b.get(u32::MAX));
        assert_eq!(b.iter_ones().collect::<Vec<_>>(), vec![0, 9]);
        b.set(9, false);
        b.set(9, false);
        assert_eq!(b.count_ones(), 1);
        assert_eq!(format!("{b:?}"), "Bitfield(1/10 pieces)");
    }

    #[test]
    fn full_and_empty() {
        let f = Bitfield::full(10);
        assert_eq!(f.as_bytes(), &[0xff, 0xc0]);
        assert!(f.all() && !f.none());
        assert_eq!(Bitfield::full(16).as_bytes(), &[0xff, 0xff]);
        let e = Bitfield::new(0);
        assert!(e.is_empty() && e.all() && e.none());
        assert_eq!(Bitfield::from_bytes(&[], 0).unwrap(), e);
    }

    #[test]
    fn rejects_wrong_length_and_spare_bits() {
        assert!(matches!(
            Bitfield::from_bytes(&[0xff], 10),
            Err(Error::BitfieldLength {
                len: 1,
                pieces: 10,
                expected: 2
            })
        ));
        assert!(matches!(
            Bitfield::from_bytes(&[0xff, 0xe0], 10),
            Err(Error::BitfieldSpareBits {
                pieces: 10,
                last_byte: 0xe0
            })
        ));
        assert!(Bitfield::from_bytes(&[0xff, 0xc0], 10).is_ok());
        assert!(Bitfield::from_bytes(&[0xff, 0xff], 16).is_ok());
    }

    #[test]
    fn unsized_then_checked() {
        let b = Bitfield::from_bytes_unsized(&[0xff, 0xc0]);
        assert_eq!(b.len(), 16);
        assert_eq!(b.count_ones(), 10);
        let b = b.with_piece_count(10).unwrap();
        assert!(b.all());
        assert!(
            Bitfield::from_bytes_unsized(&[0xff, 0xc0])
                .with_piece_count(9)
                .is_err()
        );
    }

    proptest! {
        #[test]
        fn count_matches_naive(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let b = Bitfield::from_bytes_unsized(&bytes);
            let naive: usize = (0..b.len() as u32).filter(|i| b.get(*i)).count();
            prop_assert_eq!(b.count_ones(), naive);
            prop_assert_eq!(b.iter_ones().count(), naive);
        }

        #[test]
        fn round_trip(pieces in 0usize..200, seed in any::<u64>()) {
            let mut b = Bitfield::new(pieces);
            for i in 0..pieces {
                b.set(i as u32, (seed.rotate_left(i as u32) & 1) == 1);
            }
            let again = Bitfield::from_bytes(b.as_bytes(), pieces).unwrap();
            prop_assert_eq!(again, b);
        }
    }
}
