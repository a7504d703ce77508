//! Compact peer addresses: 4-byte IPv4 + 2-byte port (BEP 23), 16-byte IPv6 +
//! 2-byte port (BEP 7), both big-endian. Trackers, the DHT (`values`) and PEX
//! (`added`, `added6`) all use these forms.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::Error;

/// Size of one compact IPv4 peer.
pub const V4_LEN: usize = 6;
/// Size of one compact IPv6 peer.
pub const V6_LEN: usize = 18;

/// Decodes a list of 6-byte IPv4 peers. A length that is not a multiple of 6 is an error.
pub fn decode_v4(bytes: &[u8]) -> Result<Vec<SocketAddr>, Error> {
    if !bytes.len().is_multiple_of(V4_LEN) {
        return Err(Error::CompactLength {
            len: bytes.len(),
            entry: V4_LEN,
        });
    }
    Ok(bytes
        .chunks_exact(V4_LEN)
        .filter_map(decode_one_v4)
        .collect())
}

/// Decodes a list of 18-byte IPv6 peers. A length that is not a multiple of 18 is an error.
pub fn decode_v6(bytes: &[u8]) -> Result<Vec<SocketAddr>, Error> {
    if !bytes.len().is_multiple_of(V6_LEN) {
        return Err(Error::CompactLength {
            len: bytes.len(),
            entry: V6_LEN,
        });
    }
    Ok(bytes
        .chunks_exact(V6_LEN)
        .filter_map(decode_one_v6)
        .collect())
}

/// Decodes one 6-byte IPv4 peer; `None` unless `b` is exactly 6 bytes.
pub fn decode_one_v4(b: &[u8]) -> Option<SocketAddr> {
    let b: &[u8; V4_LEN] = b.try_into().ok()?;
    let ip = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
    let port = u16::from_be_bytes([b[4], b[5]]);
    Some(SocketAddr::V4(SocketAddrV4::new(ip, port)))
}

/// Decodes one 18-byte IPv6 peer; `None` unless `b` is exactly 18 bytes.
pub fn decode_one_v6(b: &[u8]) -> Option<SocketAddr> {
    let b: &[u8; V6_LEN] = b.try_into().ok()?;
    let mut ip = [0u8; 16];
    ip.copy_from_slice(&b[..16]);
    let port = u16::from_be_bytes([b[16], b[17]]);
    Some(SocketAddr::V6(SocketAddrV6::new(
        Ipv6Addr::from(ip),
        port,
        0,
        0,
    )))
}

/// Appends `addr` in its compact form (6 bytes for IPv4, 18 for IPv6).
pub fn encode_one(addr: &SocketAddr, out: &mut Vec<u8>) {
    match addr {
        SocketAddr::V4(a) => out.extend_from_slice(&a.ip().octets()),
        SocketAddr::V6(a) => out.extend_from_slice(&a.ip().octets()),
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

/// Encodes the IPv4 addresses of `addrs` as one compact list, skipping IPv6 ones.
pub fn encode_v4<'a>(addrs: impl IntoIterator<Item = &'a SocketAddr>) -> Vec<u8> {
    let mut out = Vec::new();
    for a in addrs.into_iter().filter(|a| a.is_ipv4()) {
        encode_one(a, &mut out);
    }
    out
}

/// Encodes the IPv6 addresses of `addrs` as one compact list, skipping IPv4 ones.
pub fn encode_v6<'a>(addrs: impl IntoIterator<Item = &'a SocketAddr>) -> Vec<u8> {
    let mut out = Vec::new();
    for a in addrs.into_iter().filter(|a| a.is_ipv6()) {
        encode_one(a, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_known_bytes() {
        let v = decode_v4(&[127, 0, 0, 1, 0x1a, 0xe1, 10, 1, 2, 3, 0, 80]).unwrap();
        assert_eq!(
            v,
            vec![
                "127.0.0.1:6881".parse().unwrap(),
                "10.1.2.3:80".parse().unwrap()
            ]
        );
        let mut six = vec![0u8; 15];
        six.push(1);
        six.extend_from_slice(&[0x1a, 0xe1]);
        assert_eq!(
            decode_v6(&six).unwrap(),
            vec!["[::1]:6881".parse().unwrap()]
        );
    }

    #[test]
    fn rejects_ragged_lengths() {
        assert_eq!(
            decode_v4(&[0; 7]),
            Err(Error::CompactLength { len: 7, entry: 6 })
        );
        assert_eq!(
            decode_v6(&[0; 17]),
            Err(Error::CompactLength { len: 17, entry: 18 })
        );
        assert_eq!(decode_one_v4(&[0; 5]), None);
    }

    proptest! {
        #[test]
        fn round_trip(v4 in proptest::collection::vec(any::<SocketAddrV4>(), 0..20),
                      v6 in proptest::collection::vec(any::<(u128, u16)>(), 0..20)) {
            let a4: Vec<SocketAddr> = v4.into_iter().map(SocketAddr::V4).collect();
            let a6: Vec<SocketAddr> = v6.into_iter()
                .map(|(ip, port)| SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, 0, 0)))
                .collect();
            prop_assert_eq!(decode_v4(&encode_v4(&a4)).unwrap(), a4);
            prop_assert_eq!(decode_v6(&encode_v6(&a6)).unwrap(), a6);
        }
    }
}
