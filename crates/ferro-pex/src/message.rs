//! The ut_pex message (BEP 11).

use std::net::SocketAddr;

use ferro_bencode::{DecodeOptions, Encoder, decode_with};
use ferro_core::compact;

/// Errors decoding a ut_pex message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not bencode, or not a dictionary.
    #[error("malformed ut_pex message: {0}")]
    Malformed(String),
    /// A compact list whose length is not a multiple of its entry size.
    #[error("ut_pex field {field}: {source}")]
    Compact {
        /// Which field.
        field: &'static str,
        /// What was wrong with it.
        source: ferro_core::Error,
    },
}

/// The per-peer flags of `added.f` / `added6.f` (BEP 11).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerFlags(pub u8);

impl PeerFlags {
    /// 0x01: prefers encryption.
    pub const PREFERS_ENCRYPTION: PeerFlags = PeerFlags(0x01);
    /// 0x02: seed / upload only.
    pub const SEED: PeerFlags = PeerFlags(0x02);
    /// 0x04: supports uTP.
    pub const UTP: PeerFlags = PeerFlags(0x04);
    /// 0x08: supports ut_holepunch.
    pub const HOLEPUNCH: PeerFlags = PeerFlags(0x08);
    /// 0x10: reachable (we connected to it, so it accepts connections).
    pub const REACHABLE: PeerFlags = PeerFlags(0x10);

    /// True if every flag of `other` is set here.
    pub fn contains(self, other: PeerFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for PeerFlags {
    type Output = PeerFlags;
    fn bitor(self, rhs: PeerFlags) -> PeerFlags {
        PeerFlags(self.0 | rhs.0)
    }
}

/// One ut_pex message: peers added (with flags) and dropped since the last one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PexMessage {
    /// Peers the sender connected to, IPv4 and IPv6 together.
    pub added: Vec<(SocketAddr, PeerFlags)>,
    /// Peers the sender disconnected from.
    pub dropped: Vec<SocketAddr>,
}

/// Most entries one decoded list may hold before the message is refused: far
/// beyond the 50 the BEP allows, to bound work on hostile input.
const MAX_DECODED: usize = 4096;

impl PexMessage {
    /// Decodes the payload of an extended message with our ut_pex id. Flags
    /// lists shorter than their peer lists leave the rest at no flags.
    pub fn decode(payload: &[u8]) -> Result<Self, Error> {
        let opts = DecodeOptions {
            max_depth: 4,
            max_items: 256,
            strict: false,
        };
        let doc = decode_with(payload, &opts).map_err(|e| Error::Malformed(e.to_string()))?;
        let dict = doc
            .root()
            .as_dict()
            .ok_or_else(|| Error::Malformed("not a dictionary".into()))?;
        let bytes = |k: &str| {
            dict.get(k.as_bytes())
                .and_then(|v| v.as_bytes())
                .unwrap_or_default()
        };
        let list = |field: &'static str, v6: bool| {
            let raw = bytes(field);
            let peers = if v6 {
                compact::decode_v6(raw)
            } else {
                compact::decode_v4(raw)
            };
            let peers = peers.map_err(|source| Error::Compact { field, source })?;
            if peers.len() > MAX_DECODED {
                return Err(Error::Malformed(format!(
                    "{field} lists {} peers",
                    peers.len()
                )));
            }
            Ok(peers)
        };
        let mut msg = PexMessage::default();
        for (field, flags_field, v6) in [("added", "added.f", false), ("added6", "added6.f", true)]
        {
            let flags = bytes(flags_field);
            for (i, addr) in list(field, v6)?.into_iter().enumerate() {
                msg.added
                    .push((addr, PeerFlags(flags.get(i).copied().unwrap_or(0))));
            }
        }
        msg.dropped.extend(list("dropped", false)?);
        msg.dropped.extend(list("dropped6", true)?);
        Ok(msg)
    }

    /// Encodes the message (the caller adds the extended-message header).
    pub fn encode(&self) -> Vec<u8> {
        let (mut a4, mut f4, mut a6, mut f6) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (addr, flags) in &self.added {
            if addr.is_ipv4() {
                compact::encode_one(addr, &mut a4);
                f4.push(flags.0);
            } else {
                compact::encode_one(addr, &mut a6);
                f6.push(flags.0);
            }
        }
        let d4 = compact::encode_v4(&self.dropped);
        let d6 = compact::encode_v6(&self.dropped);
        // Keys in sorted order: added, added.f, added6, added6.f, dropped, dropped6.
        let mut e = Encoder::new(Vec::new());
        e.begin_dict();
        for (k, v) in [
            ("added", &a4),
            ("added.f", &f4),
            ("added6", &a6),
            ("added6.f", &f6),
            ("dropped", &d4),
            ("dropped6", &d6),
        ] {
            e.str(k);
            e.bytes(v);
        }
        e.end();
        e.into_inner()
    }
}
