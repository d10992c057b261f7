//! PKCE (RFC 7636) and the CSRF `state` value (RFC 6749 §10.12).
//!
//! Both are drawn from the injected RNG (the core never draws entropy itself, ARCHITECTURE.md §2),
//! so tests and fuzzers get reproducible values from a fixed seed while adapters seed from the OS.
//! Only `S256` exists here: there is no `plain` path to downgrade to (RFC 7636 §7.2; MCP 2025-11-25
//! Authorization, "Authorization Code Protection").

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand_core::RngCore;
use sha2::{Digest, Sha256};

use crate::secret::{PkceVerifier, StateToken};

/// Random octets behind a verifier or a `state`. 32 octets = 256 bits: RFC 7636 §4.1
/// RECOMMENDS exactly this ("32-octet sequence … base64url-encoded to produce a 43-octet URL
/// safe string"), §7.1 asks for at least 256 bits, and RFC 6749 §10.10 wants a guessing
/// probability ≤ 2^-160 for `state`.
const RANDOM_OCTETS: usize = 32;

/// A fresh PKCE pair. Single use: the verifier goes into exactly one token request (RFC 7636
/// §4.5). `Debug` shows the challenge (it travels in the authorization URL anyway) but never the
/// verifier, whose `Debug` is redacted.
#[derive(Debug)]
pub struct Pkce {
    /// `code_verifier`, sent only to the token endpoint.
    pub verifier: PkceVerifier,
    /// `code_challenge` for `code_challenge_method=S256`.
    pub challenge: String,
}

/// Draws a 32-octet verifier and derives its `S256` challenge. The verifier is 43 characters
/// of the base64url alphabet, a subset of RFC 7636 §4.1 `unreserved`.
pub fn generate(rng: &mut dyn RngCore) -> Pkce {
    let verifier = random_b64url(rng);
    let challenge = challenge_s256(&verifier);
    Pkce {
        verifier: PkceVerifier::new(verifier),
        challenge,
    }
}

/// `BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))` without padding (RFC 7636 §4.2).
pub fn challenge_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A 256-bit `state` value, base64url without padding (43 characters), so it needs no escaping
/// in the authorization URL or the callback.
pub fn random_state(rng: &mut dyn RngCore) -> StateToken {
    StateToken::new(random_b64url(rng))
}

fn random_b64url(rng: &mut dyn RngCore) -> String {
    let mut bytes = [0u8; RANDOM_OCTETS];
    rng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;
    use std::collections::HashSet;

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(
            challenge_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    fn is_unreserved(c: char) -> bool {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
    }

    #[test]
    fn generated_pair_is_consistent_and_well_formed() {
        let mut rng = SeededRng::from_seed([1; 32]);
        let p = generate(&mut rng);
        let v = p.verifier.expose_secret();
        assert_eq!(v.len(), 43);
        assert!(v.chars().all(is_unreserved), "{v}");
        assert_eq!(p.challenge, challenge_s256(v));
        assert_eq!(p.challenge.len(), 43);
        assert!(p.challenge.chars().all(is_unreserved));
    }

    #[test]
    fn deterministic_for_a_seed() {
        let a = generate(&mut SeededRng::from_seed([9; 32]));
        let b = generate(&mut SeededRng::from_seed([9; 32]));
        let c = generate(&mut SeededRng::from_seed([10; 32]));
        assert_eq!(a.verifier.expose_secret(), b.verifier.expose_secret());
        assert_ne!(a.verifier.expose_secret(), c.verifier.expose_secret());
    }

    #[test]
    fn debug_hides_verifier() {
        let p = generate(&mut SeededRng::from_seed([2; 32]));
        let s = format!("{p:?}");
        assert!(!s.contains(p.verifier.expose_secret()));
        assert!(s.contains("PkceVerifier([redacted])"));
        assert!(s.contains(&p.challenge));
    }

    #[test]
    fn state_is_256_bits_base64url() {
        let mut rng = SeededRng::from_seed([3; 32]);
        let s = random_state(&mut rng);
        assert_eq!(s.expose_secret().len(), 43);
        assert!(s
            .expose_secret()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(format!("{s:?}"), "StateToken([redacted])");
        let decoded = URL_SAFE_NO_PAD.decode(s.expose_secret()).unwrap();
        assert_eq!(decoded.len(), 32);
    }

    #[test]
    fn unique_over_ten_thousand_draws() {
        let mut rng = SeededRng::from_seed([4; 32]);
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(generate(&mut rng).verifier.expose_secret().to_owned()));
            assert!(seen.insert(random_state(&mut rng).expose_secret().to_owned()));
        }
        assert_eq!(seen.len(), 20_000);
    }
}
