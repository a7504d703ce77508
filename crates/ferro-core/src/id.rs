//! 20-byte identifiers: the info-hash and the peer id.

use std::fmt;
use std::str::FromStr;

use crate::Error;

macro_rules! id20 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; 20]);

        impl $name {
            /// The id from exactly 20 bytes.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
                <[u8; 20]>::try_from(bytes)
                    .map($name)
                    .map_err(|_| Error::IdLength(bytes.len()))
            }

            /// The raw 20 bytes.
            pub fn as_bytes(&self) -> &[u8; 20] {
                &self.0
            }

            /// Lower-case hex, 40 characters.
            pub fn to_hex(&self) -> String {
                data_encoding::HEXLOWER.encode(&self.0)
            }

            /// Parses 40 hex digits (either case) or 32 base32 characters (RFC 4648,
            /// either case, as magnet links use for info-hashes).
            pub fn from_text(s: &str) -> Result<Self, Error> {
                let bad = || Error::InvalidId(s.chars().take(64).collect());
                let bytes = match s.len() {
                    40 => data_encoding::HEXLOWER_PERMISSIVE.decode(s.as_bytes()).map_err(|_| bad())?,
                    32 => data_encoding::BASE32
                        .decode(s.to_ascii_uppercase().as_bytes())
                        .map_err(|_| bad())?,
                    _ => return Err(bad()),
                };
                Self::from_slice(&bytes).map_err(|_| bad())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::from_text(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for b in self.0 {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl From<[u8; 20]> for $name {
            fn from(b: [u8; 20]) -> Self {
                $name(b)
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }
    };
}

id20!(
    /// The SHA-1 of a torrent's bencoded `info` dictionary (BEP 3), which names
    /// the torrent everywhere: in handshakes, tracker announces, the DHT and magnet links.
    InfoHash
);

id20!(
    /// A peer's 20-byte id, sent in the handshake and to trackers (BEP 3, BEP 20).
    PeerId
);

impl InfoHash {
    /// Upper-case base32 (32 characters), the other form magnet links use.
    pub fn to_base32(&self) -> String {
        data_encoding::BASE32.encode(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base32_agree() {
        let ih: InfoHash = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a".parse().unwrap();
        let b32 = ih.to_base32();
        assert_eq!(b32, "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK");
        assert_eq!(InfoHash::from_text(&b32.to_lowercase()).unwrap(), ih);
        assert_eq!(
            InfoHash::from_text("C12FE1C06BBA254A9DC9F519B335AA7C1367A88A").unwrap(),
            ih
        );
        assert_eq!(
            format!("{ih:?}"),
            "InfoHash(c12fe1c06bba254a9dc9f519b335aa7c1367a88a)"
        );
    }

    #[test]
    fn rejects_bad_text() {
        for s in [
            "",
            "abc",
            "g12fe1c06bba254a9dc9f519b335aa7c1367a88a",
            "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKE1",
        ] {
            assert!(
                matches!(InfoHash::from_text(s), Err(Error::InvalidId(_))),
                "{s}"
            );
        }
        assert_eq!(PeerId::from_slice(&[0; 19]), Err(Error::IdLength(19)));
    }

    proptest::proptest! {
        #[test]
        fn text_round_trip(bytes: [u8; 20]) {
            let ih = InfoHash(bytes);
            proptest::prop_assert_eq!(InfoHash::from_text(&ih.to_hex()).unwrap(), ih);
            proptest::prop_assert_eq!(InfoHash::from_text(&ih.to_base32()).unwrap(), ih);
        }
    }
}
