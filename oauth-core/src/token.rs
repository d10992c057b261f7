//! The token endpoint: authorization code exchange (RFC 6749 §4.1.3), refresh (RFC 6749 §6),
//! client authentication (RFC 6749 §2.3.1) and response parsing (RFC 6749 §5.1, §5.2).
//!
//! Also home of the pieces every other step reuses: [`error_from_response`] (the one OAuth
//! error-body parser), the client-authentication helper used by revocation, and the tolerant
//! response-document reader (JSON, or a form body when the AS insists, spec-checklist §6.6).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::{sanitize_remote_text, Error};
use crate::http::{HttpRequest, HttpResponse, Step, MAX_RESPONSE_BYTES};
use crate::secret::{AccessToken, AuthorizationCode, PkceVerifier, RefreshToken};
use crate::session::{ClientAuthMethod, ClientRegistration, TokenSet, TokenType};

/// The authorization code grant request (RFC 6749 §4.1.3, OAuth 2.1 §4.1.3).
///
/// `redirect_uri` must be byte-identical to the one in the authorization request (T3), the
/// `code_verifier` proves possession of the PKCE challenge (RFC 7636 §4.5, C1), and `resource`
/// binds the token's audience (RFC 8707 §2.2, C4) whenever the caller has one.
pub fn code_exchange_request(
    token_endpoint: &str,
    client: &ClientRegistration,
    code: &AuthorizationCode,
    redirect_uri: &str,
    verifier: &PkceVerifier,
    resource: Option<&str>,
) -> HttpRequest {
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code.expose_secret()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier.expose_secret()),
    ];
    if let Some(r) = resource {
        pairs.push(("resource", r));
    }
    authenticated_form(token_endpoint, pairs, client)
}

/// The refresh grant request (RFC 6749 §6, T7): the same `resource` and the same client
/// authentication as the original exchange. `scope`, when given, must be a subset of what was
/// granted (RFC 6749 §6); `None` keeps the granted scope.
pub fn refresh_request(
    token_endpoint: &str,
    client: &ClientRegistration,
    refresh_token: &RefreshToken,
    resource: Option<&str>,
    scope: Option<&str>,
) -> HttpRequest {
    let mut pairs = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose_secret()),
    ];
    if let Some(r) = resource {
        pairs.push(("resource", r));
    }
    if let Some(s) = scope {
        pairs.push(("scope", s));
    }
    authenticated_form(token_endpoint, pairs, client)
}

/// The method actually used on the wire: a secret-based method without a secret degrades to
/// `none` rather than sending an empty password.
fn effective_method(client: &ClientRegistration) -> ClientAuthMethod {
    match (client.auth_method, &client.client_secret) {
        (ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost, Some(_)) => {
            client.auth_method
        }
        _ => ClientAuthMethod::None,
    }
}

/// Builds a form `POST` with the client's authentication appended (RFC 6749 §2.3.1): `none`
/// puts `client_id` in the form (RFC 6749 §4.1.3 requires it for unauthenticated clients);
/// `client_secret_basic` sends only the `Authorization: Basic` header; `client_secret_post` puts
/// `client_id` and `client_secret` in the form. Exactly one method per request ("The client MUST
/// NOT use more than one authentication method in each request"). Shared with revocation,
/// which must use the token endpoint's authentication (RFC 7009 §2.1).
pub(crate) fn authenticated_form<'a>(
    url: &str,
    mut pairs: Vec<(&'a str, &'a str)>,
    client: &'a ClientRegistration,
) -> HttpRequest {
    let secret = client.client_secret.as_ref().map(|s| s.expose_secret());
    let method = effective_method(client);
    match (method, secret) {
        (ClientAuthMethod::ClientSecretPost, Some(secret)) => {
            pairs.push(("client_id", &client.client_id));
            pairs.push(("client_secret", secret));
        }
        (ClientAuthMethod::ClientSecretBasic, Some(_)) => {}
        _ => pairs.push(("client_id", &client.client_id)),
    }
    let mut req = HttpRequest::post_form(url, &pairs);
    if let (ClientAuthMethod::ClientSecretBasic, Some(secret)) = (method, secret) {
        req.headers.push((
            "Authorization".into(),
            basic_authorization(&client.client_id, secret),
        ));
    }
    req
}

/// `Basic base64(form_urlencode(id) ":" form_urlencode(secret))` (RFC 6749 §2.3.1 and
/// Appendix B): the encoding step keeps a `:` inside the id from splitting user and password.
/// Form encoding maps space to `+`, `%` to `%25` and `:` to `%3A` (Appendix B's example).
pub fn basic_authorization(client_id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", enc(client_id), enc(secret));
    format!("Basic {}", STANDARD.encode(pair.as_bytes()))
}

/// A successful token response (RFC 6749 §5.1). `Debug` is safe: the tokens are secret types.
#[derive(Debug, Clone)]
pub struct TokenResponse {
    /// `access_token`, already checked to be safe in an `Authorization` header (§5 item 17).
    pub access_token: AccessToken,
    /// `token_type`, matched case-insensitively (RFC 6749 §5.1).
    pub token_type: TokenType,
    /// `refresh_token`, if issued (never assumed, T6).
    pub refresh_token: Option<RefreshToken>,
    /// `expires_in` seconds; `Some(0)` means already expired, `None` means unknown.
    pub expires_in: Option<u64>,
    /// The granted `scope`, if the AS said (RFC 6749 §3.3: it may differ from the request).
    pub scope: Option<String>,
}

impl TokenResponse {
    /// Converts to the persisted form with an absolute expiry (`now_wall + expires_in`, so a
    /// token outlives process restarts). A refresh response without a new refresh token keeps
    /// the previous one (T7: only a rotated token replaces it).
    pub fn into_token_set(self, now_wall: u64, previous_refresh: Option<RefreshToken>) -> TokenSet {
        TokenSet {
            access_token: self.access_token,
            token_type: self.token_type,
            refresh_token: self.refresh_token.or(previous_refresh),
            expires_at: self.expires_in.map(|e| now_wall.saturating_add(e)),
            dpop_key: None,
        }
    }
}

/// Parses a token endpoint response for `step` (`TokenExchange` or `Refresh`).
///
/// Only `200` is success (RFC 6749 §5.1); anything else goes through [`error_from_response`].
/// A `200` body carrying `error` is still an error (spec-checklist §6.6). Field rules: see
/// spec-checklist §6.6 and the private helpers below. Error details name fields, never values.
pub fn parse_token_response(resp: &HttpResponse, step: Step) -> Result<TokenResponse, Error> {
    let doc = success_document(resp, step)?;
    let access_token = required_access_token(&doc, step)?;
    check_access_token(access_token)?;
    let malformed = |detail: &str| Error::Malformed {
        step,
        detail: detail.into(),
    };
    let token_type = parse_token_type(doc.get("token_type"))?;
    let refresh_token = match doc.get("refresh_token") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(RefreshToken::new(s.clone())),
        Some(_) => return Err(malformed("refresh_token is not a string")),
    };
    let expires_in = uint_field(&doc, "expires_in", step)?;
    let scope = match doc.get("scope") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        // Some servers send a JSON array; the meaning is unambiguous, so accept it.
        Some(Value::Array(items)) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => parts.push(s.as_str()),
                    _ => return Err(malformed("scope is not a string")),
                }
            }
            Some(parts.join(" "))
        }
        Some(_) => return Err(malformed("scope is not a string")),
    };
    Ok(TokenResponse {
        access_token: AccessToken::new(access_token),
        token_type,
        refresh_token,
        expires_in,
        scope,
    })
}

/// The token must go into `Authorization: <scheme> <token>` verbatim, so it must be non-empty
/// visible ASCII (RFC 9110 `field-vchar` minus obs-text): no CR/LF header injection, no spaces
/// that would split the credentials (spec-checklist §5 item 17, RFC 6750 §2.1). RFC 6750's
/// `b64token` is narrower; other visible characters are tolerated for interop.
fn check_access_token(token: &str) -> Result<(), Error> {
    if token.is_empty() {
        return Err(Error::InvalidToken("access_token is empty".into()));
    }
    if !token.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(Error::InvalidToken(
            "access_token contains whitespace, control or non-ASCII characters".into(),
        ));
    }
    Ok(())
}

/// RFC 6749 §5.1: REQUIRED and case-insensitive; §7.1: a client "MUST NOT use an access token
/// if it does not understand the token type", so unknown or missing types are refused.
fn parse_token_type(v: Option<&Value>) -> Result<TokenType, Error> {
    match v {
        Some(Value::String(s)) if s.eq_ignore_ascii_case("bearer") => Ok(TokenType::Bearer),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("dpop") => Ok(TokenType::DPoP),
        Some(Value::String(s)) => {
            let shown: String = sanitize_remote_text(s).chars().take(40).collect();
            Err(Error::InvalidToken(format!(
                "unsupported token_type {shown:?}"
            )))
        }
        Some(_) => Err(Error::InvalidToken("token_type is not a string".into())),
        None => Err(Error::InvalidToken("token_type missing".into())),
    }
}

/// Turns any non-success response into the most specific error: a body with a string `error`
/// (RFC 6749 §5.2, §4.1.2.1; RFC 7591 §3.2.2; RFC 7009 §2.2.1) becomes [`Error::OAuth`] with a
/// sanitised description; anything else is [`Error::HttpStatus`]; oversize bodies are
/// [`Error::ResponseTooLarge`]. Used by every step.
pub fn error_from_response(resp: &HttpResponse, step: Step) -> Error {
    if resp.body.len() > MAX_RESPONSE_BYTES {
        return Error::ResponseTooLarge { step };
    }
    let status = Error::HttpStatus {
        step,
        status: resp.status,
    };
    match response_document(resp, step) {
        Ok(doc) => match oauth_error_in(&doc, step) {
            Ok(Some(err)) => err,
            _ => status,
        },
        Err(_) => status,
    }
}

/// The `error` member of a response document: `Ok(None)` when absent, `null` or empty;
/// [`Error::OAuth`] when a non-empty string; `Malformed` for any other JSON type.
/// The JSON object of a token-endpoint success (RFC 6749 §5.1; RFC 8693 §2.2.1): size cap, then
/// status (anything but 200 goes through [`error_from_response`]), then an `error` member even
/// in a 200 (spec-checklist §6.6).
pub(crate) fn success_document(
    resp: &HttpResponse,
    step: Step,
) -> Result<Map<String, Value>, Error> {
    if resp.body.len() > MAX_RESPONSE_BYTES {
        return Err(Error::ResponseTooLarge { step });
    }
    if resp.status != 200 {
        return Err(error_from_response(resp, step));
    }
    let doc = response_document(resp, step)?;
    match oauth_error_in(&doc, step)? {
        Some(err) => Err(err),
        None => Ok(doc),
    }
}

/// The `access_token` member as a string (shape only; the caller checks the contents).
pub(crate) fn required_access_token(doc: &Map<String, Value>, step: Step) -> Result<&str, Error> {
    let malformed = |detail: &str| Error::Malformed {
        step,
        detail: detail.into(),
    };
    match doc.get("access_token") {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(malformed("access_token is not a string")),
        None => Err(malformed("access_token missing")),
    }
}

pub(crate) fn oauth_error_in(doc: &Map<String, Value>, step: Step) -> Result<Option<Error>, Error> {
    match doc.get("error") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(code)) => {
            let code = sanitize_remote_text(code);
            if code.is_empty() {
                return Ok(None);
            }
            let description = match doc.get("error_description") {
                Some(Value::String(d)) => Some(sanitize_remote_text(d)).filter(|d| !d.is_empty()),
                _ => None,
            };
            Ok(Some(Error::OAuth {
                step,
                code,
                description,
            }))
        }
        Some(_) => Err(Error::Malformed {
            step,
            detail: "error is not a string".into(),
        }),
    }
}

/// Reads a response body as an object: JSON by default, or `application/x-www-form-urlencoded`
/// when the `Content-Type` says so (some ASes answer in form encoding, spec-checklist §6.6).
/// Repeated form parameters are refused (OAuth 2.1 §3.1), and form values are strings.
pub(crate) fn response_document(
    resp: &HttpResponse,
    step: Step,
) -> Result<Map<String, Value>, Error> {
    if resp.body.len() > MAX_RESPONSE_BYTES {
        return Err(Error::ResponseTooLarge { step });
    }
    let malformed = |detail: &str| Error::Malformed {
        step,
        detail: detail.into(),
    };
    let is_form = resp.header("content-type").is_some_and(|ct| {
        ct.split(';').next().is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    });
    if is_form {
        let mut map = Map::new();
        for (k, v) in form_urlencoded::parse(&resp.body) {
            if map
                .insert(k.into_owned(), Value::String(v.into_owned()))
                .is_some()
            {
                return Err(malformed("form body repeats a parameter"));
            }
        }
        return Ok(map);
    }
    match serde_json::from_slice::<Value>(&resp.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(malformed("body is not a JSON object")),
        Err(_) => Err(malformed("body is not valid JSON")),
    }
}

/// A non-negative integer member (`expires_in`, `client_secret_expires_at`). Accepts a JSON
/// integer, an integral float (`3600.0`), or a string of ASCII digits (Entra ID sends
/// `"5250"`). `null`/absent → `None`. Negative, fractional, `"3600abc"`, `"+5"`, `""` or
/// overflowing values → `Malformed` naming the field.
pub(crate) fn uint_field(
    doc: &Map<String, Value>,
    name: &str,
    step: Step,
) -> Result<Option<u64>, Error> {
    let bad = || Error::Malformed {
        step,
        detail: format!("{name} is not a non-negative integer"),
    };
    match doc.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                return Ok(Some(u));
            }
            match n.as_f64() {
                // 2^64 is exactly representable; anything below it converts without loss of
                // meaning for an expiry.
                Some(f)
                    if f.is_finite()
                        && f >= 0.0
                        && f.fract() == 0.0
                        && f < 18_446_744_073_709_551_616.0 =>
                {
                    Ok(Some(f as u64))
                }
                _ => Err(bad()),
            }
        }
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<u64>().map(Some).map_err(|_| bad())
        }
        Some(_) => Err(bad()),
    }
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
