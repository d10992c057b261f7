//! The token endpoint: authorization code exchange (RFC 6749 §4.1.3), refresh (RFC 6749 §6),
//! client authentication (RFC 6749 §2.3.1) and response parsing (RFC 6749 §5.1, §5.2).
//!
//! Also home of the pieces every other step reuses: [`error_from_response`] (the one OAuth
//! error-body parser), the client-authentication helper used by revocation, and the tolerant
//! response-document reader (JSON, or a form body when the AS insists).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::{is_transient_status, sanitize_remote_text, Error, Warning};
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

/// The longest access or refresh token accepted (bytes). The access token travels in an
/// `Authorization` header on every MCP request, and servers refuse large header sections (HTTP
/// 431, RFC 6585 §5; common limits are 8 to 16 KiB for all headers together); a token past
/// this cap is refused at the token endpoint with a clear error rather than by every request.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The longest `expires_in` taken as sent: 365 days. Longer lifetimes are capped (with a
/// [`Warning::ExpiresIn`]) so one absurd value cannot make a stored token look valid forever.
pub const MAX_EXPIRES_IN_SECS: u64 = 365 * 24 * 3600;

/// A successful token response (RFC 6749 §5.1). `Debug` is safe: the tokens are secret types.
#[derive(Debug, Clone)]
pub struct TokenResponse {
    /// `access_token`, already checked to be safe in an `Authorization` header (RFC 6750 §2.1).
    pub access_token: AccessToken,
    /// `token_type`, matched case-insensitively (RFC 6749 §5.1).
    pub token_type: TokenType,
    /// `refresh_token`, if issued (never assumed, T6).
    pub refresh_token: Option<RefreshToken>,
    /// `expires_in` seconds, between 1 and [`MAX_EXPIRES_IN_SECS`]; `None` means unknown
    /// (absent, or a value that could not be used: see `warnings`).
    pub expires_in: Option<u64>,
    /// The granted `scope`, if the AS said (RFC 6749 §3.3: it may differ from the request).
    pub scope: Option<String>,
    /// What was tolerated in the answer (an unusable `expires_in`), for the host to show.
    pub warnings: Vec<Warning>,
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
            obtained_at: Some(now_wall),
        }
    }

    /// Refuses a DPoP-bound token (`token_type` `DPoP`) when the request carried no DPoP proof
    /// (`proof_sent`): the client has no key it is bound to, so every use would be an
    /// `Authorization: DPoP` header without the proof RFC 9449 §7.1 requires. A `Bearer` answer
    /// to a request with a proof is fine (RFC 9449 §5: the AS may not support DPoP).
    pub fn check_binding(&self, step: Step, proof_sent: bool) -> Result<(), Error> {
        if self.token_type == TokenType::DPoP && !proof_sent {
            return Err(Error::UnrequestedDpopToken { step });
        }
        Ok(())
    }
}

/// Parses a token endpoint response for `step` (`TokenExchange` or `Refresh`).
///
/// Only `200` is success (RFC 6749 §5.1); anything else goes through [`error_from_response`].
/// A `200` body carrying `error` is still an error. Tokens must be visible ASCII and at most
/// [`MAX_TOKEN_BYTES`]; `expires_in` never fails the answer (see [`TokenResponse::warnings`]).
/// Error details name fields, never values.
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
        Some(Value::String(s)) if s.len() > MAX_TOKEN_BYTES => {
            return Err(too_long("refresh_token", s.len()))
        }
        Some(Value::String(s)) => Some(RefreshToken::new(s.clone())),
        Some(_) => return Err(malformed("refresh_token is not a string")),
    };
    let mut warnings = Vec::new();
    let expires_in = match expires_in_field(doc.get("expires_in")) {
        Ok(e) => e,
        Err((e, detail)) => {
            warnings.push(Warning::ExpiresIn { step, detail });
            e
        }
    };
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
        warnings,
    })
}

fn too_long(field: &str, len: usize) -> Error {
    Error::InvalidToken(format!(
        "{field} is {len} bytes long, more than the {} KiB this client accepts",
        MAX_TOKEN_BYTES / 1024
    ))
}

/// `expires_in` as a lifetime (RFC 6749 §5.1, "the lifetime in seconds"), never an error:
/// servers send integers, floats (`3600.5`: truncated), digit strings (`"5250"`), zero,
/// negatives and absurd values. `Ok` for a usable or absent value; `Err` holds what to use
/// instead plus a warning detail: zero, negative or non-numeric → unknown (`None`), the token
/// then lives until a 401 says otherwise; more than [`MAX_EXPIRES_IN_SECS`] → capped.
fn expires_in_field(v: Option<&Value>) -> Result<Option<u64>, (Option<u64>, String)> {
    let unknown = |what: &str| {
        Err((
            None,
            format!("is {what}; the token lifetime is treated as unknown"),
        ))
    };
    let seconds: f64 = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(u), _) => u as f64,
            (None, Some(f)) => f,
            (None, None) => return unknown("not a number"),
        },
        Some(Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(f) if f.is_finite() && !s.trim().is_empty() => f,
            _ => return unknown("not a number"),
        },
        Some(_) => return unknown("not a number"),
    };
    // Exact for integers up to 2^53; beyond that the cap applies anyway.
    let whole = seconds.trunc();
    if whole.is_nan() || whole < 1.0 {
        return unknown(if seconds < 0.0 {
            "negative"
        } else if seconds == 0.0 {
            "zero"
        } else {
            "less than one second"
        });
    }
    if whole > MAX_EXPIRES_IN_SECS as f64 {
        return Err((
            Some(MAX_EXPIRES_IN_SECS),
            format!("is more than 365 days; capped at {MAX_EXPIRES_IN_SECS} seconds"),
        ));
    }
    Ok(Some(whole as u64))
}

/// The token must go into `Authorization: <scheme> <token>` verbatim, so it must be non-empty
/// visible ASCII (RFC 9110 `field-vchar` minus obs-text): no CR/LF header injection, no spaces
/// that would split the credentials (RFC 9110 §5.5, RFC 6750 §2.1). RFC 6750's
/// `b64token` is narrower; other visible characters are tolerated for interop.
fn check_access_token(token: &str) -> Result<(), Error> {
    if token.is_empty() {
        return Err(Error::InvalidToken("access_token is empty".into()));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(too_long("access_token", token.len()));
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

/// Turns any non-success response into the most specific error. The status decides first: a
/// 5xx or 429 is [`Error::HttpStatus`] (transient) whatever its body says, since OAuth error
/// codes are answered with 400 or 401 (RFC 6749 §5.2; RFC 7591 §3.2.2; RFC 7009 §2.2.1) and a
/// `{"error": "invalid_grant"}` from an overloaded proxy or a failing backend must not make the
/// client forget its refresh token. Otherwise a body with a string `error` becomes
/// [`Error::OAuth`] with a sanitised description, anything else [`Error::HttpStatus`];
/// oversize bodies are [`Error::ResponseTooLarge`]. Used by every step.
pub fn error_from_response(resp: &HttpResponse, step: Step) -> Error {
    if resp.body.len() > MAX_RESPONSE_BYTES {
        return Error::ResponseTooLarge { step };
    }
    let status = Error::HttpStatus {
        step,
        status: resp.status,
    };
    if is_transient_status(resp.status) {
        return status;
    }
    match response_document(resp, step) {
        Ok(doc) => match oauth_error_in(&doc, step) {
            Ok(Some(err)) => err,
            _ => status,
        },
        Err(_) => status,
    }
}

/// The JSON object of a token-endpoint success (RFC 6749 §5.1; RFC 8693 §2.2.1): size cap, then
/// status (anything but 200 goes through [`error_from_response`]), then an `error` member even
/// in a 200 (some servers answer errors with 200).
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

/// The `error` member of a response document: `Ok(None)` when absent, `null` or empty;
/// [`Error::OAuth`] when a non-empty string; `Malformed` for any other JSON type.
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
/// when the `Content-Type` says so (some ASes answer in form encoding).
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

/// A non-negative integer member (`client_secret_expires_at`). Accepts a JSON
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

#[cfg(test)]
#[path = "token_robust_tests.rs"]
mod robust_tests;
