//! The authorization response: `callback::parse_callback` + `validate_callback` (RFC 6749 §10.12
//! `state`, RFC 9207 §2.4 `iss`).

use mcp_oauth_core::callback::{parse_callback, validate_callback, CallbackParams};
use mcp_oauth_core::{AuthorizationCode, Error, StateToken};

const STATE: &str = "expected-state";
const ISSUER: &str = "https://as.example.com";

/// Prefixes that put the right `state` / `iss` in front, so the fuzzer reaches the checks
/// behind the state comparison.
const PREFIXES: &[&str] = &[
    "",
    "state=expected-state&",
    "state=expected-state&iss=https%3A%2F%2Fas.example.com&",
    "http://127.0.0.1:5555/callback?code=c&state=expected-state&",
    "?state=expected-state&code=",
];

/// Byte 0 picks a prefix; the rest is the query (or URL) text.
pub fn run(data: &[u8]) {
    let prefix = data
        .first()
        .map_or("", |&b| PREFIXES[usize::from(b) % PREFIXES.len()]);
    let input = format!("{prefix}{}", crate::text(data.get(1..).unwrap_or_default()));
    let params = match parse_callback(&input) {
        Ok(p) => p,
        Err(e) => {
            assert!(
                matches!(e, Error::DuplicateParameter(_)),
                "unexpected {e:?}"
            );
            return;
        }
    };
    let mut blank = params.clone();
    blank.code = params.code.as_ref().map(|_| AuthorizationCode::new("x"));
    blank.state = params.state.as_ref().map(|_| "y".to_string());
    assert_eq!(
        format!("{params:?}"),
        format!("{blank:?}"),
        "code or state in Debug"
    );
    let expected = StateToken::new(STATE);
    for advertised in [false, true] {
        check(params.clone(), &expected, advertised);
    }
}

fn check(p: CallbackParams, expected: &StateToken, advertised: bool) {
    let state_ok = p.state.as_deref() == Some(STATE);
    let iss_ok = match p.iss.as_deref() {
        Some(iss) => iss == ISSUER,
        None => !advertised,
    };
    let (code, error) = (p.code.clone(), p.error.clone());
    match validate_callback(p, expected, ISSUER, advertised) {
        Ok(c) => {
            assert!(state_ok && iss_ok && error.is_none());
            assert!(!c.expose_secret().is_empty());
            assert_eq!(
                Some(c.expose_secret()),
                code.as_ref().map(|c| c.expose_secret())
            );
        }
        // The order of checks is the security property: state, then iss (an error from the
        // wrong issuer is never shown), then error.
        Err(Error::StateMismatch) => assert!(!state_ok),
        Err(Error::IssMismatch) => assert!(state_ok && !iss_ok),
        Err(e) => {
            assert!(state_ok && iss_ok, "{e:?} before the state/iss checks");
            assert!(!crate::has_control(&e.to_string()));
        }
    }
}
