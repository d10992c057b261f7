//! The authorization response: parsing the callback and validating `state` and `iss`
//! (RFC 6749 §4.1.2, OAuth 2.1 §3.1, RFC 9207 §2.4; MCP 2026-07-28
//! Authorization, "Authorization Response Validation").
//!
//! The order of checks is the security property: `state` first (a response we did not ask for is
//! discarded, RFC 6749 §10.12), then `iss` (mix-up defence, before the code goes anywhere),
//! and only then is an `error` from the AS believed. After an `iss` mismatch the AS's error text
//! is never surfaced (MCP 2026-07-28: "MUST NOT act on or display"), because it may come from an
//! attacker's server.

use crate::error::{sanitize_remote_text, Error};
use crate::http::Step;
use crate::secret::{AuthorizationCode, StateToken};

/// The parameters of an authorization response (RFC 6749 §4.1.2, §4.1.2.1; RFC 9207 §2),
/// form-decoded.
///
/// `Debug` shows whether `code` and `state` are present, never their values.
#[derive(Clone, Default)]
pub struct CallbackParams {
    /// The authorization code (success).
    pub code: Option<AuthorizationCode>,
    /// The returned `state`.
    pub state: Option<String>,
    /// The RFC 9207 issuer identifier, decoded but otherwise untouched.
    pub iss: Option<String>,
    /// The RFC 6749 §4.1.2.1 error code (error response).
    pub error: Option<String>,
    /// Human-readable error text from the AS (untrusted).
    pub error_description: Option<String>,
    /// Error page URI from the AS (untrusted).
    pub error_uri: Option<String>,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |present: bool| if present { Some("[redacted]") } else { None };
        f.debug_struct("CallbackParams")
            .field("code", &redacted(self.code.is_some()))
            .field("state", &redacted(self.state.is_some()))
            .field("iss", &self.iss)
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .field("error_uri", &self.error_uri)
            .finish()
    }
}

/// Parses a callback given as a raw query (`code=..&state=..`), `?query`, or a whole redirect URL
/// (`http://127.0.0.1:1234/callback?code=..`, e.g. pasted by the user or read from a `Location`
/// header).
///
/// Everything after the first `#` is dropped, then the part after the first `?` (or everything,
/// if there is none) is form-decoded. A known parameter appearing twice is
/// [`Error::DuplicateParameter`] (OAuth 2.1 §3.1: parameters "MUST NOT be included more than
/// once"). Unknown parameters are ignored.
pub fn parse_callback(input: &str) -> Result<CallbackParams, Error> {
    let input = input.split('#').next().unwrap_or_default();
    let query = match input.split_once('?') {
        Some((_, q)) => q,
        None => input,
    };
    let mut p = CallbackParams::default();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match name.as_ref() {
            "code" => {
                if p.code.is_some() {
                    return Err(Error::DuplicateParameter("code".into()));
                }
                p.code = Some(AuthorizationCode::new(value.into_owned()));
                continue;
            }
            "state" => &mut p.state,
            "iss" => &mut p.iss,
            "error" => &mut p.error,
            "error_description" => &mut p.error_description,
            "error_uri" => &mut p.error_uri,
            _ => continue,
        };
        if slot.is_some() {
            return Err(Error::DuplicateParameter(name.into_owned()));
        }
        *slot = Some(value.into_owned());
    }
    Ok(p)
}

/// The RFC 9207 §2.4 decision table (MCP 2026-07-28 Authorization, "Authorization
/// Response Validation"), with the MCP policy of comparing an
/// unadvertised `iss` too:
///
/// | advertised | `iss` present | result |
/// |---|---|---|
/// | yes | yes | byte-exact compare |
/// | yes | no  | reject |
/// | no  | yes | byte-exact compare |
/// | no  | no  | accept |
///
/// The comparison is "simple string comparison" (RFC 3986 §6.2.1) after form-decoding, with no
/// normalisation at all (MCP 2026-07-28: no case folding,
/// default-port elision, trailing-slash or percent-encoding normalisation; `issuer + "/"` fails).
/// Failures are [`Error::IssMismatch`].
pub fn check_iss(
    iss_advertised: bool,
    expected_issuer: &str,
    received: Option<&str>,
) -> Result<(), Error> {
    match received {
        Some(iss) if iss == expected_issuer => Ok(()),
        Some(_) => Err(Error::IssMismatch),
        None if iss_advertised => Err(Error::IssMismatch),
        None => Ok(()),
    }
}

/// Validates a parsed callback and returns the code to redeem.
///
/// Order: `state` (missing or wrong: [`Error::StateMismatch`], compared in constant time), then
/// [`check_iss`], then an AS `error` ([`Error::OAuth`] with the description sanitised), then the
/// `code` (missing or empty: [`Error::Malformed`]). Because `iss` is checked before `error`, a
/// response from the wrong issuer yields only [`Error::IssMismatch`] and its text is dropped (MCP
/// 2026-07-28 Authorization, "Authorization Response Validation").
pub fn validate_callback(
    params: CallbackParams,
    expected_state: &StateToken,
    expected_issuer: &str,
    iss_advertised: bool,
) -> Result<AuthorizationCode, Error> {
    match params.state.as_deref() {
        Some(state) if expected_state.matches(state) => {}
        _ => return Err(Error::StateMismatch),
    }
    check_iss(iss_advertised, expected_issuer, params.iss.as_deref())?;
    if let Some(code) = params.error {
        return Err(Error::OAuth {
            step: Step::Authorization,
            code: sanitize_remote_text(&code),
            description: params
                .error_description
                .map(|d| sanitize_remote_text(&d))
                .filter(|d| !d.is_empty()),
        });
    }
    match params.code {
        Some(code) if !code.expose_secret().is_empty() => Ok(code),
        _ => Err(Error::Malformed {
            step: Step::Authorization,
            detail: "the authorization response carries neither a code nor an error".into(),
        }),
    }
}

#[cfg(test)]
#[path = "callback_tests.rs"]
mod tests;
