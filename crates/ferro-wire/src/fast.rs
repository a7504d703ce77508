//! The BEP 6 allowed-fast set: pieces a peer may request while choked.

use std::net::IpAddr;

use ferro_core::InfoHash;
use sha1::{Digest, Sha1};

use crate::PieceIndex;

/// The usual size of an allowed-fast set (BEP 6 suggests 10 is reasonable).
pub const ALLOWED_FAST_COUNT: usize = 10;

/// Generates the allowed-fast set of `k` piece indices for the peer at `ip`
/// (BEP 6, "Allowed Fast", the canonical algorithm).
///
/// BEP 6 hashes the peer's IPv4 address masked to /24, so one user with many
/// addresses in one network gets one set. BEP 6 does not define IPv6; Ferro
/// applies the same idea to the /48 prefix (an IPv4-mapped IPv6 address is
/// treated as IPv4). Only the sender computes the set, so this choice never
/// has to match another client.
///
/// `k` is clamped to `pieces`; the result is empty for a torrent of no pieces.
pub fn allowed_fast_set(
    info_hash: &InfoHash,
    ip: IpAddr,
    pieces: u32,
    k: usize,
) -> Vec<PieceIndex> {
    // Step (1): the masked address.
    let key: Vec<u8> = match ip.to_canonical() {
        IpAddr::V4(v4) => (u32::from(v4) & 0xffff_ff00).to_be_bytes().to_vec(),
        IpAddr::V6(v6) => {
            let mut o = v6.octets();
            o.iter_mut().skip(6).for_each(|b| *b = 0);
            o.to_vec()
        }
    };
    allowed_fast_set_from_key(&key, info_hash, pieces, k)
}

/// The BEP 6 generator over caller-chosen address bytes: `x = key ++ info_hash`,
/// then steps (3)-(9). [`allowed_fast_set`] passes the masked address; this
/// form also reproduces clients that hash something else (libtorrent 2.0
/// hashes the full, unmasked address).
pub fn allowed_fast_set_from_key(
    key: &[u8],
    info_hash: &InfoHash,
    pieces: u32,
    k: usize,
) -> Vec<PieceIndex> {
    let k = k.min(pieces as usize);
    let mut set: Vec<PieceIndex> = Vec::with_capacity(k);
    if k == 0 {
        return set;
    }
    // Step (2): x = key ++ info_hash.
    let mut x: Vec<u8> = key.to_vec();
    x.extend_from_slice(info_hash.as_bytes());
    // Steps (3)-(9). Each hash yields five candidates; when k is close to the
    // piece count this is a coupon collector, so bound the rounds: the
    // expected count is about pieces * ln(pieces) / 5.
    let max_rounds = 64 + 4 * (pieces as usize).saturating_mul(32);
    for _ in 0..max_rounds {
        let digest: [u8; 20] = Sha1::digest(&x).into();
        for chunk in digest.chunks_exact(4) {
            if set.len() >= k {
                return set;
            }
            let mut w = [0u8; 4];
            w.copy_from_slice(chunk);
            let index = u32::from_be_bytes(w) % pieces;
            if !set.contains(&index) {
                set.push(index);
            }
        }
        if set.len() >= k {
            return set;
        }
        x = digest.to_vec();
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// The example results printed in BEP 6: torrent of 1313 pieces, info-hash
    /// 0xaa repeated, peer 80.4.4.200.
    #[test]
    fn bep6_test_vectors() {
        let ih = InfoHash([0xaa; 20]);
        let ip = IpAddr::V4(Ipv4Addr::new(80, 4, 4, 200));
        assert_eq!(
            allowed_fast_set(&ih, ip, 1313, 7),
            vec![1059, 431, 808, 1217, 287, 376, 1188]
        );
        assert_eq!(
            allowed_fast_set(&ih, ip, 1313, 9),
            vec![1059, 431, 808, 1217, 287, 376, 1188, 353, 508]
        );
        // Same /24, same set.
        let neighbour = IpAddr::V4(Ipv4Addr::new(80, 4, 4, 1));
        assert_eq!(
            allowed_fast_set(&ih, neighbour, 1313, 9),
            allowed_fast_set(&ih, ip, 1313, 9)
        );
        let mapped: IpAddr = "::ffff:80.4.4.200".parse().unwrap();
        assert_eq!(allowed_fast_set(&ih, mapped, 1313, 7)[0], 1059);
    }

    #[test]
    fn small_and_degenerate_torrents() {
        let ih = InfoHash([1; 20]);
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(allowed_fast_set(&ih, ip, 0, 10).is_empty());
        let mut all = allowed_fast_set(&ih, ip, 5, 10);
        assert_eq!(all.len(), 5);
        all.sort_unstable();
        assert_eq!(all, vec![0, 1, 2, 3, 4]);
        let s = allowed_fast_set(&ih, ip, 1000, ALLOWED_FAST_COUNT);
        assert_eq!(s.len(), ALLOWED_FAST_COUNT);
        assert!(s.iter().all(|i| *i < 1000));
    }
}
