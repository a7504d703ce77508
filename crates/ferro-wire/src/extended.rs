//! The BEP 10 extension protocol handshake: extended message id 0, a bencoded
//! dictionary. Fields a peer sends in a wrong type are read as absent rather
//! than failing the connection (BEP 10 lets clients add and omit keys freely);
//! keys Ferro does not know are kept in [`ExtendedHandshake::extra`].

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use ferro_bencode::OwnedValue;
use serde::{Deserialize, Serialize};

use crate::{Error, Message};

/// Extended message id of the handshake itself (BEP 10).
pub const EXTENDED_HANDSHAKE_ID: u8 = 0;

/// The BEP 10 extended handshake.
///
/// ```
/// use ferro_wire::ExtendedHandshake;
/// let mut ours = ExtendedHandshake::default();
/// ours.m.insert("ut_metadata".into(), 1);
/// ours.v = Some("Ferro 0.1.0".into());
/// ours.reqq = Some(500);
/// let msg = ours.to_message()?; // Message::Extended { id: 0, .. }
/// let ferro_wire::Message::Extended { payload, .. } = msg else { unreachable!() };
/// let theirs = ExtendedHandshake::from_bytes(&payload)?;
/// assert_eq!(theirs.extension_id("ut_metadata"), Some(1));
/// # Ok::<(), ferro_wire::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendedHandshake {
    /// Extension name → the extended message id the *sender* wants to receive
    /// it under; 0 means the sender disables that extension.
    #[serde(default, with = "lenient_map")]
    pub m: BTreeMap<String, i64>,
    /// The sender's TCP listen port.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "lenient_int")]
    pub p: Option<u16>,
    /// Client name and version, e.g. `libtorrent 2.0.8.0`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "lenient_string"
    )]
    pub v: Option<String>,
    /// The receiver's address as the sender sees it (4 or 16 bytes on the wire).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "compact_ip")]
    pub yourip: Option<IpAddr>,
    /// The sender's IPv6 address.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "compact_ipv6"
    )]
    pub ipv6: Option<Ipv6Addr>,
    /// The sender's IPv4 address.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "compact_ipv4"
    )]
    pub ipv4: Option<Ipv4Addr>,
    /// How many outstanding requests the sender queues without dropping.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "lenient_int")]
    pub reqq: Option<u32>,
    /// Size of the info dictionary in bytes (BEP 9).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "lenient_int")]
    pub metadata_size: Option<u64>,
    /// Every other key, kept as sent (e.g. `upload_only`, `complete_ago`).
    #[serde(flatten)]
    pub extra: BTreeMap<String, OwnedValue>,
}

impl ExtendedHandshake {
    /// Parses the payload of an extended message with id 0 (after the id byte).
    pub fn from_bytes(payload: &[u8]) -> Result<Self, Error> {
        ferro_bencode::from_bytes(payload).map_err(|e| Error::ExtendedHandshake(e.to_string()))
    }

    /// Canonical bencode of this handshake.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        ferro_bencode::to_bytes(self).map_err(|e| Error::ExtendedEncode(e.to_string()))
    }

    /// The whole message: `Message::Extended { id: 0, payload }`.
    pub fn to_message(&self) -> Result<Message, Error> {
        Ok(Message::Extended {
            id: EXTENDED_HANDSHAKE_ID,
            payload: Bytes::from(self.to_bytes()?),
        })
    }

    /// The id the sender wants extension `name` sent under, or `None` when it
    /// does not support it (absent, 0 = disabled, or not a valid id).
    pub fn extension_id(&self, name: &str) -> Option<u8> {
        self.m
            .get(name)
            .and_then(|id| u8::try_from(*id).ok())
            .filter(|id| *id != 0)
    }

    /// Adds (or with id 0, disables) an extension in `m`.
    pub fn with_extension(mut self, name: &str, id: u8) -> Self {
        self.m.insert(name.to_owned(), i64::from(id));
        self
    }
}

/// Integer fields: a value of the wrong type or out of range reads as `None`.
mod lenient_int {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<T: Copy + Into<i128>, S: Serializer>(
        v: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => {
                let wide: i128 = (*v).into();
                s.serialize_i64(i64::try_from(wide).unwrap_or(i64::MAX))
            }
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: TryFrom<i64>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        Ok(match OwnedValue::deserialize(d)? {
            OwnedValue::Int(i) => T::try_from(i).ok(),
            _ => None,
        })
    }
}

/// `v`: clients are expected to send UTF-8; anything else is read lossily.
mod lenient_string {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(v),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match OwnedValue::deserialize(d)? {
            OwnedValue::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            _ => None,
        })
    }
}

/// `m`: entries whose value is not an integer are dropped.
mod lenient_map {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(m: &BTreeMap<String, i64>, s: S) -> Result<S::Ok, S::Error> {
        m.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, i64>, D::Error> {
        Ok(match OwnedValue::deserialize(d)? {
            OwnedValue::Dict(entries) => entries
                .into_iter()
                .filter_map(|(k, v)| match v {
                    OwnedValue::Int(i) => Some((String::from_utf8(k).ok()?, i)),
                    _ => None,
                })
                .collect(),
            _ => BTreeMap::new(),
        })
    }
}

/// Addresses as raw bytes: 4 bytes IPv4, 16 bytes IPv6; other lengths read as `None`.
fn ip_from(v: OwnedValue) -> Option<IpAddr> {
    let OwnedValue::Bytes(b) = v else {
        return None;
    };
    if let Ok(a) = <[u8; 4]>::try_from(b.as_slice()) {
        return Some(IpAddr::from(a));
    }
    <[u8; 16]>::try_from(b.as_slice()).ok().map(IpAddr::from)
}

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

mod compact_ip {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<IpAddr>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(ip) => s.serialize_bytes(&ip_bytes(ip)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IpAddr>, D::Error> {
        Ok(ip_from(OwnedValue::deserialize(d)?))
    }
}

mod compact_ipv4 {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Ipv4Addr>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(ip) => s.serialize_bytes(&ip.octets()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Ipv4Addr>, D::Error> {
        Ok(match ip_from(OwnedValue::deserialize(d)?) {
            Some(IpAddr::V4(a)) => Some(a),
            _ => None,
        })
    }
}

mod compact_ipv6 {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Ipv6Addr>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(ip) => s.serialize_bytes(&ip.octets()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Ipv6Addr>, D::Error> {
        Ok(match ip_from(OwnedValue::deserialize(d)?) {
            Some(IpAddr::V6(a)) => Some(a),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Shaped like libtorrent 2.0's handshake.
    const LIBTORRENT: &[u8] = b"d12:complete_agoi-1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei31235e4:reqqi500e11:upload_onlyi1e1:v18:libtorrent 2.0.8.06:yourip4:\x7f\0\0\x01e";

    #[test]
    fn parses_a_libtorrent_handshake() {
        let h = ExtendedHandshake::from_bytes(LIBTORRENT).unwrap();
        assert_eq!(h.extension_id("ut_metadata"), Some(2));
        assert_eq!(h.extension_id("ut_pex"), Some(1));
        assert_eq!(h.extension_id("nope"), None);
        assert_eq!(h.v.as_deref(), Some("libtorrent 2.0.8.0"));
        assert_eq!(h.reqq, Some(500));
        assert_eq!(h.metadata_size, Some(31235));
        assert_eq!(h.yourip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(h.p, None);
        assert_eq!(h.extra.get("upload_only"), Some(&OwnedValue::Int(1)));
        assert_eq!(h.extra.get("complete_ago"), Some(&OwnedValue::Int(-1)));
        // Canonical re-encoding keeps every key, unknown ones included.
        assert_eq!(h.to_bytes().unwrap(), LIBTORRENT);
    }

    #[test]
    fn all_fields_round_trip() {
        let h = ExtendedHandshake {
            m: [("ut_metadata".to_string(), 3), ("ut_pex".to_string(), 0)].into(),
            p: Some(6881),
            v: Some("Ferro 0.1.0".into()),
            yourip: Some("::1".parse().unwrap()),
            ipv6: Some("2001:db8::7".parse().unwrap()),
            ipv4: Some("10.0.0.7".parse().unwrap()),
            reqq: Some(250),
            metadata_size: Some(1 << 20),
            extra: [("upload_only".to_string(), OwnedValue::Int(1))].into(),
        };
        let bytes = h.to_bytes().unwrap();
        assert!(bytes.starts_with(b"d4:ipv416:") || bytes.starts_with(b"d4:ipv44:"));
        assert_eq!(ExtendedHandshake::from_bytes(&bytes).unwrap(), h);
        assert_eq!(h.extension_id("ut_pex"), None, "0 disables");
        let Message::Extended { id, payload } = h.to_message().unwrap() else {
            panic!()
        };
        assert_eq!(id, 0);
        assert_eq!(&payload[..], &bytes[..]);
        assert_eq!(ExtendedHandshake::default().to_bytes().unwrap(), b"d1:mdee");
    }

    #[test]
    fn wrong_types_read_as_absent() {
        let h = ExtendedHandshake::from_bytes(
            b"d1:md1:ai1e1:b3:xyze1:pi70000e4:reqq3:abc1:vi5e6:yourip3:abce",
        )
        .unwrap();
        assert_eq!(h.m.len(), 1);
        assert_eq!(h.extension_id("a"), Some(1));
        assert_eq!((h.p, h.reqq, h.v, h.yourip), (None, None, None, None));
        let h = ExtendedHandshake::from_bytes(b"d1:v3:\xff\xfe!e").unwrap();
        assert_eq!(h.v.as_deref(), Some("\u{fffd}\u{fffd}!"));
        assert_eq!(
            ExtendedHandshake::from_bytes(b"d1:mi1ee").unwrap().m.len(),
            0
        );
    }

    #[test]
    fn malformed_is_an_error() {
        for bad in [&b""[..], b"le", b"i1e", b"d1:m", b"d1:mdee trailing"] {
            assert!(
                matches!(
                    ExtendedHandshake::from_bytes(bad),
                    Err(Error::ExtendedHandshake(_))
                ),
                "{bad:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn prop_round_trip(m in proptest::collection::btree_map("[a-z_]{1,12}", 0i64..256, 0..6),
                           p in proptest::option::of(any::<u16>()),
                           v in proptest::option::of("[ -~]{0,20}"),
                           reqq in proptest::option::of(any::<u32>()),
                           size in proptest::option::of(0u64..(1 << 40)),
                           ip in proptest::option::of(any::<[u8; 4]>())) {
            let h = ExtendedHandshake {
                m, p, v, reqq, metadata_size: size,
                yourip: ip.map(IpAddr::from),
                ..Default::default()
            };
            let enc = h.to_bytes().unwrap();
            prop_assert_eq!(ExtendedHandshake::from_bytes(&enc).unwrap(), h);
        }

        #[test]
        fn prop_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ExtendedHandshake::from_bytes(&bytes);
        }
    }
}
