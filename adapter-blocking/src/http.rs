//! The HTTP effect: send the core's [`HttpRequest`] and hand back an [`HttpResponse`].
//!
//! The adapter never interprets a response: any status, 3xx included, goes back to the core,
//! which decides what a redirect or an error body means. What the client must guarantee is
//! transport hygiene: no redirects followed, a connect and an overall timeout, a body read that
//! stops at [`MAX_RESPONSE_BYTES`], and only addresses the core's URL policy allows
//! (`oauth-core/src/url_policy.rs`).

use std::time::Duration;

use mcp_oauth_core::url_policy::HostRefused;
use mcp_oauth_core::{
    HttpRequest, HttpResponse, Method, TransportError, TransportErrorKind, UrlPolicy,
    MAX_RESPONSE_BYTES,
};

use ureq::unversioned::transport::{Connector, DefaultConnector};

use crate::resolve::PolicyResolver;

/// Sends one request. Hosts plug in their own client (a shared connection pool, custom TLS
/// roots, a test double) by implementing this trait; closures
/// `Fn(&HttpRequest) -> Result<HttpResponse, TransportError>` implement it too.
///
/// Contract: do not follow redirects; return every status (3xx/4xx/5xx with their bodies) as
/// `Ok`; return `Err` only when no response arrived, with the [`TransportErrorKind`] that says
/// why (DNS or connect, TLS, timeout, an address the policy refused), or when the body exceeded
/// [`MAX_RESPONSE_BYTES`] ([`TransportError::too_large`]). The message is shown to users, so it
/// must not contain the request body, a URL query or an `Authorization` value.
/// A client should also screen the addresses a host name resolves to with
/// [`UrlPolicy::check_resolved`](mcp_oauth_core::UrlPolicy::check_resolved) (the default
/// client does): the core checks URLs, and only the client sees what a name resolves to.
///
/// ```
/// use mcp_oauth_blocking::HttpClient;
/// use mcp_oauth_core::{HttpRequest, HttpResponse, TransportError, TransportErrorKind};
///
/// /// Answers every request with 404 (a test double).
/// struct NotFound;
/// impl HttpClient for NotFound {
///     fn send(&self, _req: &HttpRequest) -> Result<HttpResponse, TransportError> {
///         Ok(HttpResponse::status(404))
///     }
/// }
///
/// let client = |req: &HttpRequest| -> Result<HttpResponse, TransportError> {
///     if req.url.starts_with("https://down.example/") {
///         return Err(TransportError::new(TransportErrorKind::Connect, "connection refused"));
///     }
///     Ok(HttpResponse::status(if req.url.ends_with("/token") { 200 } else { 404 }))
/// };
/// let down = client.send(&HttpRequest::get_json("https://down.example/x")).unwrap_err();
/// assert_eq!(down.kind, TransportErrorKind::Connect);
/// assert_eq!(client.send(&HttpRequest::get_json("https://as.example/x")).unwrap().status, 404);
/// assert_eq!(NotFound.send(&HttpRequest::get_json("https://as.example/x")).unwrap().status, 404);
/// ```
pub trait HttpClient: Send + Sync {
    /// Sends `req` and returns the response (any status) or why none arrived.
    fn send(&self, req: &HttpRequest) -> Result<HttpResponse, TransportError>;

    /// Like [`send`](Self::send), giving up after `timeout` (what is left of the operation's
    /// network budget, `Config::operation_timeout`). The default ignores it and relies on the
    /// client's own timeouts; [`UreqClient`] applies it to the request.
    fn send_within(
        &self,
        req: &HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, TransportError> {
        let _ = timeout;
        self.send(req)
    }
}

impl<F> HttpClient for F
where
    F: Fn(&HttpRequest) -> Result<HttpResponse, TransportError> + Send + Sync,
{
    fn send(&self, req: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self(req)
    }
}

/// The default [`HttpClient`]: ureq 3 with rustls on the `ring` provider and the webpki roots,
/// no redirects, 4xx/5xx returned as responses, connect and overall timeouts, proxies from the
/// environment (`ALL_PROXY`/`HTTPS_PROXY`/`HTTP_PROXY`, honouring `NO_PROXY`), a body read
/// capped at [`MAX_RESPONSE_BYTES`], and every address a host name resolves to screened by a
/// [`UrlPolicy`] ([`UrlPolicy::check_resolved`]) before a connection is made. Through a proxy
/// the proxy resolves the target, so only the URL checks apply there.
#[derive(Clone)]
pub struct UreqClient {
    agent: ureq::Agent,
}

impl std::fmt::Debug for UreqClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UreqClient").finish_non_exhaustive()
    }
}

impl Default for UreqClient {
    /// 10 s to connect, 30 s overall (the adapter design's defaults).
    fn default() -> Self {
        Self::new(Duration::from_secs(10), Duration::from_secs(30))
    }
}

impl UreqClient {
    /// A client with these timeouts (the adapter default is 10 s to connect, 30 s overall).
    ///
    /// Resolved addresses are screened by the default [`UrlPolicy`]: public and loopback
    /// addresses only. [`with_policy`](Self::with_policy) takes the configuration's policy (an
    /// [`Authorizer`](crate::Authorizer) uses `Config::url_policy`).
    pub fn new(connect_timeout: Duration, request_timeout: Duration) -> Self {
        Self::with_policy(connect_timeout, request_timeout, UrlPolicy::default())
    }

    /// A client whose resolved addresses are screened by `policy`
    /// (`allow_private_networks` for servers on an internal network).
    pub fn with_policy(
        connect_timeout: Duration,
        request_timeout: Duration,
        policy: UrlPolicy,
    ) -> Self {
        Self::build_with(
            connect_timeout,
            request_timeout,
            true,
            PolicyResolver::new(policy, None),
            DefaultConnector::new(),
        )
    }

    /// Builds the client with the default policy. `env_proxy = false` is for tests that talk
    /// to 127.0.0.1 on machines whose environment names a proxy.
    #[cfg(test)]
    pub(crate) fn build(
        connect_timeout: Duration,
        request_timeout: Duration,
        env_proxy: bool,
    ) -> Self {
        Self::build_with(
            connect_timeout,
            request_timeout,
            env_proxy,
            PolicyResolver::new(UrlPolicy::default(), None),
            DefaultConnector::new(),
        )
    }

    /// Builds the client from its parts (tests pass a resolver with a fixed name table and a
    /// connector that refuses anything but loopback).
    pub(crate) fn build_with(
        connect_timeout: Duration,
        request_timeout: Duration,
        env_proxy: bool,
        resolver: PolicyResolver,
        connector: impl Connector,
    ) -> Self {
        let mut config = ureq::Agent::config_builder()
            // The core decides what a redirect means; 0 returns the 3xx as is.
            .max_redirects(0)
            // OAuth error bodies arrive on 4xx; the core parses them.
            .http_status_as_error(false)
            .timeout_connect(Some(connect_timeout))
            .timeout_global(Some(request_timeout))
            .user_agent(concat!("mcp-oauth/", env!("CARGO_PKG_VERSION")));
        if !env_proxy {
            config = config.proxy(None);
        }
        Self {
            agent: ureq::Agent::with_parts(config.build(), connector, resolver),
        }
    }

    fn execute(
        &self,
        req: &HttpRequest,
        timeout: Option<Duration>,
    ) -> Result<HttpResponse, ureq::Error> {
        let response = match req.method {
            Method::Get => {
                let mut builder = self.agent.get(req.url.as_str());
                for (name, value) in &req.headers {
                    builder = builder.header(name.as_str(), value.as_str());
                }
                if let Some(t) = timeout {
                    builder = builder.config().timeout_global(Some(t)).build();
                }
                builder.call()?
            }
            Method::Post => {
                let mut builder = self.agent.post(req.url.as_str());
                for (name, value) in &req.headers {
                    builder = builder.header(name.as_str(), value.as_str());
                }
                if let Some(t) = timeout {
                    builder = builder.config().timeout_global(Some(t)).build();
                }
                builder.send(req.body.as_slice())?
            }
        };
        let (parts, mut body) = response.into_parts();
        let headers = parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        // `limit` reads one byte past the cap to tell "exactly at" from "over".
        let body = body
            .with_config()
            .limit(MAX_RESPONSE_BYTES as u64)
            .read_to_vec()?;
        Ok(HttpResponse {
            status: parts.status.as_u16(),
            headers,
            body,
        })
    }
}

impl HttpClient for UreqClient {
    fn send(&self, req: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self.execute(req, None).map_err(|e| transport_error(&e))
    }

    fn send_within(
        &self,
        req: &HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, TransportError> {
        self.execute(req, Some(timeout))
            .map_err(|e| transport_error(&e))
    }
}

/// Sorts a ureq error into a [`TransportErrorKind`] with a one-line, user-facing message. The
/// URL is never included (authorization and callback URLs carry secrets in their query), and
/// [`TransportError::new`] drops control characters so a remote cannot forge log lines.
fn transport_error(e: &ureq::Error) -> TransportError {
    use TransportErrorKind as Kind;
    let (kind, text) = match e {
        ureq::Error::BodyExceedsLimit(_) => return TransportError::too_large(),
        ureq::Error::Timeout(t) => (Kind::Timeout, format!("timed out ({t})")),
        ureq::Error::HostNotFound => (Kind::Connect, "host not found".to_owned()),
        ureq::Error::ConnectionFailed => (Kind::Connect, "connection failed".to_owned()),
        // The resolver's refusal (resolve.rs): every address was outside the policy.
        ureq::Error::Io(io) if refused_by_policy(io) => (Kind::Refused, io.to_string()),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            (Kind::Timeout, format!("timed out: {io}"))
        }
        ureq::Error::Io(io) => (Kind::Connect, format!("connection failed: {io}")),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::TlsRequired => {
            (Kind::Tls, format!("TLS failed: {e}"))
        }
        // The message would quote the URL.
        ureq::Error::BadUri(_) => (Kind::Other, "invalid URL".to_owned()),
        ureq::Error::Http(_) => (
            Kind::Other,
            "invalid request (header name or value)".to_owned(),
        ),
        other => (Kind::Other, other.to_string()),
    };
    TransportError::new(kind, text)
}

/// True when `io` carries the core's [`HostRefused`] (the resolver screened every address).
fn refused_by_policy(io: &std::io::Error) -> bool {
    io.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<HostRefused>().is_some())
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
