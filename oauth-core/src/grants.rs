//! Request builders and parsers for the extension grants (MCP authorization extensions):
//! client credentials (SEP-1046, RFC 6749 §4.4), the JWT bearer grant (RFC 7523 §2.1; workload
//! identity SEP-1933 and the second leg of enterprise-managed authorization SEP-990) and token
//! exchange for an ID-JAG (RFC 8693 §2; the first leg of SEP-990).
//!
//! Pure and signature-free, so this module builds without the `extensions` feature: anything
//! signed (a client assertion, a DPoP proof) arrives as a finished string from
//! `jwt` / `dpop` (feature `extensions`) or from the host.

use serde_json::Value;

use crate::error::Error;
use crate::http::{HttpRequest, HttpResponse, Step};
use crate::secret::AccessToken;
use crate::token::{basic_authorization, required_access_token, success_document};

/// `client_assertion_type` for a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// `grant_type` of the JWT bearer authorization grant (RFC 7523 §2.1).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// `grant_type` of token exchange (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Token type URI of an OpenID Connect ID token (RFC 8693 §3).
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";

/// Token type URI of an Identity Assertion JWT Authorization Grant (SEP-990,
/// draft-ietf-oauth-identity-assertion-authz-grant).
pub const ID_JAG_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";

/// The request header carrying a DPoP proof (RFC 9449 §4.1).
pub const DPOP_HEADER: &str = "DPoP";

/// How the client authenticates at a token endpoint. Exactly one method per request (RFC 6749
/// §2.3: "MUST NOT use more than one authentication method in each request").
#[derive(Clone, Copy)]
pub enum ClientAuth<'a> {
    /// No authentication: `client_id` in the form (public client, RFC 6749 §2.3; WIF token
    /// auth `none`).
    None {
        /// `client_id`.
        client_id: &'a str,
    },
    /// `Authorization: Basic` with form-encoded id and secret (RFC 6749 §2.3.1).
    Basic {
        /// `client_id`.
        client_id: &'a str,
        /// The client secret.
        secret: &'a str,
    },
    /// `client_id` and `client_secret` in the form (RFC 6749 §2.3.1).
    Post {
        /// `client_id`.
        client_id: &'a str,
        /// The client secret.
        secret: &'a str,
    },
    /// `client_assertion_type` + `client_assertion` (RFC 7523 §2.2, `private_key_jwt`). The
    /// assertion is already signed (`jwt::client_assertion`). No `client_id` in the
    /// form: the assertion's `sub` names the client (RFC 7523 §3; the MCP client credentials
    /// extension, SEP-1046, omits it).
    Assertion {
        /// The signed JWT.
        assertion: &'a str,
    },
}

impl std::fmt::Debug for ClientAuth<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientAuth::None { client_id } => write!(f, "None {{ client_id: {client_id:?} }}"),
            ClientAuth::Basic { client_id, .. } => {
                write!(
                    f,
                    "Basic {{ client_id: {client_id:?}, secret: [redacted] }}"
                )
            }
            ClientAuth::Post { client_id, .. } => {
                write!(f, "Post {{ client_id: {client_id:?}, secret: [redacted] }}")
            }
            ClientAuth::Assertion { .. } => f.write_str("Assertion { assertion: [redacted] }"),
        }
    }
}

/// Builds the form `POST`, appending `auth` after the grant parameters.
fn form_with_auth<'a>(
    url: &str,
    mut pairs: Vec<(&'a str, &'a str)>,
    auth: &ClientAuth<'a>,
) -> HttpRequest {
    match *auth {
        ClientAuth::None { client_id } => pairs.push(("client_id", client_id)),
        ClientAuth::Basic { .. } => {}
        ClientAuth::Post { client_id, secret } => {
            pairs.push(("client_id", client_id));
            pairs.push(("client_secret", secret));
        }
        ClientAuth::Assertion { assertion } => {
            pairs.push(("client_assertion_type", CLIENT_ASSERTION_TYPE));
            pairs.push(("client_assertion", assertion));
        }
    }
    let mut req = HttpRequest::post_form(url, &pairs);
    if let ClientAuth::Basic { client_id, secret } = *auth {
        req.headers.push((
            "Authorization".into(),
            basic_authorization(client_id, secret),
        ));
    }
    req
}

/// Appends `name=value` unless the value is absent or empty (an empty `scope` or `resource` is
/// not a request for nothing, it is a missing parameter).
fn push_opt<'a>(pairs: &mut Vec<(&'a str, &'a str)>, name: &'a str, value: Option<&'a str>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        pairs.push((name, v));
    }
}

/// The client credentials grant (RFC 6749 §4.4.2; SEP-1046): `grant_type`,
/// `scope`, `resource` (RFC 8707 §2.2, so the token is bound to the MCP server), then client
/// authentication: a JWT assertion (RECOMMENDED by SEP-1046) or a secret.
pub fn client_credentials_request(
    token_endpoint: &str,
    auth: &ClientAuth<'_>,
    scope: Option<&str>,
    resource: Option<&str>,
) -> HttpRequest {
    let mut pairs = vec![("grant_type", "client_credentials")];
    push_opt(&mut pairs, "scope", scope);
    push_opt(&mut pairs, "resource", resource);
    form_with_auth(token_endpoint, pairs, auth)
}

/// The JWT bearer grant (RFC 7523 §2.1): `grant_type`, `assertion` (a workload JWT for WIF, the
/// ID-JAG for SEP-990), `scope`, `resource`, then client authentication (optional per RFC 7523
/// §3.1; [`ClientAuth::None`] sends only `client_id`).
pub fn jwt_bearer_request(
    token_endpoint: &str,
    assertion: &str,
    auth: &ClientAuth<'_>,
    scope: Option<&str>,
    resource: Option<&str>,
) -> HttpRequest {
    let mut pairs = vec![("grant_type", JWT_BEARER_GRANT), ("assertion", assertion)];
    push_opt(&mut pairs, "scope", scope);
    push_opt(&mut pairs, "resource", resource);
    form_with_auth(token_endpoint, pairs, auth)
}

/// Token exchange at the enterprise IdP (RFC 8693 §2.1; SEP-990): trades the user's ID token
/// (`subject_token_type` [`ID_TOKEN_TYPE`]) for an ID-JAG (`requested_token_type`
/// [`ID_JAG_TYPE`]) whose `audience` is the MCP authorization server's issuer and whose
/// `resource` is the MCP server (conformance `complete-flow-token-exchange`).
#[allow(clippy::too_many_arguments)] // mirrors the RFC 8693 §2.1 parameter list one to one
pub fn token_exchange_request(
    idp_token_endpoint: &str,
    subject_token: &str,
    subject_token_type: &str,
    requested_token_type: &str,
    audience: &str,
    resource: Option<&str>,
    scope: Option<&str>,
    auth: &ClientAuth<'_>,
) -> HttpRequest {
    let mut pairs = vec![
        ("grant_type", TOKEN_EXCHANGE_GRANT),
        ("requested_token_type", requested_token_type),
        ("audience", audience),
    ];
    push_opt(&mut pairs, "resource", resource);
    push_opt(&mut pairs, "scope", scope);
    pairs.push(("subject_token", subject_token));
    pairs.push(("subject_token_type", subject_token_type));
    form_with_auth(idp_token_endpoint, pairs, auth)
}

/// A successful token exchange (RFC 8693 §2.2.1). `Debug` is safe: the token is a secret type.
#[derive(Debug, Clone)]
pub struct ExchangedToken {
    /// The issued token (`access_token` member; for SEP-990 the ID-JAG, which is not an access
    /// token despite the member name).
    pub token: AccessToken,
    /// `issued_token_type`. The caller checks it is the type it asked for (e.g. [`ID_JAG_TYPE`]).
    pub issued_token_type: String,
}

/// Parses a token exchange response (RFC 8693 §2.2.1, §2.2.2).
///
/// Only `200` is success; other statuses, and a `200` carrying `error`, go through
/// [`error_from_response`](crate::token::error_from_response) / the shared OAuth error reader
/// with [`Step::AssertionExchange`].
/// `access_token` must be a non-empty string of visible ASCII (it is sent on as a form value or
/// header) and `issued_token_type` a non-empty string. `token_type` is REQUIRED by the RFC but
/// only informative here (`N_A` for an ID-JAG, §2.2.1), so any string or its absence is
/// accepted; a non-string is malformed. Error details name fields, never values.
pub fn parse_token_exchange_response(resp: &HttpResponse) -> Result<ExchangedToken, Error> {
    let step = Step::AssertionExchange;
    let doc = success_document(resp, step)?;
    let token = required_access_token(&doc, step)?;
    let malformed = |detail: &str| Error::Malformed {
        step,
        detail: detail.into(),
    };
    if token.is_empty() {
        return Err(Error::InvalidToken("issued token is empty".into()));
    }
    if !token.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(Error::InvalidToken(
            "issued token contains whitespace, control or non-ASCII characters".into(),
        ));
    }
    let issued_token_type = match doc.get("issued_token_type") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) => return Err(malformed("issued_token_type is empty")),
        Some(_) => return Err(malformed("issued_token_type is not a string")),
        None => return Err(malformed("issued_token_type missing")),
    };
    match doc.get("token_type") {
        None | Some(Value::Null) | Some(Value::String(_)) => {}
        Some(_) => return Err(malformed("token_type is not a string")),
    }
    Ok(ExchangedToken {
        token: AccessToken::new(token),
        issued_token_type,
    })
}

/// Adds the `DPoP` proof header (RFC 9449 §4.1), replacing any earlier one: "there is not more
/// than one DPoP HTTP request header field" (§4.3 check 1), so a retry with a nonce (§8, §9) must
/// not stack proofs.
pub fn with_dpop(mut request: HttpRequest, proof: &str) -> HttpRequest {
    request
        .headers
        .retain(|(name, _)| !name.eq_ignore_ascii_case(DPOP_HEADER));
    request.headers.push((DPOP_HEADER.into(), proof.into()));
    request
}

#[cfg(test)]
#[path = "grants_tests.rs"]
mod tests;
