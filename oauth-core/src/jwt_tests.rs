//! Tests for `jwt.rs`. Known-answer values (RFC 6979 A.2.5 key, RFC 9449 thumbprint, the PEM
//! fixtures) were produced outside this crate (RFC text, Python `cryptography`), so they check
//! the code rather than echo it.

use super::*;
use crate::rng::SeededRng;
use p256::ecdsa::signature::Verifier as _;

/// RFC 6979 A.2.5 private key `x`.
pub(crate) const RFC6979_D: [u8; 32] = [
    0xC9, 0xAF, 0xA9, 0xD8, 0x45, 0xBA, 0x75, 0x16, 0x6B, 0x5C, 0x21, 0x57, 0x67, 0xB1, 0xD6, 0x93,
    0x4E, 0x50, 0xC3, 0xDB, 0x36, 0xE8, 0x9B, 0x12, 0x7B, 0x8A, 0x62, 0x2B, 0x12, 0x0F, 0x67, 0x21,
];
/// RFC 6979 A.2.5 public `Ux`, `Uy`, base64url.
const RFC6979_X: &str = "YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y";
const RFC6979_Y: &str = "eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk";
/// RFC 7638 thumbprint of that public key (computed with Python hashlib from the definition).
const RFC6979_JKT: &str = "DOvxvJiAdIqVWIkFt5hDtCunXLF0BV4-JGv4f-ALSm0";
/// base64url of `RFC6979_D`.
const RFC6979_D_B64: &str = "ya-p2EW6dRZrXCFXZ7HWk05Qw9s26JsSe4piKxIPZyE";

/// The RFC 6979 key as PKCS#8 and SEC1 PEM, written by Python `cryptography` (OpenSSL).
const PKCS8_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgya+p2EW6dRZrXCFX
Z7HWk05Qw9s26JsSe4piKxIPZyGhRANCAARg/tS6JVqdMclh63TGNW1owEm4kjth
+mzmaWIuYPKftnkD/hAIuLyZpBrp6VYovGTy8bIMLX6fUXejwpTURiKZ
-----END PRIVATE KEY-----
";
const SEC1_PEM: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIMmvqdhFunUWa1whV2ex1pNOUMPbNuibEnuKYisSD2choAoGCCqGSM49
AwEHoUQDQgAEYP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Z5A/4QCLi8
maQa6elWKLxk8vGyDC1+n1F3o8KU1EYimQ==
-----END EC PRIVATE KEY-----
";
/// A P-384 PKCS#8 key (scalar 5): well-formed PEM, wrong curve for ES256.
const P384_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAWhZANiAAQR3iSiwlHH
d1c8rF6gJeRn8gjlHb/5j8VPZmHL5WWDsDeIL0ocopfmCrzbw4NthLyPppbHdED5
LQ9YN+kKAOfFKEtEd1TV3uiMmGUztpAa6zF3aG0K6PszGEQUq+bBcTo=
-----END PRIVATE KEY-----
";

pub(crate) fn rfc6979_key() -> SigningKey {
    SigningKey::from_scalar_bytes(&RFC6979_D).unwrap()
}

fn b64_json(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Splits a compact JWS, checks its ES256 signature against the public JWK `jwk` (rebuilt from
/// `x`/`y` alone, so the JWK itself is checked too), and returns (header, claims).
pub(crate) fn verify_with_jwk(jws: &str, jwk: &Value) -> (Value, Value) {
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(parts.len(), 3, "compact JWS has three parts");
    let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
    let y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
    let point = p256::EncodedPoint::from_affine_coordinates(
        x.as_slice().into(),
        y.as_slice().into(),
        false,
    );
    let vk = p256::ecdsa::VerifyingKey::from_encoded_point(&point).unwrap();
    let sig_bytes = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    assert_eq!(sig_bytes.len(), 64, "ES256 signature is r || s, 64 bytes");
    let sig = p256::ecdsa::Signature::from_slice(&sig_bytes).unwrap();
    let input = format!("{}.{}", parts[0], parts[1]);
    vk.verify(input.as_bytes(), &sig)
        .expect("signature verifies");
    (b64_json(parts[0]), b64_json(parts[1]))
}

#[test]
fn rfc6979_deterministic_signature_vector() {
    // RFC 6979 A.2.5, P-256 with SHA-256, message "sample": sign_es256 uses this same signer.
    let key = rfc6979_key();
    let sig: p256::ecdsa::Signature = key.0.sign(b"sample");
    let hex: String = sig.to_bytes().iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(
        hex,
        "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716\
         F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"
    );
}

#[test]
fn public_jwk_and_thumbprint_of_known_key() {
    let key = rfc6979_key();
    let jwk = key.public_jwk();
    assert_eq!(
        jwk,
        json!({"kty": "EC", "crv": "P-256", "x": RFC6979_X, "y": RFC6979_Y})
    );
    assert!(jwk.get("d").is_none());
    assert_eq!(key.jwk_thumbprint(), RFC6979_JKT);
}

#[test]
fn thumbprint_rfc9449_example() {
    // RFC 9449 §4.1 example key and its `cnf.jkt` in §6.1.
    assert_eq!(
        thumbprint_from_coordinates(
            "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"
        ),
        "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    );
}

#[test]
fn parses_pkcs8_and_sec1_pem() {
    for pem in [PKCS8_PEM, SEC1_PEM] {
        let key = SigningKey::from_pkcs8_pem(pem).unwrap();
        assert_eq!(key.jwk_thumbprint(), RFC6979_JKT);
    }
    // CRLF line endings, surrounding whitespace, and `\n` escapes from an env variable.
    let crlf = PKCS8_PEM.replace('\n', "\r\n");
    let padded = format!("  \n{PKCS8_PEM}\n\n  ");
    let escaped = PKCS8_PEM.replace('\n', "\\n");
    for pem in [crlf, padded, escaped] {
        let key = SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(key.jwk_thumbprint(), RFC6979_JKT);
    }
}

#[test]
fn pem_roundtrip_through_p256_encoder() {
    use p256::pkcs8::EncodePrivateKey as _;
    let secret = p256::SecretKey::from_bytes(&[0x42u8; 32].into()).unwrap();
    let pem = secret.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
    let key = SigningKey::from_pkcs8_pem(&pem).unwrap();
    let expected = SigningKey::from_scalar_bytes(&[0x42; 32]).unwrap();
    assert_eq!(key.public_jwk(), expected.public_jwk());
}

#[test]
fn bad_pem_is_config_error_without_echo() {
    let body_line = PKCS8_PEM.lines().nth(1).unwrap();
    let truncated: String = PKCS8_PEM.lines().take(2).collect::<Vec<_>>().join("\n");
    let cases = [
        String::new(),
        "not a key at all: SECRET-MATERIAL-123".to_string(),
        P384_PEM.to_string(),
        truncated,
        PKCS8_PEM.replace("PRIVATE KEY", "PUBLIC KEY"),
        "-----BEGIN PRIVATE KEY-----\nSECRETSECRETSECRET\n-----END PRIVATE KEY-----\n".into(),
    ];
    for pem in &cases {
        let err = SigningKey::from_pkcs8_pem(pem).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(!shown.contains(body_line), "{shown}");
        assert_eq!(err.fault(), crate::error::Fault::Caller);
    }
}

#[test]
fn scalar_range_checks() {
    assert!(matches!(
        SigningKey::from_scalar_bytes(&[0; 32]),
        Err(Error::Config(_))
    ));
    assert!(SigningKey::from_scalar_bytes(&[0xFF; 32]).is_err());
    // n (the group order) is out of range; n - 1 is the largest valid scalar.
    let mut n: [u8; 32] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63,
        0x25, 0x51,
    ];
    assert!(SigningKey::from_scalar_bytes(&n).is_err());
    n[31] -= 1;
    assert!(SigningKey::from_scalar_bytes(&n).is_ok());
}

#[test]
fn scalar_b64_roundtrip_and_errors() {
    let key = rfc6979_key();
    let stored = key.to_scalar_b64();
    assert_eq!(stored.expose_secret(), RFC6979_D_B64);
    let back = SigningKey::from_scalar_b64(&stored).unwrap();
    assert_eq!(back.jwk_thumbprint(), RFC6979_JKT);
    // Serde shape is a bare string, as for the other secrets.
    assert_eq!(
        serde_json::to_string(&stored).unwrap(),
        format!("\"{RFC6979_D_B64}\"")
    );
    for bad in ["", "!!!!", "AAAA", &"A".repeat(44), &"_".repeat(43)] {
        let err = SigningKey::from_scalar_b64(&DpopPrivateKey::new(bad)).unwrap_err();
        assert!(matches!(err, Error::Config(_)));
        if !bad.is_empty() {
            assert!(!err.to_string().contains(bad));
        }
    }
}

#[test]
fn debug_shows_no_key_material() {
    let key = rfc6979_key();
    assert_eq!(format!("{key:?}"), "SigningKey([redacted])");
    let stored = key.to_scalar_b64();
    let shown = format!("{stored:?} {:?}", key.clone());
    assert!(!shown.contains(RFC6979_D_B64));
    assert!(!shown.to_ascii_lowercase().contains("c9afa9d8"));
}

#[test]
fn sign_es256_verifies_roundtrips_and_is_deterministic() {
    let key = rfc6979_key();
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": "k1"});
    let claims = json!({"iss": "a", "n": 1, "nested": {"x": [1, 2]}, "u": "é\"\\"});
    let jws = sign_es256(&key, &header, &claims);
    let (h, c) = verify_with_jwk(&jws, &key.public_jwk());
    assert_eq!(h, header);
    assert_eq!(c, claims);
    assert_eq!(
        jws,
        sign_es256(&key, &header, &claims),
        "RFC 6979: no randomness"
    );
    let other = sign_es256(&key, &header, &json!({"iss": "b"}));
    assert_ne!(other.rsplit('.').next(), jws.rsplit('.').next());
    // No padding, URL-safe alphabet only.
    assert!(jws
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
}

#[test]
#[should_panic(expected = "signature verifies")]
fn verifier_helper_rejects_tampering() {
    let key = rfc6979_key();
    let jws = sign_es256(&key, &json!({"alg": "ES256"}), &json!({"a": 1}));
    let tampered_claims = URL_SAFE_NO_PAD.encode(br#"{"a":2}"#);
    let parts: Vec<&str> = jws.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], tampered_claims, parts[2]);
    verify_with_jwk(&forged, &key.public_jwk());
}

#[test]
fn client_assertion_fields() {
    let key = SigningKey::from_pkcs8_pem(PKCS8_PEM).unwrap();
    let jws = client_assertion(
        &key,
        "conformance-test-client",
        "http://localhost:3001",
        1_700_000_000,
        "jti-1",
    );
    let (header, claims) = verify_with_jwk(&jws, &key.public_jwk());
    assert_eq!(header, json!({"alg": "ES256", "typ": "JWT"}));
    assert_eq!(
        claims,
        json!({
            "iss": "conformance-test-client",
            "sub": "conformance-test-client",
            "aud": "http://localhost:3001",
            "iat": 1_700_000_000u64,
            "exp": 1_700_000_300u64,
            "jti": "jti-1",
        })
    );
    assert!(claims["aud"].is_string(), "single-string aud");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        300
    );
    assert_eq!(
        jws,
        client_assertion(
            &key,
            "conformance-test-client",
            "http://localhost:3001",
            1_700_000_000,
            "jti-1"
        )
    );
    assert_eq!(
        CLIENT_ASSERTION_TYPE,
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
}

#[test]
fn client_assertion_exp_saturates() {
    let key = rfc6979_key();
    let jws = client_assertion(&key, "c", "a", u64::MAX - 1, "j");
    let (_, claims) = verify_with_jwk(&jws, &key.public_jwk());
    assert_eq!(claims["exp"].as_u64(), Some(u64::MAX));
}

#[test]
fn random_jti_is_128_bits_and_seeded() {
    let mut a = SeededRng::from_seed([3; 32]);
    let mut b = SeededRng::from_seed([3; 32]);
    let j1 = random_jti(&mut a);
    assert_eq!(j1.len(), 22);
    assert_eq!(URL_SAFE_NO_PAD.decode(&j1).unwrap().len(), 16);
    assert_eq!(j1, random_jti(&mut b));
    assert_ne!(j1, random_jti(&mut a));
}
