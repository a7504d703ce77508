//! Write tokens for `announce_peer` (BEP 5 "get_peers": "the token value should
//! be a short binary string" tied to the querier's IP, valid for a while).
//!
//! A token is SHA-1(secret ‖ IP), truncated to [`TOKEN_LEN`] bytes. The secret
//! changes every [`ROTATE_EVERY`]; tokens made with the previous secret are
//! still accepted, so a token lives between 5 and 10 minutes, as BEP 5 suggests.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand::Rng;
use sha1::{Digest, Sha1};

/// How often the secret changes (BEP 5: "the secret changes every five minutes").
pub const ROTATE_EVERY: Duration = Duration::from_secs(5 * 60);
/// Bytes per token: enough that guessing one is hopeless, small on the wire.
pub const TOKEN_LEN: usize = 8;

/// The rotating secret and the token checks.
#[derive(Clone, Debug)]
pub struct TokenSecret {
    current: [u8; 20],
    previous: [u8; 20],
    rotated_at: Instant,
}

impl TokenSecret {
    /// Fresh secrets from `rng`.
    pub fn new(rng: &mut impl Rng, now: Instant) -> Self {
        TokenSecret {
            current: rng.random(),
            previous: rng.random(),
            rotated_at: now,
        }
    }

    fn token_with(secret: &[u8; 20], ip: IpAddr) -> [u8; TOKEN_LEN] {
        let mut h = Sha1::new();
        h.update(secret);
        match ip {
            IpAddr::V4(a) => h.update(a.octets()),
            IpAddr::V6(a) => h.update(a.octets()),
        }
        let digest = h.finalize();
        let mut out = [0u8; TOKEN_LEN];
        for (o, d) in out.iter_mut().zip(digest.iter()) {
            *o = *d;
        }
        out
    }

    /// The token to hand to `ip` now.
    pub fn token_for(&self, ip: IpAddr) -> [u8; TOKEN_LEN] {
        Self::token_with(&self.current, ip)
    }

    /// Whether `token` was handed to `ip` under the current or previous secret.
    pub fn is_valid(&self, token: &[u8], ip: IpAddr) -> bool {
        token == Self::token_with(&self.current, ip)
            || token == Self::token_with(&self.previous, ip)
    }

    /// Rotates the secret if [`ROTATE_EVERY`] has passed; returns whether it did.
    pub fn maybe_rotate(&mut self, now: Instant, rng: &mut impl Rng) -> bool {
        if now.saturating_duration_since(self.rotated_at) < ROTATE_EVERY {
            return false;
        }
        self.previous = self.current;
        self.current = rng.random();
        self.rotated_at = now;
        true
    }

    /// When the next rotation is due.
    pub fn next_rotation(&self) -> Instant {
        self.rotated_at + ROTATE_EVERY
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn tokens_live_one_rotation_and_are_per_ip() {
        let mut rng = StdRng::seed_from_u64(7);
        let t0 = Instant::now();
        let mut s = TokenSecret::new(&mut rng, t0);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let tok = s.token_for(a);
        assert!(s.is_valid(&tok, a));
        assert!(!s.is_valid(&tok, b));
        assert!(!s.is_valid(&tok[..4], a));
        assert!(!s.maybe_rotate(t0 + Duration::from_secs(10), &mut rng));
        assert!(s.maybe_rotate(t0 + ROTATE_EVERY, &mut rng));
        assert!(s.is_valid(&tok, a), "previous secret still accepted");
        assert!(s.maybe_rotate(t0 + ROTATE_EVERY * 2, &mut rng));
        assert!(
            !s.is_valid(&tok, a),
            "two rotations later the token is dead"
        );
    }
}
