//! Client registration: RFC 7591 dynamic registration (DCR), the Client ID Metadata Document
//! (CIMD, draft-ietf-oauth-client-id-metadata-document-00), and the choice of token endpoint
//! authentication (RFC 6749 §2.3.1, RFC 8414 §2 `token_endpoint_auth_methods_supported`).
//!
//! The order pre-registered > CIMD > DCR (MCP 2025-11-25 Authorization, "Client Registration
//! Approaches") is the machine's business; this module only builds
//! and reads the documents. Functions take the AS's supported auth methods as a slice (see
//! [`supported_auth_methods`]) rather than the metadata struct, so they stay independent of it.

use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::http::{HttpRequest, HttpResponse, Step, MAX_RESPONSE_BYTES};
use crate::secret::ClientSecret;
use crate::session::{ClientAuthMethod, ClientKind, ClientRegistration};
use crate::token::{error_from_response, oauth_error_in, response_document, uint_field};

/// CIMD draft 00 §6.6: "recommended maximum response size … is 5 kilobytes"; an AS may refuse a
/// larger document, so we refuse to produce one.
pub const MAX_CIMD_BYTES: usize = 5 * 1024;

/// What the client asks for in a DCR request (RFC 7591 §2, OpenID Connect Dynamic
/// Client Registration §2).
#[derive(Debug, Clone, Copy)]
pub struct DcrParams<'a> {
    /// `client_name`, shown on the consent screen.
    pub client_name: &'a str,
    /// The exact redirect URI the authorization request will use (RFC 7591 §2 `redirect_uris`).
    pub redirect_uri: &'a str,
    /// `scope`, if any; omitted when `None` or empty.
    pub scope: Option<&'a str>,
    /// `application_type` (`native` or `web`), mandatory since 2026-07-28 (MCP
    /// 2026-07-28 Client Registration, "Application Type and Redirect URI Constraints").
    pub application_type: &'a str,
    /// `software_id`.
    pub software_id: Option<&'a str>,
    /// `software_version`.
    pub software_version: Option<&'a str>,
}

/// The RFC 7591 §3.1 registration request: a JSON `POST`. It registers a public client
/// (`token_endpoint_auth_method: "none"` sent explicitly, because RFC 7591 §2 defaults to
/// `client_secret_basic`), asks for `refresh_token` (MCP 2026-07-28 Authorization,
/// "Refresh Tokens") and names its `application_type` (MCP 2026-07-28 Client Registration).
pub fn dcr_request(registration_endpoint: &str, p: &DcrParams) -> HttpRequest {
    let mut body = Map::new();
    body.insert("client_name".into(), json!(p.client_name));
    body.insert("redirect_uris".into(), json!([p.redirect_uri]));
    body.insert(
        "grant_types".into(),
        json!(["authorization_code", "refresh_token"]),
    );
    body.insert("response_types".into(), json!(["code"]));
    body.insert("token_endpoint_auth_method".into(), json!("none"));
    body.insert("application_type".into(), json!(p.application_type));
    if let Some(scope) = p.scope.filter(|s| !s.is_empty()) {
        body.insert("scope".into(), json!(scope));
    }
    if let Some(id) = p.software_id {
        body.insert("software_id".into(), json!(id));
    }
    if let Some(v) = p.software_version {
        body.insert("software_version".into(), json!(v));
    }
    HttpRequest::post_json(registration_endpoint, &Value::Object(body))
}

/// Reads a DCR response (RFC 7591 §3.2) into a registration bound to `issuer` (MCP 2026-07-28
/// Client Registration, "Authorization Server Binding").
///
/// Success is 201 (200 tolerated). `client_id` must be a non-empty string without control
/// characters; an empty `client_secret` means none; `client_secret_expires_at` 0 means never.
/// The auth method comes from [`choose_auth_method`] with the AS's `supported` list, because
/// the AS may hand out a secret it does not want used (the conformance suite's default AS
/// does exactly that). The stored redirect URI is
/// the one we registered: a client only reuses the registration with that exact URI.
pub fn parse_dcr_response(
    resp: &HttpResponse,
    issuer: &str,
    redirect_uri: &str,
    supported: &[ClientAuthMethod],
) -> Result<ClientRegistration, Error> {
    let step = Step::Registration;
    if resp.body.len() > MAX_RESPONSE_BYTES {
        return Err(Error::ResponseTooLarge { step });
    }
    if resp.status != 200 && resp.status != 201 {
        return Err(error_from_response(resp, step));
    }
    let doc = response_document(resp, step)?;
    if let Some(err) = oauth_error_in(&doc, step)? {
        return Err(err);
    }
    let malformed = |detail: &str| Error::Malformed {
        step,
        detail: detail.into(),
    };
    let client_id = match doc.get("client_id") {
        Some(Value::String(s)) if s.is_empty() => return Err(malformed("client_id is empty")),
        Some(Value::String(s)) if s.chars().any(char::is_control) => {
            return Err(malformed("client_id contains control characters"))
        }
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(malformed("client_id is not a string")),
        None => return Err(malformed("client_id missing")),
    };
    let client_secret = match doc.get("client_secret") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(ClientSecret::new(s.clone())),
        Some(_) => return Err(malformed("client_secret is not a string")),
    };
    let secret_expires_at = uint_field(&doc, "client_secret_expires_at", step)?.filter(|&t| t != 0);
    let registered = match doc.get("token_endpoint_auth_method") {
        None | Some(Value::Null) => None,
        // An unknown method (e.g. `private_key_jwt`) is one we cannot use; choose from the AS list.
        Some(Value::String(s)) => ClientAuthMethod::from_name(s),
        Some(_) => return Err(malformed("token_endpoint_auth_method is not a string")),
    };
    let auth_method = choose_auth_method(client_secret.is_some(), registered, supported);
    Ok(ClientRegistration {
        kind: ClientKind::Dynamic,
        issuer: issuer.to_string(),
        client_id,
        client_secret,
        secret_expires_at,
        auth_method,
        redirect_uri: Some(redirect_uri.to_string()),
    })
}

/// The AS's supported token endpoint auth methods from its metadata
/// `token_endpoint_auth_methods_supported`: absent → the RFC 8414 §2 default
/// `["client_secret_basic"]`; present → the names we know (`none`, `client_secret_basic`,
/// `client_secret_post`), in the AS's order, unknown names dropped.
pub fn supported_auth_methods(advertised: Option<&[String]>) -> Vec<ClientAuthMethod> {
    match advertised {
        None => vec![ClientAuthMethod::ClientSecretBasic],
        Some(names) => names
            .iter()
            .filter_map(|n| ClientAuthMethod::from_name(n))
            .collect(),
    }
}

/// Chooses the token endpoint authentication (RFC 6749 §2.3.1; the order of the TypeScript
/// SDK's `selectClientAuthMethod`).
///
/// Without a secret the client is public: `none`. With one: the `registered` method if the AS
/// supports it; else `client_secret_basic` if supported; else `client_secret_post` if
/// supported; else `none`. The last rule is the conformance pitfall: the default test AS
/// advertises only `["none"]` yet DCR returns a secret, and it must not be used. `supported` is
/// taken literally (an empty slice supports nothing); callers apply the RFC 8414 default with
/// [`supported_auth_methods`].
pub fn choose_auth_method(
    has_secret: bool,
    registered: Option<ClientAuthMethod>,
    supported: &[ClientAuthMethod],
) -> ClientAuthMethod {
    if !has_secret {
        return ClientAuthMethod::None;
    }
    if let Some(m) = registered.filter(|m| supported.contains(m)) {
        return m;
    }
    [
        ClientAuthMethod::ClientSecretBasic,
        ClientAuthMethod::ClientSecretPost,
    ]
    .into_iter()
    .find(|m| supported.contains(m))
    .unwrap_or(ClientAuthMethod::None)
}

/// The client's Client ID Metadata Document (CIMD draft 00 §4.1; MCP 2025-11-25
/// Authorization, "Client ID Metadata Documents"). Its URL is the `client_id`.
#[derive(Debug, Clone, Copy)]
pub struct CimdParams<'a> {
    /// The https URL where the document is hosted; becomes `client_id` byte for byte.
    pub client_id_url: &'a str,
    /// `client_name`.
    pub client_name: &'a str,
    /// Every redirect URI the client will use, exactly (CIMD draft 00 §4.5).
    pub redirect_uris: &'a [&'a str],
    /// `client_uri`.
    pub client_uri: Option<&'a str>,
    /// `logo_uri`.
    pub logo_uri: Option<&'a str>,
    /// `scope`; omitted when empty.
    pub scope: Option<&'a str>,
    /// `software_id`.
    pub software_id: Option<&'a str>,
    /// `software_version`.
    pub software_version: Option<&'a str>,
}

/// Checks a CIMD `client_id` URL (CIMD draft 00 §3): `https`, a path other than `/`, no `.` or
/// `..` segments (also percent-encoded, since RFC 3986 §6.2.2.2 treats `%2E` as `.`), no
/// fragment, no userinfo. A query is allowed (a SHOULD NOT). The raw string is inspected, not a
/// URL re-serialised by a parser, because parsing (WHATWG) silently removes dot segments and adds a `/` path (DESIGN
/// §5). Whitespace, control, non-ASCII and `\` characters are refused for the same reason.
pub fn validate_client_id_url(url: &str) -> Result<(), Error> {
    let refuse = |why: &str| {
        Err(Error::Config(format!(
            "client metadata document URL {:?}: {why} (CIMD-00 §3)",
            crate::http::redact_query(url)
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect::<String>()
        )))
    };
    if !url.bytes().all(|b| (0x21..=0x7e).contains(&b)) || url.contains('\\') {
        return refuse("must be printable ASCII without spaces or backslashes");
    }
    let Some(rest) = url
        .get(..8)
        .filter(|s| s.eq_ignore_ascii_case("https://"))
        .and_then(|_| url.get(8..))
    else {
        return refuse("must use the https scheme");
    };
    if url.contains('#') {
        return refuse("must not contain a fragment");
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(authority_end);
    if authority.is_empty() {
        return refuse("must name a host");
    }
    if authority.contains('@') {
        return refuse("must not contain a username or password");
    }
    let path = path_and_query.split('?').next().unwrap_or_default();
    if path.is_empty() || path == "/" {
        return refuse("must contain a path component");
    }
    let dot = |seg: &str| {
        let lower = seg.to_ascii_lowercase().replace("%2e", ".");
        lower == "." || lower == ".."
    };
    if path.split('/').any(dot) {
        return refuse("must not contain . or .. path segments");
    }
    match crate::uri::parse(url) {
        Ok(u) if u.scheme().eq_ignore_ascii_case("https") => Ok(()),
        _ => refuse("is not a valid absolute URL with a host"),
    }
}

/// Generates the Client ID Metadata Document to host at `client_id_url` (CIMD draft 00 §4.1).
///
/// `client_id` equals the URL byte for byte; the client is public
/// (`token_endpoint_auth_method: "none"`) and the document never carries `client_secret` or
/// `client_secret_expires_at` (CIMD draft 00 §4.1 MUST NOT). It asks for `refresh_token` (MCP
/// 2026-07-28 Authorization, "Refresh Tokens").
/// Errors with [`Error::Config`] on a bad URL, no redirect URIs, or a document over
/// [`MAX_CIMD_BYTES`].
pub fn cimd_document(p: &CimdParams) -> Result<Value, Error> {
    validate_client_id_url(p.client_id_url)?;
    if p.redirect_uris.is_empty() || p.redirect_uris.iter().any(|u| u.is_empty()) {
        return Err(Error::Config(
            "client metadata document needs at least one non-empty redirect URI".into(),
        ));
    }
    let mut doc = Map::new();
    doc.insert("client_id".into(), json!(p.client_id_url));
    doc.insert("client_name".into(), json!(p.client_name));
    doc.insert("redirect_uris".into(), json!(p.redirect_uris));
    doc.insert(
        "grant_types".into(),
        json!(["authorization_code", "refresh_token"]),
    );
    doc.insert("response_types".into(), json!(["code"]));
    doc.insert("token_endpoint_auth_method".into(), json!("none"));
    let extras = [
        ("client_uri", p.client_uri),
        ("logo_uri", p.logo_uri),
        ("scope", p.scope.filter(|s| !s.is_empty())),
        ("software_id", p.software_id),
        ("software_version", p.software_version),
    ];
    for (name, value) in extras {
        if let Some(v) = value {
            doc.insert(name.into(), json!(v));
        }
    }
    let doc = Value::Object(doc);
    let size = doc.to_string().len();
    if size > MAX_CIMD_BYTES {
        return Err(Error::Config(format!(
            "client metadata document is {size} bytes; keep it under {MAX_CIMD_BYTES} (CIMD-00 §6.6)"
        )));
    }
    Ok(doc)
}

#[cfg(test)]
#[path = "registration_tests.rs"]
mod tests;
