//! Step: authorization server metadata (RFC 8414, OpenID Connect Discovery 1.0;
//! MCP 2025-03-26 fallbacks).
//!
//! [`candidates`] lists the well-known URLs for an issuer in the MCP order, [`request`] /
//! [`parse`] handle one probe, [`check_pkce`] enforces S256 and [`legacy_defaults`] stands in for
//! a 2025-03-26 server that publishes no metadata at all.
//!
//! The `issuer` is a raw string compared byte for byte with the issuer the URL was built from
//! (RFC 8414 §3.3, OIDC Discovery §4.3). URLs are spliced from the raw issuer,
//! never re-serialised through `url::Url`, which would add a trailing `/` to a bare origin.

use crate::error::{sanitize_remote_text, Error};
use crate::http::{HttpRequest, HttpResponse, Step};
use crate::resource_metadata::{flag, json_object, opt_string, opt_strings, split_url};
use crate::session::ClientAuthMethod;

/// RFC 8414 §3 default suffix (MCP defines no application-specific one).
const OAUTH_SUFFIX: &str = "/.well-known/oauth-authorization-server";
/// OpenID Connect Discovery §4 suffix.
const OIDC_SUFFIX: &str = "/.well-known/openid-configuration";

/// The RFC 8414 §2 / OIDC provider document, reduced to what the flow uses (§6.2). Unknown
/// members are ignored; absent or wrongly typed optional members are `None` / `false`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthorizationServerMetadata {
    /// `issuer`, raw; byte-identical to the issuer the document was fetched for.
    pub issuer: String,
    /// `authorization_endpoint` (the machine requires it for the code flow).
    pub authorization_endpoint: Option<String>,
    /// `token_endpoint` (the machine requires it for the code flow).
    pub token_endpoint: Option<String>,
    /// `registration_endpoint`: RFC 7591 DCR is available.
    pub registration_endpoint: Option<String>,
    /// `revocation_endpoint` (RFC 7009), used on logout.
    pub revocation_endpoint: Option<String>,
    /// `scopes_supported` (gates `offline_access`: MCP 2026-07-28 Authorization,
    /// "Refresh Tokens").
    pub scopes_supported: Option<Vec<String>>,
    /// `response_types_supported`.
    pub response_types_supported: Option<Vec<String>>,
    /// `grant_types_supported` (RFC 8414 default `["authorization_code","implicit"]` if absent).
    pub grant_types_supported: Option<Vec<String>>,
    /// `code_challenge_methods_supported`; absent means no PKCE (RFC 8414 §2).
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// `token_endpoint_auth_methods_supported`; see [`Self::auth_methods`].
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// `client_id_metadata_document_supported` (CIMD draft 00 §5).
    pub client_id_metadata_document_supported: bool,
    /// `authorization_response_iss_parameter_supported` (RFC 9207 §3).
    pub authorization_response_iss_parameter_supported: bool,
    /// `dpop_signing_alg_values_supported` (RFC 9449 §5.1).
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
}

impl AuthorizationServerMetadata {
    /// Whether PKCE `S256` is advertised (exact, case-sensitive name, RFC 7636 §4.2).
    pub fn supports_s256(&self) -> bool {
        self.code_challenge_methods_supported
            .as_ref()
            .is_some_and(|m| m.iter().any(|x| x == "S256"))
    }

    /// Known token endpoint auth methods in the AS's order, without duplicates. An absent
    /// field means `["client_secret_basic"]` (RFC 8414 §2 default); unknown names are skipped,
    /// so a list of only unknown methods yields an empty vector.
    pub fn auth_methods(&self) -> Vec<ClientAuthMethod> {
        let Some(names) = &self.token_endpoint_auth_methods_supported else {
            return vec![ClientAuthMethod::ClientSecretBasic];
        };
        let mut out = Vec::new();
        for m in names.iter().filter_map(|n| ClientAuthMethod::from_name(n)) {
            if !out.contains(&m) {
                out.push(m);
            }
        }
        out
    }

    /// Whether `scopes_supported` lists `scope` (exact match; absent field lists nothing).
    pub fn lists_scope(&self, scope: &str) -> bool {
        self.scopes_supported
            .as_ref()
            .is_some_and(|s| s.iter().any(|x| x == scope))
    }
}

/// The metadata URLs to probe for `issuer`, in order (RFC 8414 §3.1, OIDC Discovery §4; MCP
/// 2025-11-25 Authorization, "Authorization Server Metadata Discovery").
///
/// Issuer with a path (a terminating `/` removed first): `<origin>/.well-known/oauth-
/// authorization-server<path>`, `<origin>/.well-known/openid-configuration<path>`,
/// `<origin><path>/.well-known/openid-configuration`. The root
/// `/.well-known/oauth-authorization-server` is never probed for a path issuer (conformance
/// `authorization-server-metadata-wrong-path`). Issuer without a path: the two root documents.
/// Built by splicing the raw issuer; an issuer that is not `scheme://host...` yields nothing.
pub fn candidates(issuer: &str) -> Vec<String> {
    let Some((scheme, authority, rest)) = split_url(issuer) else {
        return Vec::new();
    };
    let origin = format!("{scheme}://{authority}");
    // RFC 8414 §2: an issuer has no query or fragment; ignore any rather than splice them.
    let path = rest
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .trim_end_matches('/');
    if path.is_empty() {
        vec![
            format!("{origin}{OAUTH_SUFFIX}"),
            format!("{origin}{OIDC_SUFFIX}"),
        ]
    } else {
        vec![
            format!("{origin}{OAUTH_SUFFIX}{path}"),
            format!("{origin}{OIDC_SUFFIX}{path}"),
            format!("{origin}{path}{OIDC_SUFFIX}"),
        ]
    }
}

/// The probe: a GET asking for JSON (RFC 8414 §3.1).
pub fn request(url: &str) -> HttpRequest {
    HttpRequest::get_json(url)
}

/// Parses one probe response for `expected_issuer` (RFC 8414 §3.2-3.3, OIDC Discovery §4.3).
///
/// Non-200 is [`Error::HttpStatus`] (the machine decides whether to try the next candidate;
/// no specification says which statuses move on). The `issuer` member must be a string
/// byte-identical to `expected_issuer`, otherwise [`Error::IssuerMismatch`] and the document must
/// not be used (RFC 8414 §3.3; conformance `metadata-issuer-mismatch`, where a trailing `/` already
/// counts as different; `found` is sanitised remote text for display, never reused). Endpoints are
/// optional here: the machine requires what its chosen flow needs.
pub fn parse(
    response: &HttpResponse,
    expected_issuer: &str,
) -> Result<AuthorizationServerMetadata, Error> {
    let step = Step::ServerMetadata;
    let obj = json_object(response, step)?;
    let issuer = match obj.get("issuer").and_then(|v| v.as_str()) {
        Some(s) => s,
        None => {
            return Err(Error::Malformed {
                step,
                detail: "`issuer` missing or not a string".into(),
            })
        }
    };
    if issuer != expected_issuer {
        return Err(Error::IssuerMismatch {
            expected: expected_issuer.to_string(),
            found: sanitize_remote_text(issuer),
        });
    }
    Ok(AuthorizationServerMetadata {
        issuer: issuer.to_string(),
        authorization_endpoint: opt_string(&obj, "authorization_endpoint"),
        token_endpoint: opt_string(&obj, "token_endpoint"),
        registration_endpoint: opt_string(&obj, "registration_endpoint"),
        revocation_endpoint: opt_string(&obj, "revocation_endpoint"),
        scopes_supported: opt_strings(&obj, "scopes_supported"),
        response_types_supported: opt_strings(&obj, "response_types_supported"),
        grant_types_supported: opt_strings(&obj, "grant_types_supported"),
        code_challenge_methods_supported: opt_strings(&obj, "code_challenge_methods_supported"),
        token_endpoint_auth_methods_supported: opt_strings(
            &obj,
            "token_endpoint_auth_methods_supported",
        ),
        client_id_metadata_document_supported: flag(&obj, "client_id_metadata_document_supported"),
        authorization_response_iss_parameter_supported: flag(
            &obj,
            "authorization_response_iss_parameter_supported",
        ),
        dpop_signing_alg_values_supported: opt_strings(&obj, "dpop_signing_alg_values_supported"),
    })
}

/// Refuses an AS without PKCE `S256` when `require_s256` (MCP 2025-11-25 Authorization,
/// "Authorization Code Protection"). An absent
/// `code_challenge_methods_supported` refuses too: RFC 8414 §2 says "If omitted, the
/// authorization server does not support PKCE". `require_s256 = false` is the explicit override
/// for legacy servers; the client still sends S256.
pub fn check_pkce(meta: &AuthorizationServerMetadata, require_s256: bool) -> Result<(), Error> {
    if require_s256 && !meta.supports_s256() {
        return Err(Error::PkceUnsupported);
    }
    Ok(())
}

/// Stand-in metadata for a 2025-03-26 server without any metadata document (MCP 2025-03-26
/// Authorization, "Fallbacks for Servers without Metadata Discovery"): issuer = the MCP origin,
/// endpoints `/authorize`, `/token`, `/register` at that origin, PKCE S256 (cannot be verified, so
/// assumed), a public client (`none`), and no `iss` advertisement. `origin` is raw
/// `scheme://authority`.
pub fn legacy_defaults(origin: &str) -> AuthorizationServerMetadata {
    let origin = origin.trim_end_matches('/');
    let strings = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect());
    AuthorizationServerMetadata {
        issuer: origin.to_string(),
        authorization_endpoint: Some(format!("{origin}/authorize")),
        token_endpoint: Some(format!("{origin}/token")),
        registration_endpoint: Some(format!("{origin}/register")),
        revocation_endpoint: None,
        scopes_supported: None,
        response_types_supported: strings(&["code"]),
        grant_types_supported: strings(&["authorization_code", "refresh_token"]),
        code_challenge_methods_supported: strings(&["S256"]),
        token_endpoint_auth_methods_supported: strings(&["none"]),
        client_id_metadata_document_supported: false,
        authorization_response_iss_parameter_supported: false,
        dpop_signing_alg_values_supported: None,
    }
}

/// Stand-in metadata for an authorization server that publishes none, from the endpoints the
/// caller gave ([`crate::config::ServerEndpoints`]): PKCE S256 assumed (the client always sends
/// it), no `iss` advertisement, no revocation, nothing assumed about grant types, and every
/// client authentication method this client has, so the method a registration answer names
/// (RFC 7591 §3.2.1) is the one used.
pub fn from_endpoints(
    issuer: &str,
    endpoints: &crate::config::ServerEndpoints,
) -> AuthorizationServerMetadata {
    AuthorizationServerMetadata {
        issuer: issuer.to_string(),
        authorization_endpoint: Some(endpoints.authorization_endpoint.clone()),
        token_endpoint: Some(endpoints.token_endpoint.clone()),
        registration_endpoint: endpoints.registration_endpoint.clone(),
        revocation_endpoint: None,
        scopes_supported: None,
        response_types_supported: Some(vec!["code".into()]),
        grant_types_supported: None,
        code_challenge_methods_supported: Some(vec!["S256".into()]),
        token_endpoint_auth_methods_supported: Some(
            ["none", "client_secret_basic", "client_secret_post"]
                .map(String::from)
                .to_vec(),
        ),
        client_id_metadata_document_supported: false,
        authorization_response_iss_parameter_supported: false,
        dpop_signing_alg_values_supported: None,
    }
}

#[cfg(test)]
#[path = "server_metadata_tests.rs"]
mod tests;
