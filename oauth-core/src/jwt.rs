//! Compact JWS signing with ES256 (RFC 7515 §3.1, §7.1; RFC 7518 §3.4) and the RFC 7523 client
//! assertion (RFC 7523 §2.2, §3; OIDC Core §9 `private_key_jwt`).
//!
//! Only what the extensions need: an ES256 [`SigningKey`] (loaded from the PKCS#8 PEM a host
//! configures, or built from injected randomness for DPoP), its public JWK and RFC 7638
//! thumbprint, and a signer. ES256 is the one algorithm the conformance suite uses for
//! `private_key_jwt` and DPoP (conformance-suite §2.1, §3.4). Signing is deterministic (RFC 6979),
//! so the core stays sans-IO: the only randomness is the caller-supplied `jti`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::elliptic_curve::ops::ReduceNonZero;
use p256::elliptic_curve::zeroize::Zeroize as _;
use p256::pkcs8::DecodePrivateKey as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::secret::DpopPrivateKey;

/// `client_assertion_type` for a JWT client assertion (RFC 7523 §2.2); defined in
/// [`crate::grants`], which builds the form without this feature.
pub use crate::grants::CLIENT_ASSERTION_TYPE;

/// Lifetime of a client assertion. RFC 7523 §3 requires `exp`; a short window (≤ 5 min)
/// limits replay while tolerating the verifier's clock skew.
pub const CLIENT_ASSERTION_LIFETIME_SECS: u64 = 300;

/// An ES256 (P-256) private key. `Debug` never shows key material; the scalar leaves only via
/// [`SigningKey::to_scalar_b64`], for persistence.
#[derive(Clone)]
pub struct SigningKey(p256::ecdsa::SigningKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

impl SigningKey {
    /// Parses a P-256 private key from PEM: PKCS#8 (`BEGIN PRIVATE KEY`, what the conformance
    /// context's `private_key_pem` holds) or SEC1 (`BEGIN EC PRIVATE KEY`, what `openssl ecparam
    /// -genkey` writes). Surrounding whitespace is ignored, and a PEM whose line breaks arrive as
    /// literal `\n` (common when a key is pasted into an environment variable) is accepted.
    ///
    /// Errors are [`Error::Config`] with a fixed message: the input is never echoed, since it is
    /// the secret.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, Error> {
        let unescaped;
        let mut text = pem.trim();
        if !text.contains('\n') && text.contains("\\n") {
            unescaped = text.replace("\\n", "\n");
            text = &unescaped;
        }
        let key = p256::SecretKey::from_pkcs8_pem(text)
            .or_else(|_| p256::SecretKey::from_sec1_pem(text))
            .map_err(|_| {
                Error::Config(
                    "private key is not a PEM-encoded P-256 key (PKCS#8 or SEC1) for ES256".into(),
                )
            })?;
        Ok(Self(p256::ecdsa::SigningKey::from(key)))
    }

    /// A key from a big-endian scalar. Fails ([`Error::Config`]) when the bytes are zero or not
    /// below the group order; [`crate::dpop::generate_key`] then draws again.
    pub fn from_scalar_bytes(bytes: &[u8; 32]) -> Result<Self, Error> {
        p256::ecdsa::SigningKey::from_bytes(&(*bytes).into())
            .map(Self)
            .map_err(|_| Error::Config("private key scalar is out of range for P-256".into()))
    }

    /// A key from any 32 bytes: `(bytes mod (n - 1)) + 1`, always in range. Only
    /// [`crate::dpop::generate_key`]'s last resort after rejection sampling failed.
    pub(crate) fn from_scalar_bytes_reduced(bytes: &[u8; 32]) -> Self {
        let scalar = <p256::NonZeroScalar as ReduceNonZero<p256::U256>>::reduce_nonzero_bytes(
            &(*bytes).into(),
        );
        Self(p256::ecdsa::SigningKey::from(scalar))
    }

    /// The scalar as base64url (no padding), for a credential store.
    pub fn to_scalar_b64(&self) -> DpopPrivateKey {
        let mut bytes = self.0.to_bytes();
        let encoded = URL_SAFE_NO_PAD.encode(bytes);
        bytes.zeroize();
        DpopPrivateKey::new(encoded)
    }

    /// Reloads a key saved with [`SigningKey::to_scalar_b64`]. A damaged value is an
    /// [`Error::Config`] that does not repeat it.
    pub fn from_scalar_b64(secret: &DpopPrivateKey) -> Result<Self, Error> {
        let bad = || Error::Config("stored private key is not a base64url P-256 scalar".into());
        let mut decoded = URL_SAFE_NO_PAD
            .decode(secret.expose_secret().as_bytes())
            .map_err(|_| bad())?;
        let result = <[u8; 32]>::try_from(decoded.as_slice())
            .map_err(|_| bad())
            .and_then(|mut b| {
                let key = Self::from_scalar_bytes(&b).map_err(|_| bad());
                b.zeroize();
                key
            });
        decoded.zeroize();
        result
    }

    /// The public key as a JWK (RFC 7518 §6.2.1): `kty`, `crv`, `x`, `y`, and never the private
    /// `d` (RFC 9449 §4.2: "MUST NOT contain a private key").
    pub fn public_jwk(&self) -> Value {
        let (x, y) = self.coordinates();
        json!({"kty": "EC", "crv": "P-256", "x": x, "y": y})
    }

    /// The RFC 7638 JWK SHA-256 thumbprint, base64url: what an AS binds a DPoP token to
    /// (`cnf.jkt`, RFC 9449 §6.1) and `dpop_jkt` (RFC 9449 §10).
    pub fn jwk_thumbprint(&self) -> String {
        let (x, y) = self.coordinates();
        thumbprint_from_coordinates(&x, &y)
    }

    /// Base64url `x` and `y` of the public point.
    fn coordinates(&self) -> (String, String) {
        let point = self.0.verifying_key().to_encoded_point(false);
        // An uncompressed encoding of a valid public key always has both coordinates.
        let x = point.x().map(|b| URL_SAFE_NO_PAD.encode(b));
        let y = point.y().map(|b| URL_SAFE_NO_PAD.encode(b));
        (x.unwrap_or_default(), y.unwrap_or_default())
    }
}

/// RFC 7638 §3.2: the required EC members `crv`, `kty`, `x`, `y` in lexicographic order, no
/// whitespace, hashed with SHA-256. Built by hand, not via `serde_json`, so the member order
/// cannot depend on serde_json's `preserve_order` feature. Base64url values need no escaping.
pub(crate) fn thumbprint_from_coordinates(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// Signs `header` and `claims` as a compact JWS (RFC 7515 §7.1): `b64url(header) "."
/// b64url(claims) "." b64url(r || s)`, the signature being the 64-byte fixed-width `r || s` of
/// RFC 7518 §3.4 (not DER). Deterministic (RFC 6979): the same key and inputs give the same
/// string. The caller sets `alg: "ES256"` in `header`.
pub fn sign_es256(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    // RFC 6979 signing fails only if r or s comes out zero (probability about 2^-256).
    let signature: p256::ecdsa::Signature = key.0.sign(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

/// A fresh JWT ID: 16 random bytes (128 bits), base64url. RFC 7519 §4.1.7 needs a negligible
/// collision probability; OIDC Core §9 and RFC 9449 §4.2 (DPoP replay detection) rely on it.
pub fn random_jti(rng: &mut dyn rand_core::RngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A `private_key_jwt` client assertion (RFC 7523 §2.2, §3; OIDC Core §9): header
/// `{"alg":"ES256","typ":"JWT"}`; claims `iss` = `sub` = `client_id` ("the subject MUST be the
/// client_id"), `aud` a single string, `iat` = `now_wall`, `exp` = `iat` + 300 s, `jti`.
///
/// `audience` should be the AS `issuer`: the conformance suite accepts only the issuer (with or
/// without a trailing `/`) and draft-ietf-oauth-rfc7523bis moves there, although RFC 7523 and
/// OIDC Core suggest the token endpoint. The caller chooses.
pub fn client_assertion(
    key: &SigningKey,
    client_id: &str,
    audience: &str,
    now_wall: u64,
    jti: &str,
) -> String {
    let header = json!({"alg": "ES256", "typ": "JWT"});
    let claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now_wall,
        "exp": now_wall.saturating_add(CLIENT_ASSERTION_LIFETIME_SECS),
        "jti": jti,
    });
    sign_es256(key, &header, &claims)
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
pub(crate) mod tests;
