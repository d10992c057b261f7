//! [`McpOAuthClient`]: rmcp's `StreamableHttpClient` with mcp-oauth's authorization on every
//! request (MCP 2025-11-25 "Authorization", §"Access Token Usage": the token goes on every HTTP
//! request, not once per session).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use mcp_oauth_core::{AuthStatus, AuthorizationHeader};
use mcp_oauth_tokio::{AdapterError, Authorizer};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::Sse;

/// The `DPoP` request header (RFC 9449 §4.1).
const DPOP: HeaderName = HeaderName::from_static("dpop");

/// Wraps an inner [`StreamableHttpClient`] (rmcp's reqwest client, or any other) so that every
/// `POST`, `GET` and `DELETE` of the Streamable HTTP transport carries the [`Authorizer`]'s
/// current `Authorization` header, plus a fresh `DPoP` proof when the token is DPoP-bound
/// (RFC 9449 §7.1).
///
/// Challenges are answered as the authorizer's rules say (ARCHITECTURE.md §4), then the request
/// is sent once more:
/// - [`StreamableHttpError::AuthRequired`] (HTTP 401): one refresh, then one re-authorization
///   when the configuration is interactive (RFC 6750 §3.1 `invalid_token`);
/// - [`StreamableHttpError::InsufficientScope`] (HTTP 403): a step-up authorization asking for
///   the union of scopes (RFC 6750 §3.1 `insufficient_scope`, MCP "Scope Challenge Handling").
///
/// With no usable token yet, a request goes out without `Authorization` so that its 401
/// challenge drives discovery and the login. Every other answer, success or error, is the inner
/// client's, untouched. When the authorizer cannot produce a token, the request fails with
/// [`StreamableHttpError::Io`] wrapping the [`AdapterError`];
/// [`authorization_error`](crate::authorization_error) gets it back.
///
/// One limit comes from the trait: rmcp's errors carry only the `WWW-Authenticate` value, not
/// the other response headers, so an MCP server's `DPoP-Nonce` (RFC 9449 §9) never reaches the
/// authorizer. DPoP works with servers that do not demand a resource nonce.
///
/// rmcp's own `auth_header` (from `StreamableHttpClientTransportConfig::auth_header`) is
/// ignored: rmcp sends it as `Bearer`, which is wrong for a DPoP-bound token, so the header
/// travels in the custom headers instead (rmcp reserves only `Accept`, `Mcp-Session-Id` and
/// `Last-Event-ID` there).
///
/// ```no_run
/// use std::sync::Arc;
/// use mcp_oauth_core::Config;
/// use mcp_oauth_rmcp::McpOAuthClient;
/// use mcp_oauth_tokio::{Authorizer, MemoryStore, Options};
/// use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
/// use rmcp::transport::StreamableHttpClientTransport;
/// use rmcp::ServiceExt;
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let url = "https://mcp.example.com/mcp";
/// let store = Arc::new(MemoryStore::new());
/// let authorizer = Authorizer::new(Config::new(url), Options::new(store)).await?;
/// let client = McpOAuthClient::new(authorizer, reqwest::Client::new());
/// let transport = StreamableHttpClientTransport::with_client(
///     client,
///     StreamableHttpClientTransportConfig::with_uri(url),
/// );
/// let service = ().serve(transport).await?; // logs in through the browser the first time
/// println!("{:?}", service.list_all_tools().await?);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct McpOAuthClient<C> {
    authorizer: Authorizer,
    inner: C,
}

impl<C> McpOAuthClient<C> {
    /// Authorizes the requests of `inner` with `authorizer`.
    pub fn new(authorizer: Authorizer, inner: C) -> Self {
        Self { authorizer, inner }
    }

    /// The authorizer (status, session, request counts, logout).
    pub fn authorizer(&self) -> &Authorizer {
        &self.authorizer
    }

    /// The wrapped client.
    pub fn inner(&self) -> &C {
        &self.inner
    }
}

/// `AdapterError` as the transport's error: [`StreamableHttpError::Io`] keeps it as the source.
fn auth_failure<E>(e: AdapterError) -> StreamableHttpError<E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    StreamableHttpError::Io(std::io::Error::other(e))
}

impl<C: StreamableHttpClient> McpOAuthClient<C> {
    /// `base` with the authorizer's `Authorization` (and `DPoP` proof for `method` on `uri`)
    /// in place of any the caller put there; with neither when `used` is `None`.
    fn headers(
        &self,
        base: &HashMap<HeaderName, HeaderValue>,
        used: Option<&AuthorizationHeader>,
        method: &str,
        uri: &str,
    ) -> Result<HashMap<HeaderName, HeaderValue>, StreamableHttpError<C::Error>> {
        let invalid = |what: &str| {
            StreamableHttpError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the {what} is not a valid HTTP header value"),
            ))
        };
        let mut headers = base.clone();
        headers.remove(&DPOP);
        headers.remove(&http::header::AUTHORIZATION);
        let Some(used) = used else {
            return Ok(headers);
        };
        let mut value = HeaderValue::from_str(used.expose_secret())
            .map_err(|_| invalid("Authorization header"))?;
        value.set_sensitive(true);
        headers.insert(http::header::AUTHORIZATION, value);
        if let Some(proof) = self.authorizer.dpop_proof(method, uri) {
            let proof = HeaderValue::from_str(&proof).map_err(|_| invalid("DPoP proof"))?;
            headers.insert(DPOP, proof);
        }
        Ok(headers)
    }

    /// No token, and none being obtained.
    fn without_token(&self) -> bool {
        matches!(
            self.authorizer.status(),
            AuthStatus::AuthorizationRequired { .. } | AuthStatus::Failed { .. }
        )
    }

    /// The header for the next request, or `None` to send it without one: with no usable token
    /// the first request goes out bare, so that the server's 401 challenge (its
    /// `resource_metadata`, `scope` and scheme, RFC 9728 §5.1, RFC 9449 §7.1) drives the login,
    /// as MCP 2025-11-25 "Authorization Server Discovery" describes.
    async fn current(&self) -> Result<Option<AuthorizationHeader>, StreamableHttpError<C::Error>> {
        match self.without_token() {
            true => Ok(None),
            false => self
                .authorizer
                .header()
                .await
                .map(Some)
                .map_err(auth_failure),
        }
    }

    /// Sends through `send` with the current authorization; on a 401 or 403 challenge lets the
    /// authorizer recover (refresh, re-authorize, step up) and sends once more.
    async fn authorized<T, F, Fut>(
        &self,
        method: &str,
        uri: &str,
        base: HashMap<HeaderName, HeaderValue>,
        mut send: F,
    ) -> Result<T, StreamableHttpError<C::Error>>
    where
        F: FnMut(HashMap<HeaderName, HeaderValue>) -> Fut,
        Fut: Future<Output = Result<T, StreamableHttpError<C::Error>>>,
    {
        let used = self.current().await?;
        let result = send(self.headers(&base, used.as_ref(), method, uri)?).await;
        let (status, challenge) = match &result {
            Ok(_) => {
                if used.is_some() {
                    self.authorizer.request_succeeded().await;
                }
                return result;
            }
            Err(StreamableHttpError::AuthRequired(e)) => (401, e.www_authenticate_header.clone()),
            Err(StreamableHttpError::InsufficientScope(e)) => {
                (403, e.www_authenticate_header.clone())
            }
            Err(_) => return result,
        };
        let challenge = [challenge];
        let recovered = match &used {
            Some(used) => {
                (self.authorizer)
                    .handle_response_for(used, status, &challenge)
                    .await
            }
            None if self.without_token() => {
                self.authorizer.handle_response(status, &challenge).await
            }
            // Another request's challenge started a login since this one went out bare: retry
            // with its token rather than report this challenge too, which the core would take
            // as a refusal of that new token.
            None => Ok(()),
        };
        recovered.map_err(auth_failure)?;
        let used = self.authorizer.header().await.map_err(auth_failure)?;
        let result = send(self.headers(&base, Some(&used), method, uri)?).await;
        if result.is_ok() {
            self.authorizer.request_succeeded().await;
        }
        result
    }
}

type PostResult<E> = Result<StreamableHttpPostResponse, StreamableHttpError<E>>;
type StreamResult<E> = Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<E>>;

impl<C> StreamableHttpClient for McpOAuthClient<C>
where
    C: StreamableHttpClient + Sync,
{
    type Error = C::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> PostResult<C::Error> {
        let inner = &self.inner;
        self.authorized("POST", &uri, custom_headers, |headers| {
            inner.post_message(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                None,
                headers,
            )
        })
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> PostResult<C::Error> {
        let inner = &self.inner;
        self.authorized("POST", &uri, custom_headers, |headers| {
            inner.post_message_with_max_sse_event_size(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                None,
                headers,
                max_sse_event_size,
            )
        })
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> PostResult<C::Error> {
        let inner = &self.inner;
        self.authorized("POST", &uri, custom_headers, |headers| {
            inner.post_message_with_response_limits(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                None,
                headers,
                limits,
            )
        })
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<C::Error>> {
        let inner = &self.inner;
        self.authorized("DELETE", &uri, custom_headers, |headers| {
            inner.delete_session(uri.clone(), session_id.clone(), None, headers)
        })
        .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> StreamResult<C::Error> {
        let inner = &self.inner;
        self.authorized("GET", &uri, custom_headers, |headers| {
            inner.get_stream(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                None,
                headers,
            )
        })
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> StreamResult<C::Error> {
        let inner = &self.inner;
        self.authorized("GET", &uri, custom_headers, |headers| {
            inner.get_stream_with_max_sse_event_size(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                None,
                headers,
                max_sse_event_size,
            )
        })
        .await
    }
}
