//! DPoP proofs (RFC 9449 §4, §7, §8, §9; SEP-1932, conformance `auth/dpop`, `auth/dpop-nonce`).
//!
//! A proof is an ES256 JWS whose header carries the public key, bound to one HTTP request by
//! `htm` and `htu`, to one access token by `ath`, and to the server's freshness demand by `nonce`.
//! Every request needs a new proof with a new `jti` (RFC 9449 §4.2, §9: a retry after
//! `use_dpop_nonce` too). Pure functions: the caller supplies the time and the `jti`
//! ([`crate::jwt::random_jti`]) and sends the proof in the [`DPOP_HEADER`] header
//! ([`crate::grants::with_dpop`]).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::elliptic_curve::zeroize::Zeroize as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::jwt::{sign_es256, SigningKey};

/// The request header carrying a proof (RFC 9449 §4.1); defined in [`crate::grants`] next to
/// [`crate::grants::with_dpop`].
pub use crate::grants::DPOP_HEADER;

/// The response header carrying a server-provided nonce (RFC 9449 §8, §9).
pub const NONCE_HEADER: &str = "DPoP-Nonce";

/// The proof's JOSE `typ` (RFC 9449 §4.2).
pub const PROOF_TYPE: &str = "dpop+jwt";

/// Bound on key-generation draws. A uniform 32-byte draw is out of range with probability about
/// 2^-32, so one draw practically always suffices; the bound only keeps a broken RNG from looping.
const MAX_KEY_DRAWS: usize = 64;

/// A DPoP proof JWT (RFC 9449 §4.2).
///
/// Header: `typ` `dpop+jwt`, `alg` `ES256` (asymmetric, as required), `jwk` the public key
/// without private members. Claims: `jti`, `htm` (the method, e.g. `POST`), `htu` (`url` without
/// query and fragment, see [`htu`]), `iat` = `now_wall`; `ath` = [`ath`]`(access_token)` when
/// presenting an access token to a resource server (§4.2, §7.1); `nonce` when a server supplied
/// one via [`NONCE_HEADER`] (§8 at the AS, §9 at the RS).
pub fn proof(
    key: &SigningKey,
    htm: &str,
    htu_url: &str,
    now_wall: u64,
    jti: &str,
    access_token: Option<&str>,
    nonce: Option<&str>,
) -> String {
    let header = json!({"typ": PROOF_TYPE, "alg": "ES256", "jwk": key.public_jwk()});
    let mut claims = json!({
        "jti": jti,
        "htm": htm,
        "htu": htu(htu_url),
        "iat": now_wall,
    });
    if let Value::Object(map) = &mut claims {
        if let Some(token) = access_token {
            map.insert("ath".into(), Value::String(ath(token)));
        }
        if let Some(n) = nonce {
            map.insert("nonce".into(), Value::String(n.into()));
        }
    }
    sign_es256(key, &header, &claims)
}

/// The `htu` claim for a request URL: "without query and fragment parts" (RFC 9449 §4.2).
///
/// Done by cutting the string at the first `?` or `#`, not by re-serialising through
/// `url::Url`, so the rest of the URL stays byte-identical to what the adapter requests
/// (ARCHITECTURE.md §8: raw strings are never normalised behind the caller's back).
pub fn htu(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or_default().to_string()
}

/// The `ath` claim: base64url(SHA-256(ASCII(access_token))), no padding (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// A fresh DPoP key from the injected RNG (the core draws no entropy of its own).
///
/// Rejection sampling (FIPS 186-5 A.2.2 "testing candidates"): 32 bytes are drawn until they
/// form a valid scalar, at most 64 times. Should an RNG fail all 64 draws (it must be broken, e.g.
/// constant), the last draw is reduced into `[1, n-1]` instead of panicking; such a key is no
/// weaker than the RNG that produced it.
pub fn generate_key(rng: &mut dyn rand_core::RngCore) -> SigningKey {
    let mut bytes = [0u8; 32];
    for _ in 0..MAX_KEY_DRAWS {
        rng.fill_bytes(&mut bytes);
        if let Ok(key) = SigningKey::from_scalar_bytes(&bytes) {
            bytes.zeroize();
            return key;
        }
    }
    let key = SigningKey::from_scalar_bytes_reduced(&bytes);
    bytes.zeroize();
    key
}

#[cfg(test)]
#[path = "dpop_tests.rs"]
mod tests;
