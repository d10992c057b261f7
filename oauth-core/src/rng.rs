//! Deterministic randomness for the sans-IO core.
//!
//! The machine draws `state` and PKCE verifiers from an injected `rand_core` RNG. Adapters pass
//! a [`SeededRng`] seeded with 32 bytes from the OS (`getrandom`); tests and fuzzers pass a fixed
//! seed and get reproducible runs. The generator is SHA-256 in counter mode over the secret seed
//! (the construction of NIST SP 800-90A Hash_DRBG without reseeding): its outputs are unpredictable
//! as long as the seed is, and it needs no crate beyond `sha2`, which the core already uses.

use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

/// SHA-256 counter-mode generator over a 256-bit seed.
#[derive(Clone)]
pub struct SeededRng {
    seed: [u8; 32],
    counter: u64,
    buf: [u8; 32],
    used: usize,
}

impl SeededRng {
    /// A generator from a 32-byte seed (take it from `getrandom` in production).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            seed,
            counter: 0,
            buf: [0; 32],
            used: 32,
        }
    }

    fn refill(&mut self) {
        let mut h = Sha256::new();
        h.update(b"mcp-oauth-drbg");
        h.update(self.seed);
        h.update(self.counter.to_be_bytes());
        self.buf.copy_from_slice(&h.finalize());
        self.counter = self.counter.wrapping_add(1);
        self.used = 0;
    }
}

impl std::fmt::Debug for SeededRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeededRng([redacted])")
    }
}

impl RngCore for SeededRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for byte in dest.iter_mut() {
            if self.used == 32 {
                self.refill();
            }
            *byte = self.buf[self.used];
            self.used += 1;
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for SeededRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_distinct() {
        let mut a = SeededRng::from_seed([7; 32]);
        let mut b = SeededRng::from_seed([7; 32]);
        let mut c = SeededRng::from_seed([8; 32]);
        let (x, y, z) = (a.next_u64(), b.next_u64(), c.next_u64());
        assert_eq!(x, y);
        assert_ne!(x, z);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(a.next_u64()));
        }
        assert!(format!("{a:?}").contains("redacted"));
    }
}
