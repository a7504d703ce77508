//! The choker's decision, sans-IO: which interested peers get upload slots.
//!
//! BEP 3 "choking": reciprocate with the peers that give us the most
//! (tit-for-tat by download rate), and, once seeding, favour the peers we
//! upload to fastest. Snubbed peers (no block for a minute) lose regular
//! slots while downloading. One more slot, the optimistic unchoke, goes to
//! a random other interested peer and moves on every 30 s, so newcomers get
//! a chance to prove themselves.

use std::collections::HashSet;

use rand::Rng;
use rand::seq::IndexedRandom;

use crate::picker::PeerKey;

/// What the choker knows of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChokeCandidate {
    /// The peer.
    pub key: PeerKey,
    /// It wants our data.
    pub interested: bool,
    /// It has every piece (needs nothing from us).
    pub is_seed: bool,
    /// No block from it in the snub timeout.
    pub snubbed: bool,
    /// Bytes per second it sends us.
    pub download_rate: u64,
    /// Bytes per second we send it.
    pub upload_rate: u64,
}

/// The peers to unchoke: up to `slots` by rate, plus one optimistic unchoke,
/// kept from `current_optimistic` unless `rotate` (or it no longer qualifies).
/// Returns the unchoke set and the optimistic peer.
pub fn choose_unchoked<R: Rng + ?Sized>(
    peers: &[ChokeCandidate],
    seeding: bool,
    slots: usize,
    current_optimistic: Option<PeerKey>,
    rotate: bool,
    rng: &mut R,
) -> (HashSet<PeerKey>, Option<PeerKey>) {
    let mut candidates: Vec<&ChokeCandidate> = peers
        .iter()
        .filter(|p| p.interested && !p.is_seed)
        .collect();
    candidates.sort_unstable_by_key(|p| {
        std::cmp::Reverse(if seeding {
            p.upload_rate
        } else {
            p.download_rate
        })
    });
    let mut unchoke: HashSet<PeerKey> = candidates
        .iter()
        .filter(|p| seeding || !p.snubbed)
        .take(slots)
        .map(|p| p.key)
        .collect();
    let rest: Vec<PeerKey> = candidates
        .iter()
        .map(|p| p.key)
        .filter(|k| !unchoke.contains(k))
        .collect();
    let optimistic = match current_optimistic {
        Some(k) if !rotate && rest.contains(&k) => Some(k),
        _ => rest.choose(rng).copied(),
    };
    if let Some(k) = optimistic {
        unchoke.insert(k);
    }
    (unchoke, optimistic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn peer(key: PeerKey, down: u64, up: u64) -> ChokeCandidate {
        ChokeCandidate {
            key,
            interested: true,
            is_seed: false,
            snubbed: false,
            download_rate: down,
            upload_rate: up,
        }
    }

    #[test]
    fn tit_for_tat_by_download_rate_plus_one_optimistic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let peers: Vec<_> = (0..6).map(|k| peer(k, k * 100, 1000 - k * 100)).collect();
        let (set, opt) = choose_unchoked(&peers, false, 2, None, true, &mut rng);
        assert!(set.contains(&5) && set.contains(&4));
        let opt = opt.unwrap();
        assert!(opt < 4);
        assert_eq!(set.len(), 3);
        // Without rotation the optimistic unchoke stays.
        let (_, again) = choose_unchoked(&peers, false, 2, Some(opt), false, &mut rng);
        assert_eq!(again, Some(opt));
    }

    #[test]
    fn seeding_favours_upload_rate() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let peers: Vec<_> = (0..6).map(|k| peer(k, k * 100, 1000 - k * 100)).collect();
        let (set, _) = choose_unchoked(&peers, true, 2, None, true, &mut rng);
        assert!(set.contains(&0) && set.contains(&1));
    }

    #[test]
    fn snubbed_seeds_and_uninterested_peers_get_no_regular_slot() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut fast_but_snubbed = peer(1, 10_000, 0);
        fast_but_snubbed.snubbed = true;
        let mut seed = peer(2, 5_000, 0);
        seed.is_seed = true;
        let mut bored = peer(3, 4_000, 0);
        bored.interested = false;
        let peers = [fast_but_snubbed, seed, bored, peer(4, 1, 0), peer(5, 2, 0)];
        let (set, opt) = choose_unchoked(&peers, false, 2, None, true, &mut rng);
        assert!(set.contains(&4) && set.contains(&5));
        assert_eq!(
            opt,
            Some(1),
            "only the snubbed peer is left for the optimistic slot"
        );
        assert!(!set.contains(&2) && !set.contains(&3));
    }
}
