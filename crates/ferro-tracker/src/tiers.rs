//! BEP 12 multitracker tiers.
//!
//! "Each tier is shuffled once" when the torrent is loaded; trackers are tried
//! in tier order, and within a tier in list order; a tracker that answers
//! moves to the front of its tier so it is tried first next time.

use rand::seq::SliceRandom;

/// The announce-list of one torrent, in BEP 12 order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerTiers {
    tiers: Vec<Vec<String>>,
    /// Announce to the first working tracker of every tier instead of stopping
    /// at the first that answers (libtorrent's `announce_to_all_tiers`).
    pub announce_to_all_tiers: bool,
}

impl TrackerTiers {
    /// Tiers as given (no shuffle): for tests and for callers that shuffled already.
    /// Empty tiers are dropped.
    pub fn new_ordered(tiers: Vec<Vec<String>>) -> Self {
        TrackerTiers {
            tiers: tiers.into_iter().filter(|t| !t.is_empty()).collect(),
            announce_to_all_tiers: false,
        }
    }

    /// Tiers with each one shuffled once, as BEP 12 asks.
    pub fn new<R: rand::Rng + ?Sized>(tiers: Vec<Vec<String>>, rng: &mut R) -> Self {
        let mut t = Self::new_ordered(tiers);
        for tier in &mut t.tiers {
            tier.shuffle(rng);
        }
        t
    }

    /// A single-tracker list (a torrent with only `announce`).
    pub fn single(url: impl Into<String>) -> Self {
        Self::new_ordered(vec![vec![url.into()]])
    }

    /// The tiers in their current order.
    pub fn tiers(&self) -> &[Vec<String>] {
        &self.tiers
    }

    /// Number of trackers over all tiers.
    pub fn len(&self) -> usize {
        self.tiers.iter().map(Vec::len).sum()
    }

    /// Whether there is no tracker at all.
    pub fn is_empty(&self) -> bool {
        self.tiers.is_empty()
    }

    /// Every tracker in try order: tier by tier, each tier front to back.
    pub fn try_order(&self) -> impl Iterator<Item = (usize, &str)> {
        self.tiers
            .iter()
            .enumerate()
            .flat_map(|(i, t)| t.iter().map(move |u| (i, u.as_str())))
    }

    /// Records that `url` in tier `tier` answered: it moves to the front of its
    /// tier (BEP 12). Unknown URLs are ignored.
    pub fn record_success(&mut self, tier: usize, url: &str) {
        if let Some(t) = self.tiers.get_mut(tier)
            && let Some(pos) = t.iter().position(|u| u == url)
        {
            let u = t.remove(pos);
            t.insert(0, u);
        }
    }
}

/// Walks a [`TrackerTiers`] for one announce round: yields the tracker to try
/// next, and is told whether it answered.
///
/// Without `announce_to_all_tiers` the round ends at the first tracker that
/// answers; a tier whose trackers all fail passes on to the next tier. With it,
/// the round goes on to the next tier after each success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierCursor {
    tier: usize,
    index: usize,
    finished: bool,
}

impl TrackerTiers {
    /// A cursor at the start of a new announce round.
    pub fn cursor(&self) -> TierCursor {
        TierCursor {
            tier: 0,
            index: 0,
            finished: self.tiers.is_empty(),
        }
    }
}

impl TierCursor {
    /// The tier and URL to try now, or `None` when the round is over.
    pub fn current<'t>(&self, tiers: &'t TrackerTiers) -> Option<(usize, &'t str)> {
        if self.finished {
            return None;
        }
        tiers
            .tiers
            .get(self.tier)
            .and_then(|t| t.get(self.index))
            .map(|u| (self.tier, u.as_str()))
    }

    /// Reports the outcome of the tracker [`current`](Self::current) returned.
    pub fn report(&mut self, tiers: &mut TrackerTiers, answered: bool) {
        let Some((tier, url)) = self.current(tiers).map(|(t, u)| (t, u.to_owned())) else {
            return;
        };
        if answered {
            tiers.record_success(tier, &url);
            if !tiers.announce_to_all_tiers {
                self.finished = true;
                return;
            }
            self.tier += 1;
            self.index = 0;
        } else {
            self.index += 1;
            if self.index >= tiers.tiers.get(tier).map_or(0, Vec::len) {
                self.tier += 1;
                self.index = 0;
            }
        }
        if self.tier >= tiers.tiers.len() {
            self.finished = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn t(v: &[&[&str]]) -> TrackerTiers {
        TrackerTiers::new_ordered(
            v.iter()
                .map(|t| t.iter().map(|s| s.to_string()).collect())
                .collect(),
        )
    }

    fn round(tiers: &mut TrackerTiers, works: &[&str]) -> Vec<String> {
        let mut tried = Vec::new();
        let mut c = tiers.cursor();
        for _ in 0..100 {
            let Some((_, url)) = c.current(tiers) else {
                break;
            };
            let url = url.to_owned();
            let ok = works.contains(&url.as_str());
            tried.push(url);
            c.report(tiers, ok);
        }
        tried
    }

    #[test]
    fn answering_tracker_moves_to_front_of_its_tier() {
        let mut tiers = t(&[&["a", "b", "c"], &["d"]]);
        assert_eq!(round(&mut tiers, &["c"]), ["a", "b", "c"]);
        assert_eq!(tiers.tiers()[0], ["c", "a", "b"]);
        assert_eq!(round(&mut tiers, &["c"]), ["c"]);
    }

    #[test]
    fn failed_tier_falls_through_to_next() {
        let mut tiers = t(&[&["a", "b"], &["c", "d"]]);
        assert_eq!(round(&mut tiers, &["d"]), ["a", "b", "c", "d"]);
        assert_eq!(tiers.tiers()[1], ["d", "c"]);
        assert_eq!(tiers.tiers()[0], ["a", "b"]);
    }

    #[test]
    fn all_tiers_mode_announces_once_per_tier() {
        let mut tiers = t(&[&["a", "b"], &["c", "d"], &["e"]]);
        tiers.announce_to_all_tiers = true;
        assert_eq!(round(&mut tiers, &["b", "c", "e"]), ["a", "b", "c", "e"]);
        assert_eq!(tiers.tiers()[0], ["b", "a"]);
    }

    #[test]
    fn nothing_answers_tries_everything_once() {
        let mut tiers = t(&[&["a", "b"], &["c"]]);
        assert_eq!(round(&mut tiers, &[]), ["a", "b", "c"]);
        assert_eq!(
            round(&mut TrackerTiers::new_ordered(vec![]), &[]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn shuffle_keeps_members_and_tier_boundaries() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let orig: Vec<Vec<String>> = vec![
            (0..10).map(|i| format!("t0-{i}")).collect(),
            (0..10).map(|i| format!("t1-{i}")).collect(),
        ];
        let s = TrackerTiers::new(orig.clone(), &mut rng);
        for (a, b) in orig.iter().zip(s.tiers()) {
            let mut a = a.clone();
            let mut b = b.clone();
            a.sort();
            b.sort();
            assert_eq!(a, b);
        }
        assert_eq!(s.len(), 20);
    }
}
