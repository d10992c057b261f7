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

use mcp_oauth_core::{HttpRequest, HttpResponse, Method, UrlPolicy, MAX_RESPONSE_BYTES};

use crate::resolve::{env_proxy_hosts, PolicyResolver};
use crate::AdapterError;

/// A boxed, `Send` future: the shape of every plug-in point of this crate (HTTP client,
/// browser), so hosts can implement them without an async-trait macro.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The message of the error reported when a body exceeds [`MAX_RESPONSE_BYTES`].
pub const RESPONSE_TOO_LARGE: &str = "response too large";

/// Sends one request. Hosts plug in their own client (a shared connection pool, custom TLS
/// roots, a test double) by implementing this trait.
///
/// Contract: do not follow redirects; return every status (3xx/4xx/5xx with their bodies) as
/// `Ok`; return `Err(one-line message)` only when no response arrived (DNS, connect, TLS,
/// timeout) or the body exceeded [`MAX_RESPONSE_BYTES`] ([`RESPONSE_TOO_LARGE`]). The message is
/// shown to users, so it must not contain the request body or an `Authorization` value.
/// A client should also screen the addresses a host name resolves to with
/// [`UrlPolicy::check_resolved`](mcp_oauth_core::UrlPolicy::check_resolved) (the default
/// client does): the core checks URLs, and only the client sees what a name resolves to.
///
/// ```
/// use mcp_oauth_core::{HttpRequest, HttpResponse};
/// use mcp_oauth_tokio::{BoxFuture, HttpClient};
///
/// /// Answers every request with 404 (a test double).
/// struct NotFound;
/// impl HttpClient for NotFound {
///     fn send<'a>(&'a self, _req: &'a HttpRequest) -> BoxFuture<'a, Result<HttpResponse, String>> {
///         Box::pin(async { Ok(HttpResponse::status(404)) })
///     }
/// }
/// ```
pub trait HttpClient: Send + Sync {
    /// Sends `req` and returns the response (any status) or a one-line failure message.
    fn send<'a>(&'a self, req: &'a HttpRequest) -> BoxFuture<'a, Result<HttpResponse, String>>;
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
        Self::build_with(connect_timeout, request_timeout, true, resolver)
            .map_err(AdapterError::Http)
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
        let client = builder.build().map_err(|e| one_line(&e))?;
        Ok(Self { client })
    }

    async fn execute(&self, req: &HttpRequest) -> Result<HttpResponse, String> {
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
        let mut response = builder.send().await.map_err(|e| one_line(&e))?;
        if response
            .content_length()
            .is_some_and(|len| len > MAX_RESPONSE_BYTES as u64)
        {
            return Err(RESPONSE_TOO_LARGE.into());
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
        while let Some(chunk) = response.chunk().await.map_err(|e| one_line(&e))? {
            if body.len().saturating_add(chunk.len()) > MAX_RESPONSE_BYTES {
                return Err(RESPONSE_TOO_LARGE.into());
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
    fn send<'a>(&'a self, req: &'a HttpRequest) -> BoxFuture<'a, Result<HttpResponse, String>> {
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

/// The error and its causes on one line, without the URL (authorization and callback URLs carry
/// secrets in their query; token endpoints should not, but the message is shown to users).
fn one_line(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_builder() {
        "invalid request"
    } else if e.is_body() || e.is_decode() {
        "reading the response failed"
    } else {
        "request failed"
    };
    let mut parts = vec![kind.to_owned()];
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts
        .join(": ")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
