//! The authorization request URL (OAuth 2.1 §4.1.1, RFC 7636 §4.3, RFC 8707 §2.1).
//!
//! A pure string builder. The endpoint is kept byte for byte: it is not parsed and re-serialised
//! through `url::Url`, which would rewrite it (ARCHITECTURE.md §8). Checking the endpoint against
//! the [`crate::UrlPolicy`] is the machine's job, before it opens the browser.

use crate::error::Error;
use crate::secret::StateToken;

/// Everything that goes into one authorization request.
#[derive(Debug)]
pub struct AuthorizationParams<'a> {
    /// The AS metadata `authorization_endpoint`, raw.
    pub authorization_endpoint: &'a str,
    /// The registered (or CIMD) `client_id`.
    pub client_id: &'a str,
    /// The exact redirect URI the listener serves (and the token request repeats).
    pub redirect_uri: &'a str,
    /// Space-separated scopes; omitted when `None` or empty (MCP 2025-11-25
    /// Authorization, "Scope Selection Strategy"; conformance `scope-omitted-when-undefined`).
    pub scope: Option<&'a str>,
    /// The CSRF `state` (RFC 6749 §10.12).
    pub state: &'a StateToken,
    /// `BASE64URL(SHA256(verifier))` (RFC 7636 §4.2, method `S256`).
    pub code_challenge: &'a str,
    /// The RFC 8707 `resource`, sent whether or not the AS advertises support (MCP
    /// 2025-11-25 Authorization, "Resource Parameter Implementation"); `None` only in legacy mode
    /// without PRM.
    pub resource: Option<&'a str>,
    /// Extra parameters the authorization server defines (RFC 6749 §3.1), appended last; any
    /// that [`check_extra_param`] refuses is skipped.
    pub extra: &'a [(String, String)],
}

/// Parameters the client sets itself (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 8707 §2, RFC 9449
/// §10, RFC 9101 §5, OAuth 2.0 Multiple Response Types §2.1): an extra parameter may not
/// replace or repeat them, or it could weaken PKCE, `state`, the redirect or the audience.
pub const CLIENT_OWNED_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
    "dpop_jkt",
    "request",
    "request_uri",
    "response_mode",
];

/// Whether `name` may be sent as an extra authorization parameter: not one the client owns
/// ([`CLIENT_OWNED_PARAMS`], compared case-insensitively) and a plain non-empty token of
/// printable ASCII without `=` or `&`.
///
/// ```
/// use mcp_oauth_core::authorize::check_extra_param;
///
/// assert!(check_extra_param("audience").is_ok());
/// assert!(check_extra_param("prompt").is_ok());
/// assert!(check_extra_param("state").is_err());
/// assert!(check_extra_param("Code_Challenge").is_err());
/// ```
pub fn check_extra_param(name: &str) -> Result<(), Error> {
    let owned = CLIENT_OWNED_PARAMS
        .iter()
        .any(|p| p.eq_ignore_ascii_case(name));
    if owned {
        return Err(Error::Config(format!(
            "the authorization parameter {name:?} is set by the client itself and cannot be              given as an extra parameter"
        )));
    }
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'=' && b != b'&');
    if !plain {
        return Err(Error::Config(format!(
            "{:?} is not a valid authorization parameter name",
            crate::error::sanitize_remote_text(name)
        )));
    }
    Ok(())
}

/// Builds the URL the browser opens.
///
/// Parameters are appended in a fixed order — `response_type=code`, `client_id`, `redirect_uri`,
/// `scope` (if non-empty), `state`, `code_challenge`, `code_challenge_method=S256` (always S256,
/// never `plain`: RFC 7636 §7.2), `resource` (if any) — form-urlencoded (spaces become `+`).
/// An existing query on the endpoint is kept (RFC 6749 §3.1: "MUST be retained"), a `#fragment`
/// is dropped (fragments are not sent to the server).
pub fn authorization_url(p: &AuthorizationParams) -> String {
    let endpoint = p
        .authorization_endpoint
        .split('#')
        .next()
        .unwrap_or_default();
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("response_type", "code");
    query.append_pair("client_id", p.client_id);
    query.append_pair("redirect_uri", p.redirect_uri);
    if let Some(scope) = p.scope.filter(|s| !s.is_empty()) {
        query.append_pair("scope", scope);
    }
    query.append_pair("state", p.state.expose_secret());
    query.append_pair("code_challenge", p.code_challenge);
    query.append_pair("code_challenge_method", "S256");
    if let Some(resource) = p.resource {
        query.append_pair("resource", resource);
    }
    for (name, value) in p.extra {
        if check_extra_param(name).is_ok() {
            query.append_pair(name, value);
        }
    }
    let query = query.finish();
    let separator = match endpoint.find('?') {
        None => "?",
        Some(_) if endpoint.ends_with('?') || endpoint.ends_with('&') => "",
        Some(_) => "&",
    };
    format!("{endpoint}{separator}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params<'a>(endpoint: &'a str, state: &'a StateToken) -> AuthorizationParams<'a> {
        AuthorizationParams {
            authorization_endpoint: endpoint,
            client_id: "client 1",
            redirect_uri: "http://127.0.0.1:5555/callback",
            scope: Some("mcp:basic mcp:write"),
            state,
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            resource: Some("http://localhost:3000/mcp"),
            extra: &[],
        }
    }

    #[test]
    fn golden_url() {
        let state = StateToken::new("st&te=1");
        let url = authorization_url(&params("http://localhost:3000/authorize", &state));
        assert_eq!(
            url,
            "http://localhost:3000/authorize?response_type=code&client_id=client+1\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback&scope=mcp%3Abasic+mcp%3Awrite\
             &state=st%26te%3D1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
             &code_challenge_method=S256&resource=http%3A%2F%2Flocalhost%3A3000%2Fmcp"
        );
    }

    #[test]
    fn keeps_existing_query_and_drops_fragment() {
        let state = StateToken::new("s");
        let mut p = params(
            "https://as.example.com/oauth/authorize?tenant=a%20b#frag",
            &state,
        );
        p.scope = None;
        p.resource = None;
        assert_eq!(
            authorization_url(&p),
            "https://as.example.com/oauth/authorize?tenant=a%20b&response_type=code\
             &client_id=client+1&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback&state=s\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        );
        let p = params("https://as.example.com/authorize?", &state);
        assert!(authorization_url(&p)
            .starts_with("https://as.example.com/authorize?response_type=code&"));
    }

    #[test]
    fn endpoint_kept_byte_exact() {
        // url::Url would add a trailing slash and lowercase the host; we must not.
        let state = StateToken::new("s");
        let url = authorization_url(&params("http://LOCALHOST:3000", &state));
        assert!(
            url.starts_with("http://LOCALHOST:3000?response_type=code&"),
            "{url}"
        );
    }

    #[test]
    fn extra_parameters_come_last_and_never_replace_the_clients_own() {
        let state = StateToken::new("s");
        let extra = [
            (
                "audience".to_string(),
                "https://api.example.com".to_string(),
            ),
            ("prompt".to_string(), "consent".to_string()),
            ("STATE".to_string(), "forged".to_string()),
        ];
        let mut p = params("https://as/authorize", &state);
        p.extra = &extra;
        let url = authorization_url(&p);
        assert!(
            url.ends_with("&resource=http%3A%2F%2Flocalhost%3A3000%2Fmcp&audience=https%3A%2F%2Fapi.example.com&prompt=consent"),
            "{url}"
        );
        assert!(!url.contains("forged"), "{url}");
        for bad in ["", "a=b", "a&b", "a b", "caf\u{e9}"] {
            assert!(check_extra_param(bad).is_err(), "{bad:?}");
        }
        let e = check_extra_param("redirect_uri").expect_err("owned");
        assert!(e.to_string().contains("set by the client itself"), "{e}");
    }

    #[test]
    fn scope_omitted_when_none_or_empty() {
        let state = StateToken::new("s");
        for scope in [None, Some("")] {
            let mut p = params("https://as/authorize", &state);
            p.scope = scope;
            let url = authorization_url(&p);
            assert!(!url.contains("scope="), "{url}");
            assert!(url.contains("&state=s&code_challenge="), "{url}");
        }
    }
}
