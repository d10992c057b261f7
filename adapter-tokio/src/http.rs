//! The HTTP effect: send the core's [`HttpRequest`] and hand back an [`HttpResponse`].
//!
//! The adapter never interprets a response: any status, 3xx included, goes back to the core,
//! which decides what a redirect or an error body means. What the client must guarantee is
//! transport hygiene: no redirects followed, a connect and an overall timeout, a body read that
//! stops at [`MAX_RESPONSE_BYTES`], and only addresses the core's URL policy allows
//! (`oauth-core/src/url_policy.rs`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Once;
use std::time::Duration;

use mcp_oauth_core::url_policy::HostRefused;
use mcp_oauth_core::{
    HttpRequest, HttpResponse, Method, TransportError, TransportErrorKind, UrlPolicy,
    MAX_RESPONSE_BYTES,
};

use crate::resolve::{env_proxy_hosts, PolicyResolver};
use crate::AdapterError;

/// A boxed, `Send` future: the shape of every plug-in point of this crate (HTTP client,
/// browser), so hosts can implement them without an async-trait macro.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one request. Hosts plug in their own client (a shared connection pool, custom TLS
/// roots, a test double) by implementing this trait.
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
/// use mcp_oauth_core::{HttpRequest, HttpResponse, TransportError, TransportErrorKind};
/// use mcp_oauth_tokio::{BoxFuture, HttpClient};
///
/// /// Answers every request with 404 (a test double).
/// struct NotFound;
/// impl HttpClient for NotFound {
///     fn send<'a>(
///         &'a self,
///         _req: &'a HttpRequest,
///     ) -> BoxFuture<'a, Result<HttpResponse, TransportError>> {
///         Box::pin(async { Ok(HttpResponse::status(404)) })
///     }
/// }
///
/// /// Never reachable (a test double for a network outage).
/// struct Down;
/// impl HttpClient for Down {
///     fn send<'a>(
///         &'a self,
///         _req: &'a HttpRequest,
///     ) -> BoxFuture<'a, Result<HttpResponse, TransportError>> {
///         Box::pin(async {
///             Err(TransportError::new(TransportErrorKind::Timeout, "timed out"))
///         })
///     }
/// }
/// ```
pub trait HttpClient: Send + Sync {
    /// Sends `req` and returns the response (any status) or why none arrived.
    fn send<'a>(
        &'a self,
        req: &'a HttpRequest,
    ) -> BoxFuture<'a, Result<HttpResponse, TransportError>>;
}

/// The default [`HttpClient`]: reqwest 0.13 with rustls on the `ring` provider, no redirects,
/// connect and overall timeouts, proxies from the environment (and the OS where reqwest reads
/// them), a streaming body read capped at [`MAX_RESPONSE_BYTES`], and every address a host name
/// resolves to screened by a [`UrlPolicy`] ([`UrlPolicy::check_resolved`]) before a connection
/// is made. Through a proxy the proxy resolves the target, so only the URL checks apply there.
#[derive(Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
}

impl std::fmt::Debug for ReqwestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReqwestClient").finish_non_exhaustive()
    }
}

impl ReqwestClient {
    /// A client with these timeouts (the adapter default is 10 s to connect, 30 s overall).
    ///
    /// Resolved addresses are screened by the default [`UrlPolicy`]: public and loopback
    /// addresses only. [`with_policy`](Self::with_policy) takes the configuration's policy (an
    /// [`Authorizer`](crate::Authorizer) uses `Config::url_policy`).
    pub fn new(connect_timeout: Duration, request_timeout: Duration) -> Result<Self, AdapterError> {
        Self::with_policy(connect_timeout, request_timeout, UrlPolicy::default())
    }

    /// A client whose resolved addresses are screened by `policy`
    /// (`allow_private_networks` for servers on an internal network).
    pub fn with_policy(
        connect_timeout: Duration,
        request_timeout: Duration,
        policy: UrlPolicy,
    ) -> Result<Self, AdapterError> {
        let resolver = PolicyResolver::new(policy, None, env_proxy_hosts());
        Self::build_with(connect_timeout, request_timeout, true, resolver).map_err(|message| {
            AdapterError::Http(TransportError::new(TransportErrorKind::Other, message))
        })
    }

    /// Builds the client with the default policy. `env_proxy = false` is for tests that talk
    /// to 127.0.0.1 on machines whose environment names a proxy.
    #[cfg(test)]
    pub(crate) fn build(
        connect_timeout: Duration,
        request_timeout: Duration,
        env_proxy: bool,
    ) -> Result<Self, String> {
        let resolver = PolicyResolver::new(UrlPolicy::default(), None, Vec::new());
        Self::build_with(connect_timeout, request_timeout, env_proxy, resolver)
    }

    /// Builds the client around `resolver` (tests pass one with a fixed name table).
    pub(crate) fn build_with(
        connect_timeout: Duration,
        request_timeout: Duration,
        env_proxy: bool,
        resolver: PolicyResolver,
    ) -> Result<Self, String> {
        install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .dns_resolver(resolver)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .timeout(request_timeout)
            .user_agent(concat!("mcp-oauth/", env!("CARGO_PKG_VERSION")));
        if !env_proxy {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|e| transport_error(&e).message)?;
        Ok(Self { client })
    }

    async fn execute(&self, req: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
        };
        let mut builder = self.client.request(method, req.url.as_str());
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if req.method == Method::Post || !req.body.is_empty() {
            builder = builder.body(req.body.clone());
        }
        let mut response = builder.send().await.map_err(|e| transport_error(&e))?;
        if response
            .content_length()
            .is_some_and(|len| len > MAX_RESPONSE_BYTES as u64)
        {
            return Err(TransportError::too_large());
        }
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(&e))? {
            if body.len().saturating_add(chunk.len()) > MAX_RESPONSE_BYTES {
                return Err(TransportError::too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

impl HttpClient for ReqwestClient {
    fn send<'a>(
        &'a self,
        req: &'a HttpRequest,
    ) -> BoxFuture<'a, Result<HttpResponse, TransportError>> {
        Box::pin(self.execute(req))
    }
}

/// reqwest is built with `rustls-no-provider`, so a process-wide rustls provider must exist
/// before the first client is built. Installs `ring` once; a provider the host installed first
/// wins (the "already installed" error is expected then and ignored).
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Sorts a reqwest error into a [`TransportErrorKind`], with the error and its causes on one
/// line, without the URL (authorization and callback URLs carry secrets in their query; token
/// endpoints should not, but the message is shown to users). [`TransportError::new`] drops
/// control characters.
fn transport_error(e: &reqwest::Error) -> TransportError {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        causes.push(cause);
        source = cause.source();
    }
    // The resolver's refusal (resolve.rs) and TLS failures hide in the cause chain.
    if let Some(refused) = causes.iter().find(|c| is::<HostRefused>(**c)) {
        // "refusing to connect to <host>: <reason>" says it all.
        return TransportError::new(TransportErrorKind::Refused, refused.to_string());
    }
    let tls = causes.iter().any(|c| is::<rustls::Error>(*c));
    let (kind, label) = if e.is_timeout() {
        (TransportErrorKind::Timeout, "timed out")
    } else if tls {
        (TransportErrorKind::Tls, "TLS failed")
    } else if e.is_connect() {
        (TransportErrorKind::Connect, "connection failed")
    } else if e.is_builder() {
        (TransportErrorKind::Other, "invalid request")
    } else if e.is_body() || e.is_decode() {
        (TransportErrorKind::Other, "reading the response failed")
    } else {
        (TransportErrorKind::Other, "request failed")
    };
    let mut parts = vec![label.to_owned()];
    for cause in causes {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    TransportError::new(kind, parts.join(": "))
}

/// True when `cause` is a `T`, or an `io::Error` wrapping one (whose `source` skips it).
fn is<T: std::error::Error + 'static>(cause: &(dyn std::error::Error + 'static)) -> bool {
    cause.downcast_ref::<T>().is_some()
        || cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|inner| inner.downcast_ref::<T>().is_some())
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
