//! Secret newtypes (ARCHITECTURE.md §7: no secret in `Debug`, logs or errors).
//!
//! Every value that grants access (tokens, codes, verifiers, client secrets, `state`) is wrapped in
//! a type made by the private `secret_type!` macro: its `Debug` prints `Name([redacted])`, it has no `Display` and no
//! derived `PartialEq`, and the inner string is reached only through an explicit
//! [`expose_secret`](AccessToken::expose_secret) call, so a stray `{:?}` in a log never leaks it.

use serde::{Deserialize, Serialize};

/// Declares a redacting secret newtype around `String`.
macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself. Call only where the value must go on the wire or into a store.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_type!(
    /// An OAuth access token (RFC 6749 §1.4).
    AccessToken
);
secret_type!(
    /// An OAuth refresh token (RFC 6749 §1.5). Rotated tokens replace it; never sent twice.
    RefreshToken
);
secret_type!(
    /// A client secret from pre-registration or dynamic registration (RFC 7591 §3.2.1).
    ClientSecret
);
secret_type!(
    /// An authorization code from the callback (RFC 6749 §4.1.2). Single use.
    AuthorizationCode
);
secret_type!(
    /// A PKCE `code_verifier` (RFC 7636 §4.1). Single use.
    PkceVerifier
);
secret_type!(
    /// The CSRF `state` value (RFC 6749 §10.12). Compared in constant time, single use.
    StateToken
);
secret_type!(
    /// A ready `Authorization` header value such as `Bearer <token>`.
    AuthorizationHeader
);

secret_type!(
    /// A JWT the caller holds and presents as a grant (RFC 7523 §2.1): a workload identity
    /// token (SEP-1933) or an IdP ID token for enterprise-managed authorization (SEP-990).
    Assertion
);
secret_type!(
    /// A PKCS#8 PEM private key for `private_key_jwt` client authentication (RFC 7523 §2.2).
    PrivateKeyPem
);
secret_type!(
    /// A DPoP private key (RFC 9449), as the base64url P-256 scalar, persisted with the tokens
    /// bound to it.
    DpopPrivateKey
);

impl StateToken {
    /// Constant-time comparison with a received `state` (no early exit on the first differing
    /// byte, so timing does not reveal a prefix).
    pub fn matches(&self, received: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), received.as_bytes())
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u8 | ((a.len() ^ b.len()) >> 8) as u8;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0xff);
        diff |= x ^ y;
    }
    diff == 0 && a.len() == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let t = AccessToken::new("super-secret-value");
        assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
        assert_eq!(t.expose_secret(), "super-secret-value");
    }

    #[test]
    fn state_comparison() {
        let s = StateToken::new("abc");
        assert!(s.matches("abc"));
        assert!(!s.matches("abd"));
        assert!(!s.matches("ab"));
        assert!(!s.matches("abcd"));
        assert!(!s.matches(""));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn serde_is_transparent() {
        let t = RefreshToken::new("rt");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"rt\"");
    }
}
