//! The BEP 3 handshake: `<pstrlen=19><pstr="BitTorrent protocol"><reserved: 8>
//! <info_hash: 20><peer_id: 20>`, 68 bytes in all.

use bytes::{Buf, BufMut, BytesMut};
use ferro_core::{InfoHash, PeerId};

use crate::Error;

/// The protocol string of BEP 3.
pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";
/// Length of a handshake on the wire.
pub const HANDSHAKE_LEN: usize = 68;

/// The 8 reserved handshake bytes, where peers advertise protocol extensions
/// (bit assignments from BEP 4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Reserved(pub [u8; 8]);

impl Reserved {
    /// No extension advertised.
    pub const NONE: Reserved = Reserved([0; 8]);

    /// What Ferro advertises by default: the extension protocol (BEP 10) and the
    /// fast extension (BEP 6). The DHT bit is left to the caller, who knows
    /// whether a DHT node runs.
    pub fn ferro_default() -> Self {
        Self::NONE.with_extension_protocol(true).with_fast(true)
    }

    /// BEP 10: `reserved[5] & 0x10`.
    pub fn extension_protocol(&self) -> bool {
        self.0[5] & 0x10 != 0
    }
    /// BEP 6: `reserved[7] & 0x04`.
    pub fn fast(&self) -> bool {
        self.0[7] & 0x04 != 0
    }
    /// BEP 5: `reserved[7] & 0x01`.
    pub fn dht(&self) -> bool {
        self.0[7] & 0x01 != 0
    }
    /// Sets or clears the extension protocol bit (BEP 10).
    pub fn with_extension_protocol(self, on: bool) -> Self {
        self.with_bit(5, 0x10, on)
    }
    /// Sets or clears the fast extension bit (BEP 6).
    pub fn with_fast(self, on: bool) -> Self {
        self.with_bit(7, 0x04, on)
    }
    /// Sets or clears the DHT bit (BEP 5).
    pub fn with_dht(self, on: bool) -> Self {
        self.with_bit(7, 0x01, on)
    }

    fn with_bit(mut self, byte: usize, mask: u8, on: bool) -> Self {
        if let Some(b) = self.0.get_mut(byte) {
            if on {
                *b |= mask;
            } else {
                *b &= !mask;
            }
        }
        self
    }
}

impl std::fmt::Debug for Reserved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reserved(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(
            f,
            "; ext={} fast={} dht={})",
            self.extension_protocol(),
            self.fast(),
            self.dht()
        )
    }
}

/// A peer's handshake (BEP 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handshake {
    /// Extension bits.
    pub reserved: Reserved,
    /// The torrent this connection is for.
    pub info_hash: InfoHash,
    /// The sender's peer id.
    pub peer_id: PeerId,
}

impl Handshake {
    /// A handshake with [`Reserved::ferro_default`] bits.
    pub fn new(info_hash: InfoHash, peer_id: PeerId) -> Self {
        Handshake {
            reserved: Reserved::ferro_default(),
            info_hash,
            peer_id,
        }
    }

    /// The 68 bytes on the wire.
    pub fn to_bytes(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0u8; HANDSHAKE_LEN];
        let mut w = &mut out[..];
        w.put_u8(19);
        w.put_slice(PROTOCOL);
        w.put_slice(&self.reserved.0);
        w.put_slice(self.info_hash.as_bytes());
        w.put_slice(self.peer_id.as_bytes());
        out
    }

    /// Appends the 68 bytes to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.extend_from_slice(&self.to_bytes());
    }

    /// Parses exactly one 68-byte handshake.
    pub fn from_bytes(b: &[u8; HANDSHAKE_LEN]) -> Result<Self, Error> {
        check_prefix(b)?;
        let mut rest = &b[20..];
        let mut reserved = [0u8; 8];
        rest.copy_to_slice(&mut reserved);
        let mut ih = [0u8; 20];
        rest.copy_to_slice(&mut ih);
        let mut pid = [0u8; 20];
        rest.copy_to_slice(&mut pid);
        Ok(Handshake {
            reserved: Reserved(reserved),
            info_hash: InfoHash(ih),
            peer_id: PeerId(pid),
        })
    }
}

/// Checks as much of the 20-byte `<19>BitTorrent protocol` prefix as `b` holds,
/// so a peer speaking something else is dropped at its first wrong byte.
fn check_prefix(b: &[u8]) -> Result<(), Error> {
    let Some(&len) = b.first() else {
        return Ok(());
    };
    if len != 19 {
        return Err(Error::ProtocolLength(len));
    }
    let got = b.get(1..b.len().min(20)).unwrap_or_default();
    if !PROTOCOL.starts_with(got) {
        return Err(Error::ProtocolName(
            String::from_utf8_lossy(got).into_owned(),
        ));
    }
    Ok(())
}

/// Incremental handshake decoder: call [`decode`](Self::decode) each time bytes
/// arrive in the read buffer. It completes from input split at any byte, fails
/// as soon as the protocol prefix goes wrong, and leaves bytes after the
/// handshake (the first messages) in the buffer for the [`MessageDecoder`](crate::MessageDecoder).
#[derive(Debug, Default, Clone)]
pub struct HandshakeDecoder {
    _private: (),
}

impl HandshakeDecoder {
    /// A new decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a complete handshake off the front of `buf`, or returns `None` and
    /// consumes nothing while fewer than 68 bytes are there.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Handshake>, Error> {
        check_prefix(buf)?;
        let Some(bytes) = buf.get(..HANDSHAKE_LEN) else {
            return Ok(None);
        };
        let mut arr = [0u8; HANDSHAKE_LEN];
        arr.copy_from_slice(bytes);
        let hs = Handshake::from_bytes(&arr)?;
        buf.advance(HANDSHAKE_LEN);
        Ok(Some(hs))
    }

    /// The info-hash, as soon as the first 48 bytes are in: an accepting peer
    /// needs it to pick the torrent (and its own handshake) before the remote
    /// peer id arrives; some clients wait for our handshake before sending theirs.
    pub fn peek_info_hash(buf: &[u8]) -> Result<Option<InfoHash>, Error> {
        check_prefix(buf)?;
        Ok(buf.get(28..48).and_then(|b| InfoHash::from_slice(b).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Handshake {
        Handshake {
            reserved: Reserved::ferro_default().with_dht(true),
            info_hash: InfoHash([0xaa; 20]),
            peer_id: PeerId(*b"-FE0100-abcdefghijkl"),
        }
    }

    #[test]
    fn layout_matches_bep3() {
        let b = sample().to_bytes();
        assert_eq!(b[0], 19);
        assert_eq!(&b[1..20], b"BitTorrent protocol");
        assert_eq!(&b[20..28], &[0, 0, 0, 0, 0, 0x10, 0, 0x05]);
        assert_eq!(&b[28..48], &[0xaa; 20]);
        assert_eq!(&b[48..68], b"-FE0100-abcdefghijkl");
        assert_eq!(Handshake::from_bytes(&b).unwrap(), sample());
    }

    #[test]
    fn reserved_bits() {
        let r = Reserved::ferro_default();
        assert!(r.extension_protocol() && r.fast() && !r.dht());
        let r = r.with_fast(false).with_dht(true);
        assert!(r.extension_protocol() && !r.fast() && r.dht());
        assert_eq!(Reserved::NONE.with_extension_protocol(true).0[5], 0x10);
        assert!(format!("{r:?}").contains("dht=true"));
    }

    #[test]
    fn completes_from_every_split() {
        let wire = sample().to_bytes();
        let mut tail = wire.to_vec();
        tail.extend_from_slice(&[0, 0, 0, 1, 2]); // an `interested` right behind it
        for split in 0..=tail.len() {
            let mut dec = HandshakeDecoder::new();
            let mut buf = BytesMut::new();
            buf.extend_from_slice(&tail[..split]);
            let first = dec.decode(&mut buf).unwrap();
            let got = match first {
                Some(h) => {
                    buf.extend_from_slice(&tail[split..]);
                    h
                }
                None => {
                    assert!(split < HANDSHAKE_LEN, "split {split}");
                    assert_eq!(buf.len(), split, "nothing consumed early");
                    buf.extend_from_slice(&tail[split..]);
                    dec.decode(&mut buf).unwrap().unwrap()
                }
            };
            assert_eq!(got, sample());
            assert_eq!(&buf[..], &tail[HANDSHAKE_LEN..]);
        }
    }

    #[test]
    fn byte_at_a_time() {
        let wire = sample().to_bytes();
        let mut dec = HandshakeDecoder::new();
        let mut buf = BytesMut::new();
        for (i, b) in wire.iter().enumerate() {
            buf.put_u8(*b);
            let r = dec.decode(&mut buf).unwrap();
            assert_eq!(r.is_some(), i == HANDSHAKE_LEN - 1);
            if (47..HANDSHAKE_LEN - 1).contains(&i) {
                assert_eq!(
                    HandshakeDecoder::peek_info_hash(&buf).unwrap(),
                    Some(InfoHash([0xaa; 20]))
                );
            }
        }
    }

    #[test]
    fn rejects_wrong_protocol_early() {
        let mut dec = HandshakeDecoder::new();
        let mut buf = BytesMut::from(&[18u8][..]);
        assert!(matches!(
            dec.decode(&mut buf),
            Err(Error::ProtocolLength(18))
        ));
        let mut buf = BytesMut::from(&b"\x13BitTorrent prot0"[..]);
        match dec.decode(&mut buf) {
            Err(Error::ProtocolName(s)) => assert_eq!(s, "BitTorrent prot0"),
            other => panic!("{other:?}"),
        }
        // HTTP on the wrong port.
        let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]);
        assert!(matches!(
            dec.decode(&mut buf),
            Err(Error::ProtocolLength(b'G'))
        ));
        let mut bad = sample().to_bytes();
        bad[19] = b'X';
        assert!(Handshake::from_bytes(&bad).is_err());
    }
}
