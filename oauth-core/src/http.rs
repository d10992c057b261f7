//! The HTTP vocabulary shared by the core and its adapters.
//!
//! The core describes requests as data ([`HttpRequest`]) and receives responses as data
//! ([`HttpResponse`]); adapters move the bytes. Adapters never follow redirects: a 3xx comes back
//! to the core like any other status (ARCHITECTURE.md §2). `Debug` on a request never shows its
//! body or its `Authorization` header, because both carry secrets.

/// Responses larger than this are refused (ARCHITECTURE.md §7). Adapters should stop
/// reading at this size and report a [`TransportError`] of kind [`TransportErrorKind::TooLarge`]
/// via `HttpFailed`; the machine turns it into [`crate::Error::ResponseTooLarge`].
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// Identifies one `Fetch`; the response must come back with the same id. Stale ids are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// HTTP methods the OAuth flow uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET` (discovery, browser simulation).
    Get,
    /// `POST` (registration, token, revocation).
    Post,
}

impl Method {
    /// The method name as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// Which protocol step a request belongs to; used in errors and to count round trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Step {
    /// RFC 9728 protected resource metadata.
    ResourceMetadata,
    /// RFC 8414 / OIDC discovery.
    ServerMetadata,
    /// RFC 7591 dynamic client registration.
    Registration,
    /// The browser step (authorization request and callback).
    Authorization,
    /// Authorization code exchange (RFC 6749 §4.1.3).
    TokenExchange,
    /// Client credentials grant (RFC 6749 §4.4), the MCP
    /// `io.modelcontextprotocol/oauth-client-credentials` extension.
    ClientCredentials,
    /// JWT bearer assertion grant (RFC 7523 §2.1): workload identity, and the second step of
    /// enterprise-managed authorization (the ID-JAG presented to the MCP authorization server).
    JwtBearer,
    /// RFC 8693 token exchange at the enterprise identity provider (the first step of
    /// enterprise-managed authorization: an ID token exchanged for an ID-JAG).
    AssertionExchange,
    /// Refresh grant (RFC 6749 §6).
    Refresh,
    /// RFC 7009 revocation.
    Revocation,
}

impl Step {
    /// Short name for summaries and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::ResourceMetadata => "resource-metadata",
            Step::ServerMetadata => "server-metadata",
            Step::Registration => "registration",
            Step::Authorization => "authorization",
            Step::TokenExchange => "token",
            Step::ClientCredentials => "client-credentials",
            Step::JwtBearer => "jwt-bearer",
            Step::AssertionExchange => "assertion-exchange",
            Step::Refresh => "refresh",
            Step::Revocation => "revocation",
        }
    }
}

/// What kind of failure kept a response from arriving, so a host can tell a timeout from a
/// refused connection without parsing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connect or overall timeout passed.
    Timeout,
    /// No connection: the name did not resolve, or the connection was refused or reset.
    Connect,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// The body exceeded [`MAX_RESPONSE_BYTES`].
    TooLarge,
    /// The client's address policy refused every address the host name resolved to
    /// ([`crate::UrlPolicy::check_resolved`]); nothing was sent.
    Refused,
    /// Anything else (an invalid request, a broken response).
    Other,
}

impl TransportErrorKind {
    /// Short name for messages and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportErrorKind::Timeout => "timeout",
            TransportErrorKind::Connect => "connect",
            TransportErrorKind::Tls => "tls",
            TransportErrorKind::TooLarge => "too large",
            TransportErrorKind::Refused => "refused by the address policy",
            TransportErrorKind::Other => "other",
        }
    }
}

/// Why a request got no response: what an adapter's HTTP client returns instead of an
/// [`HttpResponse`], and what [`crate::Input::HttpFailed`] carries to the machine.
///
/// The message is shown to users: [`TransportError::new`] keeps only printable ASCII (so a
/// remote cannot forge log lines), and a client must never put the request body, a URL query
/// or an `Authorization` value in it. The machine sanitises it again on input.
///
/// ```
/// use mcp_oauth_core::{TransportError, TransportErrorKind};
///
/// let e = TransportError::new(TransportErrorKind::Timeout, "timed out after 30 s\r\n");
/// assert_eq!(e.kind, TransportErrorKind::Timeout);
/// assert_eq!(e.message, "timed out after 30 s");
/// assert_eq!(e.to_string(), "timeout: timed out after 30 s");
/// assert_eq!(TransportError::too_large().kind, TransportErrorKind::TooLarge);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransportError {
    /// What kind of failure.
    pub kind: TransportErrorKind,
    /// One line for users: printable ASCII, no secret.
    pub message: String,
}

impl TransportError {
    /// A failure of `kind`, its message reduced to printable ASCII.
    pub fn new(kind: TransportErrorKind, message: impl AsRef<str>) -> Self {
        Self {
            kind,
            message: crate::error::sanitize_remote_text(message.as_ref()),
        }
    }

    /// The body exceeded [`MAX_RESPONSE_BYTES`].
    pub fn too_large() -> Self {
        Self::new(TransportErrorKind::TooLarge, "response too large")
    }

    /// The same error with its message sanitised (public fields may hold anything).
    pub(crate) fn sanitized(self) -> Self {
        Self::new(self.kind, &self.message)
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for TransportError {}

/// A request the core wants sent.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// Absolute URL, already checked against the [`crate::UrlPolicy`].
    pub url: String,
    /// Header name/value pairs, in order.
    pub headers: Vec<(String, String)>,
    /// The body, if any (form or JSON, as `Content-Type` says).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A `GET` asking for JSON.
    pub fn get_json(url: impl Into<String>) -> Self {
        Self {
            method: Method::Get,
            url: url.into(),
            headers: vec![("Accept".into(), "application/json".into())],
            body: Vec::new(),
        }
    }

    /// A `POST` of an `application/x-www-form-urlencoded` body built from `pairs`.
    pub fn post_form(url: impl Into<String>, pairs: &[(&str, &str)]) -> Self {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            ser.append_pair(k, v);
        }
        Self {
            method: Method::Post,
            url: url.into(),
            headers: vec![
                (
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("Accept".into(), "application/json".into()),
            ],
            body: ser.finish().into_bytes(),
        }
    }

    /// A `POST` of a JSON body.
    pub fn post_json(url: impl Into<String>, body: &serde_json::Value) -> Self {
        Self {
            method: Method::Post,
            url: url.into(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Accept".into(), "application/json".into()),
            ],
            body: body.to_string().into_bytes(),
        }
    }

    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body decoded as form pairs (for tests and testbed servers).
    pub fn form_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let sensitive =
                    k.eq_ignore_ascii_case("authorization") || k.eq_ignore_ascii_case("dpop");
                (
                    k.as_str(),
                    if sensitive { "[redacted]" } else { v.as_str() },
                )
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &redact_query(&self.url))
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A response as the adapter received it (any status; bodies of 4xx/5xx included).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Header name/value pairs, in order; repeated headers appear repeatedly.
    pub headers: Vec<(String, String)>,
    /// The body (adapters cap it at [`MAX_RESPONSE_BYTES`]).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A response with a status and a JSON body.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// A response with a status and no body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// All values of a header (case-insensitive), e.g. several `WWW-Authenticate` fields.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A URL with its query replaced by `?[redacted]` (authorization URLs and callbacks carry
/// `state`, codes and challenges).
///
/// Public for whoever prints or logs such a URL: the core's own `Debug` output, the
/// `BrowserOutcome` of `mcp-oauth-store` (both adapters) and the testbed's request log.
///
/// ```
/// use mcp_oauth_core::http::redact_query;
///
/// assert_eq!(
///     redact_query("http://127.0.0.1:5/callback?code=c&state=s"),
///     "http://127.0.0.1:5/callback?[redacted]"
/// );
/// ```
pub fn redact_query(url: &str) -> String {
    match url.find('?') {
        Some(i) => format!("{}?[redacted]", &url[..i]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_body_and_authorization() {
        let mut r = HttpRequest::post_form("https://as.example/token", &[("code", "secret-code")]);
        r.headers
            .push(("Authorization".into(), "Basic c2VjcmV0".into()));
        let s = format!("{r:?}");
        assert!(!s.contains("secret-code"));
        assert!(!s.contains("c2VjcmV0"));
        assert!(s.contains("[redacted]"));
    }

    #[test]
    fn form_roundtrip_and_header_lookup() {
        let r = HttpRequest::post_form("https://x/t", &[("a", "b c"), ("d", "&=")]);
        assert_eq!(r.body, b"a=b+c&d=%26%3D");
        assert_eq!(
            r.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(r.form_pairs()[1], ("d".into(), "&=".into()));
    }

    #[test]
    fn every_step_has_its_own_name() {
        let steps = [
            Step::ResourceMetadata,
            Step::ServerMetadata,
            Step::Registration,
            Step::Authorization,
            Step::TokenExchange,
            Step::ClientCredentials,
            Step::JwtBearer,
            Step::AssertionExchange,
            Step::Refresh,
            Step::Revocation,
        ];
        let names: std::collections::BTreeSet<&str> = steps.iter().map(|s| s.as_str()).collect();
        assert_eq!(names.len(), steps.len(), "{names:?}");
        assert_eq!(Step::TokenExchange.as_str(), "token");
        assert_eq!(Step::ClientCredentials.as_str(), "client-credentials");
    }

    #[test]
    fn redacts_query() {
        assert_eq!(redact_query("https://a/b?code=1"), "https://a/b?[redacted]");
        assert_eq!(redact_query("https://a/b"), "https://a/b");
    }
}
