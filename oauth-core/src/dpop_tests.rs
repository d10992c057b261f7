//! Tests for `dpop.rs`. Signatures are verified against the `jwk` in the proof header, as an
//! RFC 9449 §4.3 verifier does.

use super::*;
use crate::jwt::tests::{rfc6979_key, verify_with_jwk, RFC6979_D};
use crate::rng::SeededRng;

/// RFC 9449 §7.1 example access token and its `ath`.
const RFC9449_TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
const RFC9449_ATH: &str = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo";

/// Splits and verifies a proof with the key in its own header.
fn open(proof_jws: &str) -> (Value, Value) {
    let header_part = proof_jws.split('.').next().unwrap();
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header_part).unwrap()).unwrap();
    verify_with_jwk(proof_jws, &header["jwk"])
}

#[test]
fn token_request_proof_header_and_claims() {
    let key = rfc6979_key();
    let p = proof(
        &key,
        "POST",
        "http://localhost:3001/token",
        1_700_000_000,
        "jti-a",
        None,
        None,
    );
    let (header, claims) = open(&p);
    assert_eq!(
        header,
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk()})
    );
    assert!(header["jwk"].get("d").is_none(), "no private members");
    assert_eq!(
        claims,
        json!({
            "jti": "jti-a",
            "htm": "POST",
            "htu": "http://localhost:3001/token",
            "iat": 1_700_000_000u64,
        })
    );
}

#[test]
fn resource_proof_has_ath_nonce_and_stripped_htu() {
    let key = rfc6979_key();
    let p = proof(
        &key,
        "GET",
        "https://rs.example/mcp?session=1#frag",
        42,
        "jti-b",
        Some(RFC9449_TOKEN),
        Some("conformance-rs-dpop-nonce"),
    );
    let (_, claims) = open(&p);
    assert_eq!(
        claims,
        json!({
            "jti": "jti-b",
            "htm": "GET",
            "htu": "https://rs.example/mcp",
            "iat": 42,
            "ath": RFC9449_ATH,
            "nonce": "conformance-rs-dpop-nonce",
        })
    );
}

#[test]
fn nonce_without_token_for_as_retry() {
    let key = rfc6979_key();
    let p = proof(&key, "POST", "https://as/t", 1, "j", None, Some("n-1"));
    let (_, claims) = open(&p);
    assert_eq!(claims["nonce"], "n-1");
    assert!(claims.get("ath").is_none());
}

#[test]
fn proofs_are_deterministic_and_jti_makes_them_fresh() {
    let key = rfc6979_key();
    let a = proof(&key, "POST", "https://rs/mcp", 5, "j1", Some("t"), None);
    assert_eq!(
        a,
        proof(&key, "POST", "https://rs/mcp", 5, "j1", Some("t"), None)
    );
    let b = proof(&key, "POST", "https://rs/mcp", 5, "j2", Some("t"), None);
    assert_ne!(a, b);
}

#[test]
fn ath_rfc9449_vector() {
    assert_eq!(ath(RFC9449_TOKEN), RFC9449_ATH);
}

#[test]
fn htu_strips_query_and_fragment_only() {
    let cases = [
        ("https://rs.example/mcp?x=1#f", "https://rs.example/mcp"),
        ("https://rs.example/mcp#f?x=1", "https://rs.example/mcp"),
        ("https://rs.example/mcp?", "https://rs.example/mcp"),
        ("https://rs.example/mcp", "https://rs.example/mcp"),
        // No normalisation: case, port, percent-encoding and trailing slash are kept.
        (
            "HTTPS://RS.Example:443/A%2fb/?q#x",
            "HTTPS://RS.Example:443/A%2fb/",
        ),
        ("https://ü.example/é?ä", "https://ü.example/é"),
        ("", ""),
        ("?only", ""),
    ];
    for (input, expected) in cases {
        assert_eq!(htu(input), expected, "{input}");
    }
}

/// An RNG that returns a scripted byte sequence (repeating its last chunk).
struct Script {
    chunks: Vec<[u8; 32]>,
    draws: usize,
}

impl rand_core::RngCore for Script {
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
        let i = self.draws.min(self.chunks.len() - 1);
        dest.copy_from_slice(&self.chunks[i][..dest.len()]);
        self.draws += 1;
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

#[test]
fn generate_key_uses_first_valid_draw() {
    let mut rng = Script {
        chunks: vec![[0xFF; 32], [0; 32], RFC6979_D],
        draws: 0,
    };
    let key = generate_key(&mut rng);
    assert_eq!(rng.draws, 3, "rejects >= n and zero, accepts the third");
    assert_eq!(key.jwk_thumbprint(), rfc6979_key().jwk_thumbprint());
}

#[test]
fn generate_key_with_broken_rng_does_not_loop_or_panic() {
    // A constant zero RNG never yields a valid scalar; the bounded loop falls back to the
    // non-zero reduction, which maps 0 to 1: the public key is then the base point G.
    let mut zeros = Script {
        chunks: vec![[0; 32]],
        draws: 0,
    };
    let key = generate_key(&mut zeros);
    assert_eq!(zeros.draws, 64);
    assert_eq!(
        key.public_jwk(),
        json!({
            "kty": "EC", "crv": "P-256",
            "x": "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",
            "y": "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU",
        })
    );
    let mut ones = Script {
        chunks: vec![[0xFF; 32]],
        draws: 0,
    };
    let key = generate_key(&mut ones);
    let p = proof(&key, "POST", "https://as/t", 1, "j", None, None);
    open(&p);
}

#[test]
fn generate_key_is_reproducible_from_seed() {
    let k1 = generate_key(&mut SeededRng::from_seed([9; 32]));
    let k2 = generate_key(&mut SeededRng::from_seed([9; 32]));
    let k3 = generate_key(&mut SeededRng::from_seed([10; 32]));
    assert_eq!(k1.jwk_thumbprint(), k2.jwk_thumbprint());
    assert_ne!(k1.jwk_thumbprint(), k3.jwk_thumbprint());
    // The key is exactly the first 32 bytes drawn.
    let mut bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut SeededRng::from_seed([9; 32]), &mut bytes);
    assert_eq!(
        SigningKey::from_scalar_bytes(&bytes)
            .unwrap()
            .jwk_thumbprint(),
        k1.jwk_thumbprint()
    );
    // Persisting and reloading keeps the binding (RFC 9449 §5: same key for refresh).
    let reloaded = SigningKey::from_scalar_b64(&k1.to_scalar_b64()).unwrap();
    assert_eq!(reloaded.jwk_thumbprint(), k1.jwk_thumbprint());
}

#[test]
fn header_constants() {
    assert_eq!(DPOP_HEADER, "DPoP");
    assert_eq!(NONCE_HEADER, "DPoP-Nonce");
    assert_eq!(PROOF_TYPE, "dpop+jwt");
}
